// Earlier versions kept the quarantine store in `<prefix>-jail`, when "jail" meant both the whole
// stack and that volume. The stack now keeps it in `<prefix>-quarantine` and, once, before the
// warden first starts, copies an old volume of its own stack into the new one, checks the copy
// (names, types, modes, owners, symlink targets and every file's sha256) and leaves the old volume
// where it was: nothing quarantined and no audit line is lost, and the operator removes the old
// volume when satisfied. The script is the single source: the stack runs it on the Docker host.
import { ROLE_LABEL, STACK_LABEL } from './types';
import { shellQuote } from './shell';

/** Where earlier versions kept the quarantine store. */
export const legacyQuarantineVolume = (namePrefix: string): string => `${namePrefix}-jail`;

/** In the new volume: the copy is complete and checked (its content: the old volume's name). */
export const MIGRATED_MARKER = '.migrated-from';
/** In the new volume: a copy is under way; a later run may wipe what it finds and copy again. */
export const MIGRATING_MARKER = '.migrating-from';

export interface QuarantineMigration {
  namePrefix: string;
  /** The old volume (legacyQuarantineVolume). */
  from: string;
  /** The stack's quarantine volume, created and not yet mounted by the warden. */
  to: string;
  /** An image with bash, GNU coreutils, diffutils and findutils: the base of the warden's. */
  image: string;
}

export type MigrationOutcome =
  /** No old volume, or one that is not this stack's: nothing to do. */
  | { outcome: 'none' | 'not-ours' }
  /** Copied and checked just now. */
  | { outcome: 'copied'; files: number }
  /** The new volume holds a checked copy from an earlier run. */
  | { outcome: 'done-before' };

const PRUNE = `-path ./${MIGRATED_MARKER} -prune -o -path ./${MIGRATING_MARKER} -prune -o`;

/** What runs inside the helper container (bash), the old volume read-only at /from, the new at /to. */
function copyScript(): string {
  return [
    // pipefail: a listing cut short (sort out of temporary space, find on an unreadable name)
    // must fail the check, never hash to the same empty value on both sides.
    'set -euo pipefail',
    `list() ( cd "$1" && find . ${PRUNE} -printf '%p\t%y\t%m\t%U\t%G\t%l\n' | LC_ALL=C sort )`,
    `sums() ( cd "$1" && find . ${PRUNE} -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum )`,
    // The markers are ours alone: an old store holding one (the old warden ran as the prisoner's
    // uid) could otherwise pass a partial copy off as a checked one.
    `for m in ${MIGRATED_MARKER} ${MIGRATING_MARKER}; do`,
    '  if [ -e "/from/$m" ] || [ -L "/from/$m" ]; then echo "$FROM holds $m, a name only the migration writes: nothing copied; look at it, then remove that entry from $FROM" >&2; exit 3; fi',
    'done',
    // Our own copy, cut short: start again from nothing. Anything else there is not ours to wipe.
    `if [ -e /to/${MIGRATING_MARKER} ] || [ -L /to/${MIGRATING_MARKER} ]; then find /to -mindepth 1 -delete; fi`,
    `if [ -e /to/${MIGRATED_MARKER} ]; then echo 'clawjail-migration: done-before'; exit 0; fi`,
    'if [ -n "$(ls -A /to)" ]; then',
    '  echo "both $FROM and $TO hold a quarantine store: nothing copied. Look at both (docker run --rm -v $FROM:/q:ro ...), keep what you need in $TO, then remove $FROM (docker volume rm $FROM)" >&2',
    '  exit 3',
    'fi',
    `printf '%s\n' "$FROM" > /to/${MIGRATING_MARKER}`,
    'cp -a /from/. /to/',
    'list /from > /tmp/from.list; list /to > /tmp/to.list',
    'if ! cmp -s /tmp/from.list /tmp/to.list; then',
    '  echo "the copy of $FROM in $TO differs in names, types, modes or owners ($FROM is untouched; a new pulumi up copies afresh):" >&2',
    '  diff /tmp/from.list /tmp/to.list | head -20 >&2 || true',
    '  exit 4',
    'fi',
    'sums /from > /tmp/from.sums; sums /to > /tmp/to.sums',
    'if ! cmp -s /tmp/from.sums /tmp/to.sums; then',
    '  echo "the copy of $FROM in $TO differs in content ($FROM is untouched; a new pulumi up copies afresh):" >&2',
    '  diff /tmp/from.sums /tmp/to.sums | head -20 >&2 || true',
    '  exit 4',
    'fi',
    'sync',
    // Written afresh, never through whatever name the copy may have left.
    `rm -f /to/${MIGRATED_MARKER}`,
    `printf '%s\n' "$FROM" > /to/${MIGRATED_MARKER}`,
    `chown -h "$(stat -c %u:%g /to)" /to/${MIGRATED_MARKER}`,
    `chmod 0400 /to/${MIGRATED_MARKER}`,
    `rm -f /to/${MIGRATING_MARKER}`,
    'sync',
    `echo "clawjail-migration: copied $(cd /to && find . ${PRUNE} -type f -printf x | wc -c)"`,
  ].join('\n');
}

