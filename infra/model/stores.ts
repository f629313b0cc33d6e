// Capped stores: the workspace and the quarantine each live on a filesystem of their own, an ext4
// image of fixed size and inode count, loop-mounted on the Docker host over the directory Docker
// binds into the containers (the named volume's _data, or the workspaceHostPath). A prisoner's
// fallocate, file flood or inode flood then stops at the cap with ENOSPC, and the host's own disk
// (/var/lib/docker with it) keeps its free space; a quarantine filled by a flood of unscannable
// files stops the warden's quarantining, which the sentry answers by freezing the cell.
//
// Fail closed: the directory under the mount is emptied, made mode 000 and immutable, so that if
// the image is not mounted (a reboot before `pulumi up`, the mount undone by hand) nothing can be
// written there and the jail stops instead of writing to the host's disk uncapped.
//
// Pure: the scripts are rendered here; infra/components/stores.ts runs them on the jail's host
// (through the moat's runner: sh here, ssh for a remote host), and the end-to-end deployer runs
// the same scripts here.
import type { JailConfig } from '../config';
import { jailNames } from './names';
import { shellQuote } from './shell';
import { STACK_LABEL } from './types';

/** Where the images live: outside the trees a workspace may bind (/srv/clawjail/, /var/lib/clawjail/). */
export const STORE_ROOT = '/var/lib/clawjail-stores';

export interface CappedStore {
  /** The store's name, in messages and the image's file name. */
  name: 'workspace' | 'quarantine';
  /** The named volume whose directory it caps, or null for a host path. */
  volume: string | null;
  /** The host directory it caps when there is no volume (workspaceHostPath). */
  hostPath: string | null;
  image: string;
  sizeMb: number;
  inodes: number;
  /** Owner and mode of the filesystem's root: what the containers expect of the mount point. */
  owner: string;
  mode: string;
}

/** The stack's capped stores; none when both caps are 0. */
export function cappedStores(config: JailConfig): CappedStore[] {
  const names = jailNames(config);
  const dir = `${STORE_ROOT}/${config.namePrefix}`;
  const out: CappedStore[] = [];
  if (config.cell.workspaceSizeMb > 0) {
    const hostPath = config.cell.workspaceHostPath || null;
    out.push({
      name: 'workspace',
      volume: hostPath ? null : names.workspaceVolume,
      hostPath,
      image: `${dir}/workspace.img`,
      sizeMb: config.cell.workspaceSizeMb,
      inodes: config.cell.workspaceInodes,
      owner: '1000:1000',
      mode: '0755',
    });
  }
  if (config.warden.quarantineSizeMb > 0) {
    out.push({
      name: 'quarantine',
      volume: names.quarantineVolume,
      hostPath: null,
      image: `${dir}/quarantine.img`,
      sizeMb: config.warden.quarantineSizeMb,
      // the quarantine keeps two files an entry (the bytes, the record): one inode per 16 KiB
      inodes: config.warden.quarantineSizeMb * 64,
      owner: '1000:1000',
      mode: '0700',
    });
  }
  return out;
}

/**
 * The shell functions every script shares: where a store's directory is. `dockerHost`: the
 * engine the script's docker commands talk to (a local socket by its path; on an ssh host, that
 * host's own default).
 */
function prelude(dockerHost: string): string {
  return [
    'set -eu',
    ...(dockerHost.startsWith('unix://') ? [`export DOCKER_HOST=${shellQuote(dockerHost)}`] : []),
    'fail() { echo "clawjail stores: $*" >&2; exit 1; }',
    // store_dir VOLUME HOSTPATH: the directory Docker binds into the containers
    'store_dir() {',
    '  if [ -n "$1" ]; then docker volume inspect --format "{{.Mountpoint}}" "$1" || fail "no volume $1"',
    '  else printf "%s\\n" "$2"; fi',
    '}',
    // backing IMAGE_OF_DIR: the file behind the loop device mounted on DIR, or nothing
    'backing() {',
    '  src=$(findmnt -n -o SOURCE --mountpoint "$1" 2>/dev/null | tail -n 1) || return 0',
    '  [ -n "$src" ] || return 0',
    '  losetup -n -O BACK-FILE "$src" 2>/dev/null | sed "s/ *$//" || true',
    '}',
  ].join('\n');
}

/**
 * Makes each store's image (once), moves what its directory already holds into it (an earlier,
 * uncapped version: the stack's running containers are stopped for the move and started again),
 * and mounts it. Idempotent; a store mounted from another file, or an image of another size or
 * inode count, is refused, never changed.
 */
