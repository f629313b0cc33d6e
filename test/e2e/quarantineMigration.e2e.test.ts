// The copy of an earlier version's quarantine volume (`<prefix>-jail`) into `<prefix>-quarantine`,
// as the stack runs it on the real Docker engine: a store an old warden left (0400 files of uid
// 1000, a symlink, odd names, an audit log) arrives whole and is read by `clawjail quarantine`;
// the old volume is never changed; a second run copies nothing; a new volume that already holds
// a store is refused, not overwritten; a volume of that name that is not the stack's is left alone.
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { runDockerScript } from '../../infra/components/dockerCli';
import {
  MIGRATED_MARKER,
  MIGRATING_MARKER,
  legacyQuarantineVolume,
  parseMigrationOutput,
  quarantineMigrationScript,
  type MigrationOutcome,
} from '../../infra/model/quarantineMigration';
import { ROLE_LABEL, STACK_LABEL } from '../../infra/model';
import { REPO_ROOT } from '../../infra/paths';
import { inVolumes, LEGACY_ID, seedLegacyQuarantine } from './legacyQuarantine';
import { NODE_STANDIN } from './testJail';

jest.setTimeout(5 * 60_000);

const run = promisify(execFile);
const DOCKER_HOST = 'unix:///var/run/docker.sock';
const PREFIX = 'cjtest-mig';
const FROM = legacyQuarantineVolume(PREFIX);
const TO = `${PREFIX}-quarantine`;

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 64 << 20 })).stdout;
}

async function removeVolumes(): Promise<void> {
  for (const c of [`${PREFIX}-other`, `${PREFIX}-warden`]) await docker('rm', '-f', c).catch(() => undefined);
  for (const v of [FROM, TO]) await docker('volume', 'rm', '-f', v).catch(() => undefined);
}

/** Every name with its type, mode, owner and link target, and every file's sha256 (not the script's own check). */
const LISTING = `cd /v && find . -name '${MIGRATED_MARKER}' -prune -o -printf '%p|%y|%m|%U|%G|%l\\n' | LC_ALL=C sort && find . -type f ! -name '${MIGRATED_MARKER}' -exec sha256sum {} + | LC_ALL=C sort`;
const listing = (volume: string) => inVolumes(LISTING, { [volume]: '/v' }, true);

async function migrate(): Promise<MigrationOutcome> {
  const script = quarantineMigrationScript({ namePrefix: PREFIX, from: FROM, to: TO, image: NODE_STANDIN });
  return parseMigrationOutput(await runDockerScript(DOCKER_HOST, script));
}

beforeEach(removeVolumes);
afterAll(removeVolumes);

