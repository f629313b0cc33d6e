// The clamd image as the stack runs it (the spec's clamd container, hardening and all), for what
// the stack relies on and no other test shows: it runs as its fixed uid, refuses bad settings,
// waits for freshclam's first databases instead of dying, and loads new ones while it runs.
// No network at all: the test talks to clamd through `docker exec` on the container's loopback.
import * as crypto from 'crypto';
import { containerCreateBody } from './deployer';
import { seedSignatures, testJail, type TestJail } from './testJail';
import { hdbLines, signatureOf } from '../../warden/test/clamdHarness';
import type { ContainerSpec } from '../../infra/model';
import { until as waitUntil } from '../helpers/wait';

jest.setTimeout(5 * 60_000);

let jail: TestJail;
let image: string;
const NAME = 'cjtest-clamdimg';
const VOLUME = 'cjtest-clamdimg-db';
const sampleA = Buffer.from(`clawjail sample A ${crypto.randomUUID()}\n`);
const sampleB = Buffer.from(`clawjail sample B ${crypto.randomUUID()}\n`);

async function cleanup(): Promise<void> {
  await jail.deployment.engine.remove(`/containers/${NAME}?force=true`).catch(() => undefined);
  await jail.deployment.engine.remove(`/volumes/${VOLUME}?force=true`).catch(() => undefined);
}

/** clamd's answer to one INSTREAM of `data`, asked on the container's own loopback. */
async function scan(data: Buffer): Promise<string> {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const input = Buffer.concat([Buffer.from('zINSTREAM\0'), len, data, Buffer.alloc(4)]);
  const script = `exec 3<>/dev/tcp/127.0.0.1/3310 || exit 1; cat >&3; IFS= read -r -d '' r <&3; printf '%s' "$r"`;
  const r = await jail.deployment.exec(NAME, ['bash', '-c', script], { input });
  return r.code === 0 ? r.stdout : `unreachable (${r.code})`;
}

const until = async (what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
  await waitUntil(what, ok, timeoutMs, { everyMs: 1000, context: () => jail.deployment.logs(NAME) });
};

beforeAll(async () => {
  jail = testJail();
  const clamd = jail.container('clamd');
  image = clamd.image.name;
  await cleanup();
  await jail.deployment.buildImage(clamd.image);
}, 15 * 60_000);

afterAll(async () => {
  if (jail) await cleanup();
});

it('runs as the fixed uid:gid the stack names', async () => {
  expect(await jail.deployment.docker('run', '--rm', '--network', 'none', '--entrypoint', 'id', image)).toBe(
    'uid=10310(clamav) gid=10310(clamav) groups=10310(clamav)',
  );
});

it.each([
  [['bogus'], {}, /unknown mode 'bogus'/],
  [[], { CLAMD_SIGNATURES: 'whatever' }, /CLAMD_SIGNATURES must be freshclam or custom/],
  [[], { CLAMD_SIGNATURES: 'custom', CLAMD_DB_DIR: '/nonexistent' }, /CLAMD_DB_DIR=\/nonexistent is not a directory/],
  [[], { CLAMD_SIGNATURES: 'custom', CLAMD_DB_DIR: '/tmp' }, /no signature database/],
  [[], { CLAMD_PORT: '33a' }, /CLAMD_PORT must be a port number/],
  [[], { CLAMD_DB_WAIT_S: 'soon' }, /CLAMD_DB_WAIT_S must be a number/],
])('refuses %j %j with exit code 2 and a message', async (args, env, message) => {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    jail.deployment.docker('run', '--rm', '--network', 'none', ...envArgs, image, ...args).then(
      () => resolve({ code: 0, stderr: '' }),
      (e: { code?: number; stderr?: string }) => resolve({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
    );
  });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});

it('waits for its first databases, then serves, then loads new ones as they land', async () => {
  const spec: ContainerSpec = {
    ...jail.container('clamd'),
    name: NAME,
    // Shorter waits than the stack's, so that the test sees both transitions in seconds.
    env: { ...jail.container('clamd').env, CLAMD_DB_WAIT_S: '120', CLAMD_SELF_CHECK_S: '5' },
    networks: [],
    networkMode: 'none',
    mounts: [{ type: 'volume', source: VOLUME, target: '/var/lib/clamav', readOnly: true }],
    labels: { 'clawjail.stack': 'cjtest' },
  };
  await jail.deployment.engine.request('POST', '/volumes/create', { Name: VOLUME });
  await jail.deployment.engine.request('POST', `/containers/create?name=${NAME}`, containerCreateBody(spec, jail.secrets));
  await jail.deployment.engine.request('POST', `/containers/${NAME}/start`);

  // An empty volume: clamd waits (it neither serves nor exits).
  await until('the wait message', async () => (await jail.deployment.logs(NAME)).includes('waiting up to 120s'), 30_000);
  await new Promise((r) => setTimeout(r, 6000));
  expect((await jail.deployment.state(NAME)).Running).toBe(true);
  expect(await scan(sampleA)).toMatch(/^unreachable/);

  // The first database arrives (as freshclam's first download would): clamd starts serving it.
  await seedSignatures(jail.deployment.engine, VOLUME, {}, [{ name: 'a.hdb', content: hdbLines([signatureOf(sampleA, 'Clawjail-Sample-A')]) }]);
  await until('clamd serving', async () => !(await scan(sampleA)).startsWith('unreachable'), 90_000);
  expect(await scan(sampleA)).toBe('stream: Clawjail-Sample-A.UNOFFICIAL FOUND');
  expect(await scan(sampleB)).toBe('stream: OK');

  // An update lands in the read-only volume: clamd reloads it by itself (SelfCheck).
  await seedSignatures(jail.deployment.engine, VOLUME, {}, [{ name: 'b.hdb', content: hdbLines([signatureOf(sampleB, 'Clawjail-Sample-B')]) }]);
  await until('the new signature loaded', async () => (await scan(sampleB)) === 'stream: Clawjail-Sample-B.UNOFFICIAL FOUND', 60_000);
  expect(await scan(sampleA)).toBe('stream: Clawjail-Sample-A.UNOFFICIAL FOUND');
});

it('runs freshclam under the spec\'s hardening: it gets as far as asking the mirror, and keeps trying', async () => {
  // No network here (nothing may leave this machine), so the download itself cannot succeed;
  // what this shows is that the read-only root, the seccomp profile and uid 10310 let it try.
  const fc = testJail({ cellEgress: 'internet', clamdSignatures: 'freshclam', clamdDatabaseMirror: 'mirror.clawjail.invalid' }).container('freshclam');
  const spec: ContainerSpec = {
    ...fc,
    name: NAME,
    networks: [],
    networkMode: 'none',
    mounts: [{ type: 'volume', source: VOLUME, target: '/var/lib/clamav', readOnly: false }],
    labels: { 'clawjail.stack': 'cjtest' },
  };
  await cleanup();
  await jail.deployment.engine.request('POST', '/volumes/create', { Name: VOLUME });
  await jail.deployment.engine.request('POST', `/containers/create?name=${NAME}`, containerCreateBody(spec, jail.secrets));
  await jail.deployment.engine.request('POST', `/containers/${NAME}/start`);
  await until('freshclam asking its mirror twice', async () => ((await jail.deployment.logs(NAME)).match(/Trying to retrieve CVD header from https:\/\/mirror\.clawjail\.invalid/g) ?? []).length >= 2, 60_000);
  const logs = await jail.deployment.logs(NAME);
  expect(logs).not.toMatch(/Permission denied|Operation not permitted|Read-only file system/i);
  expect((await jail.deployment.state(NAME)).Running).toBe(true);
});