export function renderApplyScript(dockerHost: string, prefix: string, stores: CappedStore[]): string {
  const work = `${STORE_ROOT}/${prefix}/.work`;
  const lines = [prelude(dockerHost), `label=${shellQuote(`${STACK_LABEL}=${prefix}`)}`, `work=${shellQuote(work)}`, 'stopped=""', 'tmpmnt=""', 'newimg=""'];
  lines.push(
    // Whatever happens, nothing is left half done: a temporary mount undone, an image made by this
    // run and not mounted removed, and what was stopped started again.
    'cleanup() {',
    '  rc=$?',
    '  if [ -n "$tmpmnt" ]; then umount "$tmpmnt" 2>/dev/null || true; rmdir "$tmpmnt" 2>/dev/null || true; fi',
    '  if [ -n "$newimg" ] && [ "$rc" != 0 ]; then rm -f "$newimg"; fi',
    '  restart_stopped',
    '  exit "$rc"',
    '}',
    "trap cleanup EXIT",
    // the containers using a store's directory: by volume, or by the stack's label for a host path
    'users_of() {',
    '  if [ -n "$1" ]; then docker ps -q --filter "volume=$1" || fail "docker ps failed"',
    '  else docker ps -q --filter "label=$label" || fail "docker ps failed"; fi',
    '}',
    // Stopped one at a time, each with its own stop timeout, the cell first: a cell the sentry
    // froze is thawed by its stop, and must stop while the warden and the sentry still run.
    'stop_users() {',
    '  ids=$(users_of "$1") || exit 1',
    '  [ -n "$ids" ] || return 0',
    '  cells=""; others=""',
    '  for c in $ids; do',
    '    n=$(docker inspect --format "{{.Name}}" "$c") || fail "docker inspect failed"',
    '    case "$n" in */*-cell) cells="$cells $c";; *) others="$others $c";; esac',
    '  done',
    '  for c in $cells $others; do docker stop "$c" >/dev/null || fail "cannot stop $c"; stopped="$stopped $c"; done',
    '}',
    // Started again in the order the stack starts them: everything but the cell, the sentry
    // healthy, then the cell (the cell runs only while something can freeze it).
    'restart_stopped() {',
    '  [ -n "$stopped" ] || return 0',
    '  set +e',
    '  cells=""',
    '  for c in $(docker ps -aq --filter "label=$label" | tac); do',
    '    case " $stopped " in *" $c "*) ;; *) continue;; esac',
    '    n=$(docker inspect --format "{{.Name}}" "$c")',
    '    case "$n" in */*-cell) cells="$cells $c";; *) docker start "$c" >/dev/null;; esac',
    '  done',
    '  s=$(docker ps -q --filter "label=$label" --filter "name=-sentry$")',
    '  if [ -n "$s" ]; then i=0; while [ "$(docker inspect --format "{{.State.Health.Status}}" "$s")" != healthy ] && [ $i -lt 120 ]; do i=$((i+1)); sleep 1; done; fi',
    '  for c in $cells; do docker start "$c" >/dev/null; done',
    '  stopped=""',
    '  set -e',
    '}',
    'cap() {',
    '  name=$1 vol=$2 host=$3 img=$4 size=$5 inodes=$6 owner=$7 mode=$8',
    '  dir=$(store_dir "$vol" "$host")',
    '  [ -n "$dir" ] || fail "$name: no directory"',
    '  if [ -n "$host" ]; then mkdir -p "$dir"; fi',
    '  [ ! -L "$dir" ] || fail "$name: $dir is a symbolic link"',
    '  mkdir -p "$work"; chmod 0700 "$(dirname "$work")" "$work"',
    '  if mountpoint -q "$dir"; then',
    '    [ "$(backing "$dir")" = "$img" ] || fail "$name: $dir is a mount point, but not of $img"',
    '  else',
    '    chattr -i "$dir" 2>/dev/null || true',
    '    if [ -n "$(ls -A "$dir")" ]; then',
    // what an earlier, uncapped version left must fit, or nothing is touched
    '      used=$(du -sxk "$dir" | cut -f1) || fail "$name: cannot measure $dir"',
    '      files=$(find "$dir" -xdev | wc -l) || fail "$name: cannot count $dir"',
    '      [ "$used" -lt $((size * 1024 * 9 / 10)) ] || fail "$name: $dir holds $((used / 1024)) MiB, more than the capped store of $size MiB can take; raise the size or make room"',
    '      [ "$files" -lt "$inodes" ] || fail "$name: $dir holds $files entries, more than the $inodes inodes of the capped store; raise the count or make room"',
    '      inner=$(findmnt -rn -o TARGET | while read -r t; do case "$t" in "$dir"/*) echo "$t";; esac; done)',
    '      [ -z "$inner" ] || fail "$name: $dir has mounts inside it ($inner); undo them first"',
    '    fi',
    '    if [ ! -e "$img" ]; then',
    '      mkdir -p "$(dirname "$img")"; chmod 0700 "$(dirname "$img")"',
    '      rm -f "$img.new"; newimg="$img.new"',
    // reserved on the host's disk now (nodiscard: mkfs would punch the reservation out again), so
    // a full host disk cannot take from the store later, nor a full store from the host
    '      fallocate -l "${size}M" "$img.new"',
    '      mkfs.ext4 -q -F -m 0 -N "$inodes" -E "root_owner=$owner,nodiscard,lazy_itable_init=0,lazy_journal_init=0" -L "cj-$name" "$img.new"',
    // The inode tables initialised now (lazy_itable_init=0): left to the kernel, it zeroes them
    // after the first mount through the loop device, which punches holes in the reservation.
    // mke2fs zeroes some ranges by punching holes too: reserved again (fallocate keeps the data).
    '      fallocate -l "${size}M" "$img.new"',
    '      tmpmnt=$(mktemp -d -p "$work"); mount -o loop,nosuid,nodev "$img.new" "$tmpmnt"; rmdir "$tmpmnt/lost+found"; chmod "$mode" "$tmpmnt"; umount "$tmpmnt"; rmdir "$tmpmnt"; tmpmnt=""',
    '      mv "$img.new" "$img"; newimg="$img"',
    '    fi',
    // containers that bound the directory as it was must bind it again once the store is mounted
    '    stop_users "$vol"',
    '    if [ -n "$(ls -A "$dir")" ]; then',
    '      tmpmnt=$(mktemp -d -p "$work"); mount -o loop,nosuid,nodev "$img" "$tmpmnt"',
    '      [ -z "$(ls -A "$tmpmnt")" ] || fail "$name: both $dir and $img hold files; keep what you need of one and empty it"',
    '      cp -a "$dir/." "$tmpmnt/" || fail "$name: the copy into $img failed; nothing was removed"',
    // The copy checked before anything is removed (names, types, modes, owners, link targets,
    // bytes), each step on its own so that a failure is not a pipe's silent empty output.
    '      for side in a b; do',
    '        if [ $side = a ]; then from=$dir; else from=$tmpmnt; fi',
    '        (cd "$from" && find . -xdev -printf "%p %y %m %U %G %l\\n") > "$work/list.$side" || fail "$name: cannot list $from"',
    '        LC_ALL=C sort -T "$work" "$work/list.$side" > "$work/sorted.$side" || fail "$name: cannot sort the listing of $from"',
    '        (cd "$from" && find . -xdev -type f -print0) > "$work/files.$side" || fail "$name: cannot list the files of $from"',
    '        LC_ALL=C sort -z -T "$work" "$work/files.$side" > "$work/fsorted.$side" || fail "$name: cannot sort the files of $from"',
    '        (cd "$from" && xargs -0 -r md5sum < "$work/fsorted.$side") > "$work/sums.$side" || fail "$name: cannot hash the files of $from"',
    '      done',
    '      [ -s "$work/sorted.a" ] || fail "$name: the listing of $dir is empty"',
    '      cmp -s "$work/sorted.a" "$work/sorted.b" && cmp -s "$work/sums.a" "$work/sums.b" || fail "$name: the copy into $img differs from $dir; nothing was removed"',
    '      rm -f "$work"/list.* "$work"/sorted.* "$work"/files.* "$work"/fsorted.* "$work"/sums.*',
    '      umount "$tmpmnt"; rmdir "$tmpmnt"; tmpmnt=""',
    '      find "$dir" -xdev -mindepth 1 -delete',
    '    fi',
    '    chmod 000 "$dir"; chattr +i "$dir"',
    '    mount -o loop,nosuid,nodev "$img" "$dir"; newimg=""',
    '  fi',
    '  got=$(stat -c %s "$img"); [ "$got" = "$((size * 1048576))" ] || fail "$name: $img holds $((got / 1048576)) MiB, the stack asks for $size MiB; a capped store is not resized in place (move its files out, remove $img, run again)"',
    // mkfs rounds the inode count up to whole block groups: at least as many as asked is right
    '  got=$(df --output=itotal "$dir" | tail -n 1 | tr -d " "); [ "$got" -ge "$inodes" ] || fail "$name: $img has $got inodes, the stack asks for $inodes; a capped store is not changed in place"',
    // the reservation on the host's disk kept (a trim through the loop device punches holes)
    '  fallocate -l "${size}M" "$img"',
    '}',
  );
  for (const s of stores) {
    lines.push(['cap', s.name, s.volume ?? '', s.hostPath ?? '', s.image, String(s.sizeMb), String(s.inodes), s.owner, s.mode].map((a, i) => (i === 0 ? a : shellQuote(a))).join(' '));
  }
  return lines.join('\n') + '\n';
}