describe('an earlier version’s quarantine volume', () => {
  it('is copied whole into the new volume, checked, and left as it was', async () => {
    await seedLegacyQuarantine(FROM, PREFIX);
    await docker('volume', 'create', '--label', `${STACK_LABEL}=${PREFIX}`, TO);
    const before = await listing(FROM);
    expect(before).toContain(`./quarantine/${LEGACY_ID}/content|f|400|1000|1000|`);
    expect(before).toContain('./extra/link|l|777|1000|1000|/etc/shadow');
    expect(before).toContain('./extra/setgid|f|2640|1000|1000|');
    expect(before).toContain('./extra|d|2500|1000|1000|');

    expect(await migrate()).toEqual({ outcome: 'copied', files: 5 });
    expect(await listing(TO)).toBe(before);
    expect(await listing(FROM)).toBe(before);
    expect(await inVolumes(`stat -c '%a %u' /v/${MIGRATED_MARKER} && cat /v/${MIGRATED_MARKER} && ls -A /v | grep -c '${MIGRATING_MARKER}' || true`, { [TO]: '/v' })).toBe(`400 1000\n${FROM}\n0\n`);

    // The operator's CLI reads the copy as it read the old store (and appends to its audit log).
    const mountpoint = (await docker('volume', 'inspect', '--format', '{{.Mountpoint}}', TO)).trim();
    const { stdout } = await run('node', [path.join(REPO_ROOT, 'bin/clawjail'), 'quarantine', 'list', '--json', '--store', mountpoint]);
    expect((JSON.parse(stdout) as { id: string }[]).map((r) => r.id)).toEqual([LEGACY_ID]);

    const afterList = await listing(TO);
    expect(afterList).not.toBe(before);
    // A second run (pulumi destroy and up again: the old volume is still there) copies nothing.
    expect(await migrate()).toEqual({ outcome: 'done-before' });
    expect(await listing(TO)).toBe(afterList);
    expect(await listing(FROM)).toBe(before);
  });

  it('a copy cut short is wiped and made again', async () => {
    await seedLegacyQuarantine(FROM, PREFIX);
    await docker('volume', 'create', TO);
    await inVolumes(`printf '%s\\n' ${FROM} > /v/${MIGRATING_MARKER} && mkdir -p /v/quarantine && echo half > /v/quarantine/half-copied`, { [TO]: '/v' });
    expect(await migrate()).toEqual({ outcome: 'copied', files: 5 });
    expect(await listing(TO)).toBe(await listing(FROM));
  });

  it('stops the old warden still writing to it first, and refuses while anything else uses it', async () => {
    await seedLegacyQuarantine(FROM, PREFIX);
    await docker('volume', 'create', TO);
    const user = (name: string, labels: string[]) =>
      docker('run', '-d', '--name', name, ...labels.flatMap((l) => ['--label', l]), '--network', 'none', '--mount', `type=volume,source=${FROM},target=/q`, '--entrypoint', 'sleep', NODE_STANDIN, 'infinity');
    const running = async (name: string) => (await docker('inspect', '--format', '{{.State.Running}}', name)).trim();
    try {
      await user(`${PREFIX}-other`, []);
      await expect(migrate()).rejects.toThrow(new RegExp(`${PREFIX}-other is using ${FROM}: stop it`));
      expect(await running(`${PREFIX}-other`)).toBe('true');
      expect(await listing(TO)).toBe('.|d|755|0|0|\n');
      await docker('rm', '-f', `${PREFIX}-other`);
      await user(`${PREFIX}-warden`, [`${ROLE_LABEL}=warden`, `${STACK_LABEL}=${PREFIX}`]);
      expect(await migrate()).toEqual({ outcome: 'copied', files: 5 });
      expect(await running(`${PREFIX}-warden`)).toBe('false');
    } finally {
      for (const c of [`${PREFIX}-other`, `${PREFIX}-warden`]) await docker('rm', '-f', c).catch(() => undefined);
    }
  });

  it('refuses an old store that holds the migration’s own marker names', async () => {
    await seedLegacyQuarantine(FROM, PREFIX);
    await docker('volume', 'create', TO);
    await inVolumes(`echo planted > /s/${MIGRATED_MARKER}`, { [FROM]: '/s' });
    await expect(migrate()).rejects.toThrow(new RegExp(`${FROM} holds ${MIGRATED_MARKER}, a name only the migration writes`));
    expect(await listing(TO)).toBe('.|d|755|0|0|\n');
  });

  it('fails, rather than recording "nothing to copy", when the engine cannot be asked', async () => {
    const script = quarantineMigrationScript({ namePrefix: PREFIX, from: FROM, to: TO, image: NODE_STANDIN });
    await expect(runDockerScript('unix:///nonexistent/docker.sock', script)).rejects.toThrow(new RegExp(`cannot look up ${FROM}`));
  });

  it('is refused, and nothing written, when the new volume already holds a store', async () => {
    await seedLegacyQuarantine(FROM, PREFIX);
    await docker('volume', 'create', TO);
    await inVolumes('echo \'{"event":"warden-start"}\' > /v/audit.log', { [TO]: '/v' });
    const theirs = await listing(TO);
    await expect(migrate()).rejects.toThrow(new RegExp(`both ${FROM} and ${TO} hold a quarantine store: nothing copied`));
    expect(await listing(TO)).toBe(theirs);
  });

  it('of another stack (its label), or none at all, is left alone', async () => {
    await seedLegacyQuarantine(FROM, 'some-other-stack');
    await docker('volume', 'create', TO);
    expect(await migrate()).toEqual({ outcome: 'not-ours' });
    expect(await listing(TO)).toBe('.|d|755|0|0|\n');
    await docker('volume', 'rm', FROM);
    expect(await migrate()).toEqual({ outcome: 'none' });
  });
});
