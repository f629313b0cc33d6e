// The cellRuntime=runsc option on the real Docker engine. OpenClaw itself needs a current gVisor
// (Debian's 2022 runsc lacks openat2), so this runs a small probe image under the cell's own
// spec — same user, capabilities, seccomp, read-only root, tmpfs and limits — with runsc.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { containerCreateBody } from './deployer';
import { compileProbe, parseProbeOutput } from './probe';
import { DEBIAN_STANDIN, testJail, type TestJail } from './testJail';

const run = promisify(execFile);
jest.setTimeout(5 * 60_000);

const PROBE_IMAGE = 'cjtest/probe:1';
const names = { runsc: 'cjtest-gvisor', runc: 'cjtest-gvisor-control' };
let jail: TestJail;

const docker = (...args: string[]) => jail.deployment.docker(...args);

async function startProbe(name: string, runtime: 'runsc' | 'runc'): Promise<void> {
  const body = containerCreateBody({ ...jail.container('cell'), runtime }, jail.secrets) as {
    HostConfig: Record<string, unknown>;
    [k: string]: unknown;
  };
  // The cell's hardening, with the probe image and nothing the probe does not need: no network
  // (the gateway that owns the cell's namespace is not here) and no workspace volume.
  const create = {
    ...body,
    Image: PROBE_IMAGE,
    Cmd: ['sleep', '600'],
    Healthcheck: { Test: ['NONE'] },
    HostConfig: { ...body.HostConfig, NetworkMode: 'none', Mounts: [] },
    NetworkingConfig: { EndpointsConfig: {} },
  };
  await jail.deployment.engine.request('POST', `/containers/create?name=${name}`, create);
  await jail.deployment.engine.request('POST', `/containers/${name}/start`);
}

beforeAll(async () => {
  jail = testJail({ cellRuntime: 'runsc' });
  for (const n of Object.values(names)) await run('docker', ['rm', '-f', n]).catch(() => undefined);
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-probe-'));
  try {
    fs.writeFileSync(path.join(ctx, 'cellprobe'), compileProbe(), { mode: 0o755 });
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${DEBIAN_STANDIN}\nCOPY cellprobe /usr/local/bin/cellprobe\n`);
    await docker('build', '-q', '-t', PROBE_IMAGE, ctx);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
  await startProbe(names.runsc, 'runsc');
  await startProbe(names.runc, 'runc');
}, 10 * 60_000);

afterAll(async () => {
  for (const n of Object.values(names)) await run('docker', ['rm', '-f', n]).catch(() => undefined);
});

it('Docker has the runsc runtime registered (scripts/prereqs.sh does it)', async () => {
  expect(JSON.parse(await docker('info', '--format', '{{json .Runtimes}}'))).toHaveProperty('runsc');
});

it('the spec’s runtime setting puts the container under gVisor, and only when asked', async () => {
  expect(await docker('inspect', '--format', '{{.HostConfig.Runtime}}', names.runsc)).toBe('runsc');
  // gVisor's own kernel answers dmesg; under runc the host kernel refuses an unprivileged reader.
  const gv = await jail.deployment.exec(names.runsc, ['dmesg']);
  expect(gv.stdout).toMatch(/gVisor/);
  const rc = await jail.deployment.exec(names.runc, ['dmesg']);
  expect(rc.stdout).not.toMatch(/gVisor/);
});

it('keeps the cell’s hardening under gVisor: uid 1000, no capabilities, read-only root', async () => {
  const r = await jail.deployment.exec(names.runsc, ['cellprobe', 'all']);
  const lines = parseProbeOutput(r.stdout);
  expect(lines.find((l) => l.attack === 'caps')).toMatchObject({ CapEff: '0000000000000000', CapPrm: '0000000000000000', uid: 1000 });
  for (const l of lines.filter((x) => x.attack === 'write-rootfs' || x.attack === 'chown' || x.attack === 'setuid')) {
    expect(l).toMatchObject({ ok: false });
  }
});