/** One line a store: `<name> capped <image> <MiB> <inodes>`, `<name> uncapped` or `<name> foreign <file>`. */
export function renderReadScript(dockerHost: string, stores: CappedStore[]): string {
  const lines = [prelude(dockerHost)];
  lines.push(
    'look() {',
    '  name=$1 vol=$2 host=$3 img=$4',
    '  dir=$(store_dir "$vol" "$host" 2>/dev/null) || { echo "$name uncapped"; return 0; }',
    '  if ! mountpoint -q "$dir" 2>/dev/null; then echo "$name uncapped"; return 0; fi',
    '  b=$(backing "$dir")',
    '  if [ "$b" != "$img" ]; then echo "$name foreign ${b:-?}"; return 0; fi',
    '  echo "$name capped $img $(( $(stat -c %s "$img") / 1048576 )) $(df --output=itotal "$dir" | tail -n 1 | tr -d " ")"',
    '}',
  );
  for (const s of stores) lines.push(['look', s.name, s.volume ?? '', s.hostPath ?? '', s.image].map((a, i) => (i === 0 ? a : shellQuote(a))).join(' '));
  return lines.join('\n') + '\n';
}

export type StoreState = { state: 'capped'; image: string; sizeMb: number; inodes: number } | { state: 'uncapped' } | { state: 'foreign'; source: string };