/** The script for the Docker host: does nothing unless the old volume exists and is this stack's. */
export function quarantineMigrationScript(m: QuarantineMigration): string {
  if (m.from === m.to) throw new Error(`the old and the new quarantine volume are both ${m.from}`);
  const from = shellQuote(m.from);
  const to = shellQuote(m.to);
  const prefix = shellQuote(m.namePrefix);
  return [
    'set -eu',
    // Only "no such volume" means there is nothing to copy; any other failure (the engine, ssh)
    // fails the step, so that it runs again at the next pulumi up instead of being recorded done.
    `if ! out=$(docker volume inspect --format '{{index .Labels ${JSON.stringify(STACK_LABEL)}}}' ${from} 2>&1); then`,
    '  case "$out" in *"o such volume"*) echo \'clawjail-migration: none\'; exit 0 ;; esac',
    `  echo "cannot look up ${m.from}: $out" >&2; exit 1`,
    'fi',
    // A volume of that name that another stack (or anyone) made is not ours to copy.
    `if [ "$out" != ${prefix} ]; then echo 'clawjail-migration: not-ours'; exit 0; fi`,
    // The old warden still running on the old volume would go on writing there after the copy:
    // stop it (its container is replaced by this very update; the new warden's first walk scans
    // what the prisoner writes meanwhile). Anything else using the volume is not ours to stop.
    `docker ps --filter volume=${from} --format '{{.ID}}|{{.Label ${JSON.stringify(ROLE_LABEL)}}}|{{.Label ${JSON.stringify(STACK_LABEL)}}}|{{.Names}}' | while IFS='|' read -r id role stack name; do`,
    `  if [ "$role" = warden ] && [ "$stack" = ${prefix} ]; then docker stop "$id" >/dev/null; else echo "$name is using ${m.from}: stop it, then run pulumi up again" >&2; exit 5; fi`,
    'done',
    // Root with only what copying another uid's files with their owners and modes takes
    // (FSETID: setgid bits kept); no network, read-only root, bounded memory and pids; sort's
    // spill on a tmpfs; the old volume read-only. Named, so that two runs cannot overlap.
    [
      `docker run --rm --name ${shellQuote(`${m.to}-migration`)} --network none --read-only --user 0:0 --cap-drop ALL`,
      '--cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add DAC_READ_SEARCH --cap-add FOWNER --cap-add FSETID',
      '--security-opt no-new-privileges --log-driver none --memory 1g --pids-limit 64',
      '--tmpfs /tmp:rw,noexec,nosuid,nodev,size=2g',
      `-e FROM=${from} -e TO=${to}`,
      `--mount type=volume,source=${from},target=/from,readonly --mount type=volume,source=${to},target=/to`,
      `--entrypoint /bin/bash ${shellQuote(m.image)} -c ${shellQuote(copyScript())}`,
    ].join(' '),
  ].join('\n');
}

/** The outcome from the script's output (its last `clawjail-migration:` line). */
export function parseMigrationOutput(stdout: string): MigrationOutcome {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('clawjail-migration: '))
    .pop();
  const m = /^clawjail-migration: (none|not-ours|done-before|copied (\d+))$/.exec(line ?? '');
  if (!m) throw new Error(`the quarantine migration printed no outcome: ${JSON.stringify(stdout.slice(-500))}`);
  if (m[2] !== undefined) return { outcome: 'copied', files: Number(m[2]) };
  return { outcome: m[1] as 'none' | 'not-ours' | 'done-before' };
}
