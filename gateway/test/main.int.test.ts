// The gateway as users run it: `node gateway/dist/main.js` in a child process, configured by env.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type WebSocket from 'ws';
import { SETTINGS } from '../src/config';
import { GatewayRefusedError } from '../src/pinned';
import {
  buildGateway,
  closed,
  connect,
  GATEWAY_DIR,
  nextMessage,
  randomToken,
  startChildGateway,
  startUpstream,
  tmpDir,
  waitFor,
  type ChildGateway,
} from './helpers';

jest.setTimeout(90_000);

const MAIN = path.join(GATEWAY_DIR, 'dist', 'main.js');

function runMain(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gateway/dist/main.js', () => {
  let dir: string;
  let tokenFile: string;
  let token: string;
  beforeAll(() => buildGateway());
  beforeEach(() => {
    dir = tmpDir();
    token = randomToken();
    tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--help lists every setting', () => {
    const r = runMain(['--help'], {});
    expect(r.status).toBe(0);
    for (const s of SETTINGS) expect(r.stdout).toContain(s.env);
  });

  it.each([
    [{ GATEWAY_LISTEN: 'bogus' }, 'GATEWAY_LISTEN'],
    [{ GATEWAY_UPSTREAM: 'http://x' }, 'GATEWAY_UPSTREAM'],
    [{ GATEWAY_MAX_PAYLOAD: 'lots' }, 'GATEWAY_MAX_PAYLOAD'],
    [{ GATEWAY_TOKEN_FILE: '' }, 'GATEWAY_TOKEN_FILE'],
  ])('refuses bad configuration %j with exit 2, naming the variable', (bad, name) => {
    const r = runMain([], { GATEWAY_STATE_DIR: path.join(dir, 's'), GATEWAY_TOKEN_FILE: tokenFile, ...bad });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^clawjail-gateway: ${name}: `));
  });

  it('refuses a weak token without printing it', () => {
    fs.writeFileSync(tokenFile, 'hunter2-hunter2\n');
    const r = runMain([], { GATEWAY_STATE_DIR: path.join(dir, 's'), GATEWAY_TOKEN_FILE: tokenFile });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/GATEWAY_TOKEN_FILE: the token must be at least 32 characters/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('first start creates the certificate (key 0600); serves end to end; SIGHUP rotates the token; SIGTERM closes with 1001', async () => {
    const up = await startUpstream();
    const stateDir = path.join(dir, 'state');
    const env = {
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_UPSTREAM: up.url,
      GATEWAY_STATE_DIR: stateDir,
      GATEWAY_TOKEN_FILE: tokenFile,
      GATEWAY_IDLE_TIMEOUT_MS: '0',
    };
    let gw: ChildGateway | undefined;
    try {
      gw = await startChildGateway(env);
      expect(fs.statSync(path.join(stateDir, 'key.pem')).mode & 0o777).toBe(0o600);
      const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(stateDir, 'cert.pem')])
        .toString()
        .trim()
        .split('=')[1];
      expect(gw.fingerprint).toBe(openssl);
      expect(runMain(['--print-fingerprint'], env).stdout.trim()).toBe(openssl);
      expect(runMain(['--healthcheck'], { ...env, GATEWAY_LISTEN: `127.0.0.1:${gw.port}` }).status).toBe(0);

      const target = { url: `wss://127.0.0.1:${gw.port}/`, fingerprint: gw.fingerprint, token };
      const ws = await connect(target);
      ws.send('through the child');
      expect((await nextMessage(ws)).data.toString()).toBe('through the child');

      // Rotation: new token in the file, SIGHUP; the open session is closed, the old token refused.
      const next = randomToken();
      fs.writeFileSync(tokenFile, next + '\n');
      const rotated = closed(ws);
      gw.child.kill('SIGHUP');
      expect(await rotated).toEqual({ code: 1008, reason: 'operator token rotated' });
      await expect(connect(target)).rejects.toBeInstanceOf(GatewayRefusedError);
      const ws2 = await connect({ ...target, token: next });
      const shutdown = closed(ws2);
      expect(await gw.stop('SIGTERM')).toBe(0);
      expect(await shutdown).toEqual({ code: 1001, reason: 'gateway shutting down' });
      expect(runMain(['--healthcheck'], { ...env, GATEWAY_LISTEN: `127.0.0.1:${gw.port}` }).status).toBe(1);

      // A second start reuses the certificate: the pin stays valid.
      const again = await startChildGateway(env);
      expect(again.fingerprint).toBe(openssl);
      await again.stop();
      const logs = gw.stderr() + again.stderr();
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(next);
      expect(logs).not.toMatch(/PRIVATE KEY/);
    } finally {
      await gw?.stop('SIGKILL');
      await up.close();
    }
  });

  // 500 idle sessions through the child gateway. Bound: 128 KiB of gateway RSS per session (measured here: ~50 KiB).
  // Each session is one TLS socket (OpenSSL read/write buffers and SSL state, ~40-60 KiB), one
  // plain upstream socket, two ws objects with their parsers and a few closures (~10 KiB of
  // heap). 128 KiB leaves room for allocator slack, yet is far below what a leak per session
  // (e.g. a retained 64 KiB frame buffer or a per-session maxPayload allocation) would cost:
  // the 25 MiB default maxPayload allocated per session would be 12 GiB here.
  it('holds 500 concurrent idle sessions with bounded memory', async () => {
    const up = await startUpstream();
    const env = {
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_UPSTREAM: up.url,
      GATEWAY_STATE_DIR: path.join(dir, 'state'),
      GATEWAY_TOKEN_FILE: tokenFile,
      GATEWAY_MAX_CONNECTIONS: '600',
      GATEWAY_RATE_PER_MINUTE: '100000',
      GATEWAY_RATE_BURST: '1000',
      GATEWAY_IDLE_TIMEOUT_MS: '0',
    };
    const gw = await startChildGateway(env);
    const sockets: WebSocket[] = [];
    try {
      const target = { url: `wss://127.0.0.1:${gw.port}/`, fingerprint: gw.fingerprint, token };
      const open = async (n: number) => {
        for (let i = 0; i < n; i += 50) {
          const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => connect(target)));
          sockets.push(...batch);
        }
      };
      await open(20); // warm up code paths and buffers
      await new Promise((r) => setTimeout(r, 300));
      const before = gw.rssKiB();
      await open(480);
      expect(sockets).toHaveLength(500);
      await waitFor(() => up.sockets.size === 500, 10_000, '500 upstream sessions');
      // Every session works (a sample each way), and they are all still open.
      for (const ws of [sockets[0], sockets[250], sockets[499]]) {
        ws.send('still here');
        expect((await nextMessage(ws)).data.toString()).toBe('still here');
      }
      await new Promise((r) => setTimeout(r, 500));
      const after = gw.rssKiB();
      const perSession = (after - before) / 480;
      process.stdout.write(`gateway RSS: ${before} KiB -> ${after} KiB with 500 sessions (${perSession.toFixed(1)} KiB/session)\n`);
      expect(sockets.every((s) => s.readyState === s.OPEN)).toBe(true);
      expect(after - before).toBeLessThan(480 * 128);
      expect(after).toBeLessThan(200 * 1024); // and the whole process stays under 200 MiB
    } finally {
      sockets.forEach((s) => s.terminate());
      await gw.stop('SIGTERM');
      await up.close();
    }
  });
});
