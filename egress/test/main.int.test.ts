// The gate as it runs in the container: `node egress/dist/main.js` as a child process, by env.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { adminRequest } from '../src/admin';
import { SETTINGS } from '../src/config';
import { connectVia, startFakeDns, tmpDir, waitFor, type FakeDns } from './helpers';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'egress', 'dist', 'main.js');

function runMain(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('egress/dist/main.js', () => {
  let dir: string;
  let dns: FakeDns;
  let env: Record<string, string>;
  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'egress', 'tsconfig.json')], { stdio: 'pipe' });
    dns = await startFakeDns({ 'up.test': ['127.0.0.1'] });
  });
  afterAll(() => dns.close());
  beforeEach(() => {
    dir = tmpDir();
    env = {
      EGRESS_LISTEN: '127.0.0.1:0',
      EGRESS_POLICY_FILE: path.join(dir, 'policy.json'),
      EGRESS_RESOLVER: `127.0.0.1:${dns.port}`,
      EGRESS_LOG: path.join(dir, 'decisions.jsonl'),
      EGRESS_ADMIN_SOCKET: path.join(dir, 'admin.sock'),
    };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--help exits 0 and lists every variable', () => {
    const r = runMain(['--help'], {});
    expect(r.status).toBe(0);
    for (const s of SETTINGS) expect(r.stdout).toContain(s.env);
  });

  it('a missing EGRESS_LISTEN (or a bad value) fails with exit 2 and a message naming it', () => {
    const { EGRESS_LISTEN: _omit, ...rest } = env;
    void _omit;
    const r = runMain([], rest);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^clawjail-egress: EGRESS_LISTEN: is required/);
    const bad = runMain([], { ...env, EGRESS_MAX_BYTES: 'lots' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^clawjail-egress: EGRESS_MAX_BYTES: /);
    expect(runMain(['--bogus'], env).status).toBe(2);
  });

  it('a bad providers file fails naming EGRESS_PROVIDERS_FILE, without printing the key', () => {
    const file = path.join(dir, 'providers.json');
    fs.writeFileSync(file, JSON.stringify({ providers: [{ name: 'openai', baseUrl: 'http://plain.test', key: 'sk-never-printed' }] }));
    const r = runMain([], { ...env, EGRESS_PROVIDERS_FILE: file });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/EGRESS_PROVIDERS_FILE: .*https/);
    expect(r.stderr).not.toContain('sk-never-printed');
  });

  it('a started process answers --healthcheck, refuses a not-allowed CONNECT with 403, and stops on SIGTERM', async () => {
    fs.writeFileSync(env.EGRESS_POLICY_FILE, JSON.stringify({ allow: ['example.test'], deny: [] }));
    let child: ChildProcess | undefined;
    let err = '';
    try {
      child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
      await waitFor(() => /"msg":"listening"/.test(err) || child!.exitCode !== null, 15_000, 'the child to listen');
      const line = err.split('\n').find((l) => l.includes('"msg":"listening"'));
      expect(line).toBeDefined();
      const port = (JSON.parse(line!) as { port: number }).port;

      expect(runMain(['--healthcheck'], env).status).toBe(0);
      expect(fs.statSync(env.EGRESS_ADMIN_SOCKET).mode & 0o777).toBe(0o600);
      const r = await connectVia(port, 'up.test:443');
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'egress denied', host: 'up.test', port: 443, reason: 'not-allowed' });
      // the same gate with the production blocked list: allowed by name, refused by address (127.0.0.1)
      fs.writeFileSync(env.EGRESS_POLICY_FILE, JSON.stringify({ allow: ['up.test'], deny: [] }));
      await waitFor(async () => JSON.stringify(((await adminRequest(env.EGRESS_ADMIN_SOCKET, { op: 'status' })) as Record<string, unknown>).allow) === '["up.test"]', 5_000, 'the new policy');
      const blocked = await connectVia(port, 'up.test:443');
      expect(JSON.parse(blocked.body)).toMatchObject({ reason: 'blocked-address' });
      const lines = fs.readFileSync(env.EGRESS_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
      expect(lines.map((l) => l.reason)).toEqual(['not-allowed', 'blocked-address']);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(runMain(['--healthcheck'], env).status).toBe(1);
      expect(fs.existsSync(env.EGRESS_ADMIN_SOCKET)).toBe(false);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