export function parseReadOutput(out: string): Record<string, StoreState> {
  const r: Record<string, StoreState> = {};
  for (const line of out.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [name, state, ...rest] = line.split(' ');
    if (state === 'uncapped') r[name] = { state };
    else if (state === 'foreign') r[name] = { state, source: rest.join(' ') };
    else if (state === 'capped' && rest.length === 3) r[name] = { state, image: rest[0], sizeMb: Number(rest[1]), inodes: Number(rest[2]) };
    else throw new Error(`unexpected line from the stores' read: ${JSON.stringify(line)}`);
  }
  return r;
}

/** Whether what was read is what the stores declare. */
export function storesInSync(stores: CappedStore[], live: Record<string, StoreState>): boolean {
  return stores.every((s) => {
    const l = live[s.name];
    // mkfs rounds the inode count up to whole block groups
    return l?.state === 'capped' && l.image === s.image && l.sizeMb === s.sizeMb && l.inodes >= s.inodes;
  });
}

/**
 * Undoes the caps and deletes the images, with what they hold: for the tests' teardown, and for an
 * operator who removes a stack's volumes for good (`docker volume rm` fails on a mounted store).
 */
export function renderReleaseScript(dockerHost: string, stores: CappedStore[]): string {
  const lines = [prelude(dockerHost)];
  lines.push(
    'release() {',
    '  vol=$1 host=$2 img=$3',
    '  dir=$(store_dir "$vol" "$host" 2>/dev/null) || dir=""',
    '  if [ -n "$dir" ] && [ -d "$dir" ]; then',
    '    while mountpoint -q "$dir"; do umount "$dir"; done',
    '    chattr -i "$dir" 2>/dev/null || true; chmod 0755 "$dir"',
    '  fi',
    '  rm -f "$img" "$img.new"',
    '}',
  );
  for (const s of stores) lines.push(['release', s.volume ?? '', s.hostPath ?? '', s.image].map(shellQuote).join(' '));
  return lines.join('\n') + '\n';
}

/**
 * Releases whatever stores a stack of this prefix may have capped (its two volumes), whatever its
 * settings were, and removes the prefix's image directory: the teardown of a stack's leftovers.
 */
export function renderReleasePrefixScript(dockerHost: string, prefix: string): string {
  const names = jailNames({ namePrefix: prefix, openclawVersion: '0.0.0' });
  const dir = `${STORE_ROOT}/${prefix}`;
  const stores = [
    { volume: names.workspaceVolume, image: `${dir}/workspace.img` },
    { volume: names.quarantineVolume, image: `${dir}/quarantine.img` },
  ].map((s) => ({ ...s, name: 'workspace' as const, hostPath: null, sizeMb: 0, inodes: 0, owner: '', mode: '' }));
  return renderReleaseScript(dockerHost, stores) + `rm -rf ${shellQuote(dir)}\n`;
}
