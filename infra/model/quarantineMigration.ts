// Earlier versions kept the quarantine store in `<prefix>-jail`, when "jail" meant both the whole
// stack and that volume. The stack now keeps it in `<prefix>-quarantine` and, once, before the
// warden first starts, copies an old volume of its own stack into the new one, checks the copy
// (names, types, modes, owners, symlink targets and every file's sha256) and leaves the old volume
// where it was: nothing quarantined and no audit line is lost, and the operator removes the old
// volume when satisfied. The script is the single source: the stack runs it on the Docker host.
import { STACK_LABEL } from './types';
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
  /** An image with a POSIX shell and GNU coreutils and findutils: the base of the warden's. */
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

/** What runs inside the helper container, the old volume read-only at /from, the new at /to. */
function copyScript(): string {
  return [
    'set -eu',
    // Subshells, so that the cd stays inside.
    `tree() ( cd "$1" && find . ${PRUNE} -printf '%p\\t%y\\t%m\\t%U\\t%G\\t%l\\n' | LC_ALL=C sort | sha256sum )`,
    `sums() ( cd "$1" && find . ${PRUNE} -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum )`,
    `if [ -e /to/${MIGRATED_MARKER} ]; then echo 'clawjail-migration: done-before'; exit 0; fi`,
    // Our own copy, cut short: start again from nothing. Anything else there is not ours to wipe.
    `if [ -e /to/${MIGRATING_MARKER} ]; then find /to -mindepth 1 -delete; fi`,
    'if [ -n "$(ls -A /to)" ]; then',
    '  echo "both $FROM and $TO hold a quarantine store: nothing copied. Look at both (docker run --rm -v $FROM:/q:ro ...), keep what you need in $TO, then remove $FROM (docker volume rm $FROM)" >&2',
    '  exit 3',
    'fi',
    `printf '%s\\n' "$FROM" > /to/${MIGRATING_MARKER}`,
    'cp -a /from/. /to/',
    'if [ "$(tree /from)" != "$(tree /to)" ]; then echo "the copy of $FROM in $TO differs in names, types, modes or owners: $FROM is untouched; run pulumi up again to copy it afresh" >&2; exit 4; fi',
    'if [ "$(sums /from)" != "$(sums /to)" ]; then echo "the copy of $FROM in $TO differs in content: $FROM is untouched; run pulumi up again to copy it afresh" >&2; exit 4; fi',
    'sync',
    `mv /to/${MIGRATING_MARKER} /to/${MIGRATED_MARKER}`,
    `chown "$(stat -c %u:%g /to)" /to/${MIGRATED_MARKER}`,
    `chmod 0400 /to/${MIGRATED_MARKER}`,
    'sync',
    `echo "clawjail-migration: copied $(cd /to && find . ${PRUNE} -type f -printf x | wc -c)"`,
  ].join('\n');
}

/** The script for the Docker host: does nothing unless the old volume exists and is this stack's. */
export function quarantineMigrationScript(m: QuarantineMigration): string {
  if (m.from === m.to) throw new Error(`the old and the new quarantine volume are both ${m.from}`);
  const from = shellQuote(m.from);
  const to = shellQuote(m.to);
  return [
    'set -eu',
    `if ! docker volume inspect ${from} >/dev/null 2>&1; then echo 'clawjail-migration: none'; exit 0; fi`,
    // A volume of that name that another stack (or anyone) made is not ours to copy.
    `owner=$(docker volume inspect --format '{{index .Labels ${JSON.stringify(STACK_LABEL)}}}' ${from})`,
    `if [ "$owner" != ${shellQuote(m.namePrefix)} ]; then echo 'clawjail-migration: not-ours'; exit 0; fi`,
    // Root with only what copying another uid's 0400 files with their owners takes; no network,
    // read-only root (sort spills to the /tmp tmpfs); the old volume read-only.
    [
      'docker run --rm --network none --read-only --user 0:0 --cap-drop ALL',
      '--cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add DAC_READ_SEARCH --cap-add FOWNER',
      '--security-opt no-new-privileges --log-driver none --tmpfs /tmp:rw,noexec,nosuid,nodev,size=64m',
      `-e FROM=${from} -e TO=${to}`,
      `--mount type=volume,source=${from},target=/from,readonly --mount type=volume,source=${to},target=/to`,
      `--entrypoint /bin/sh ${shellQuote(m.image)} -c ${shellQuote(copyScript())}`,
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
