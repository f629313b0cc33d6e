// The operator CLI (`clawjail connect`, `clawjail fingerprint`) against the in-process gateway
// and an upstream that speaks the shape of OpenClaw's gateway protocol (challenge, connect,
// hello-ok, req/res, events).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough, Writable } from 'stream';
import type WebSocket from 'ws';
import { run as connectRun, toFrame, type CliIo } from '../../cli/commands/connect';
import { run as fingerprintRun } from '../../cli/commands/fingerprint';
import { randomToken, startGateway, startImpostor, startUpstream, testCert, tmpDir, type TestGateway, type Upstream } from './helpers';

jest.setTimeout(30_000);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function io(stdinLines?: string[]): CliIo & { out: Capture; err: Capture } {
  const stdin = new PassThrough();
  if (stdinLines) {
    for (const l of stdinLines) stdin.write(l + '\n');
    stdin.end();
  }
  const out = new Capture();
  const err = new Capture();
  return { stdin, stdout: out, stderr: err, env: {}, out, err };
}

interface FakeOpenClaw {
  connects: Array<Record<string, unknown>>;
  requests: string[];
}

/** Speaks like OpenClaw: challenge first, `connect` must come first and carry a token. */
function fakeOpenClaw(up: Upstream, expectedToken: string): FakeOpenClaw {
  const state: FakeOpenClaw = { connects: [], requests: [] };
  up.onConnection = (ws: WebSocket) => {
    let connected = false;
    ws.send(JSON.stringify({ type: 'event', event: 'connect.challenge', payload: { nonce: 'n-1', ts: Date.now() } }));
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { type: string; id: string; method: string; params: Record<string, unknown> };
      if (!connected) {
        if (f.method !== 'connect') return ws.close(1008, 'first frame must be connect');
        state.connects.push(f.params);
        const auth = f.params.auth as { token?: string } | undefined;
        if (auth?.token !== expectedToken) {
          ws.send(JSON.stringify({ type: 'res', id: f.id, ok: false, error: { code: 'UNAUTHORIZED', message: 'gateway token mismatch' } }));
          return ws.close(1008, 'unauthorized');
        }
        connected = true;
        ws.send(JSON.stringify({ type: 'res', id: f.id, ok: true, payload: { type: 'hello-ok', protocol: 4, server: { version: '2026.9.6', connId: 'c1' } } }));
        return;
      }
      state.requests.push(f.method);
      ws.send(JSON.stringify({ type: 'event', event: 'tick', payload: {} }));
      if (f.method === 'health') ws.send(JSON.stringify({ type: 'res', id: f.id, ok: true, payload: { ok: true, status: 'live' } }));
      else ws.send(JSON.stringify({ type: 'res', id: f.id, ok: false, error: { code: 'INVALID_REQUEST', message: `unknown method: ${f.method}` } }));
    });
  };
  return state;
}

describe('clawjail connect', () => {
  let up: Upstream;
  let gw: TestGateway;
  let dir: string;
  let tokenFile: string;
  let ocTokenFile: string;
  const ocToken = randomToken();

  beforeEach(async () => {
    up = await startUpstream();
    gw = await startGateway({ upstreamUrl: up.url, upstreamToken: ocToken });
    dir = tmpDir();
    tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, gw.token + '\n', { mode: 0o600 });
    ocTokenFile = path.join(dir, 'oc-token');
    fs.writeFileSync(ocTokenFile, ocToken + '\n', { mode: 0o600 });
  });
  afterEach(async () => {
    await gw.close();
    await up.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--send: handshake as a device-less CLI operator, one request, prints the first answer', async () => {
    const oc = fakeOpenClaw(up, ocToken);
    const t = io();
    const code = await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', '{"method":"health"}'], t);
    expect(t.err.text).toContain('connected to OpenClaw 2026.9.6');
    expect(code).toBe(0);
    const answer = JSON.parse(t.out.text.trim());
    expect(answer).toMatchObject({ type: 'res', ok: true, payload: { ok: true, status: 'live' } });
    // The connect request: CLI client, operator role; OpenClaw's token added by the gateway.
    expect(oc.connects[0]).toMatchObject({
      minProtocol: 4,
      maxProtocol: 4,
      client: { id: 'cli', mode: 'cli' },
      role: 'operator',
      scopes: ['operator.read', 'operator.write'],
      auth: { token: ocToken },
    });
    expect(oc.connects[0].device).toBeUndefined();
    expect(oc.requests).toEqual(['health']);
  });

  it('--send with OpenClaw\'s token supplied by the operator instead (gateway without injection)', async () => {
    await gw.close();
    gw = await startGateway({ upstreamUrl: up.url, token: gw.token });
    const oc = fakeOpenClaw(up, ocToken);
    const t = io();
    const code = await connectRun(
      [gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--upstream-token-file', ocTokenFile, '--send', 'health'],
      t,
    );
    expect(code).toBe(0);
    expect(oc.connects[0].auth).toEqual({ token: ocToken });
    // and without it, OpenClaw's refusal is reported
    const t2 = io();
    expect(await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', 'health'], t2)).toBe(1);
    expect(t2.err.text).toMatch(/OpenClaw refused the connect request: UNAUTHORIZED: gateway token mismatch/);
  });

  it('a failed request exits 1 and prints the error', async () => {
    fakeOpenClaw(up, ocToken);
    const t = io();
    expect(await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', 'nosuch.method {}'], t)).toBe(1);
    expect(t.err.text).toMatch(/nosuch.method failed: INVALID_REQUEST/);
  });

  it('interactive: one message per line, every frame printed, clean exit at EOF', async () => {
    const oc = fakeOpenClaw(up, ocToken);
    const t = io(['health', '{"type":"req","id":"mine","method":"health","params":{}}', 'not json {', 'bogus']);
    const code = await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile], t);
    expect(code).toBe(0);
    const frames = t.out.text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; id?: string; ok?: boolean });
    const responses = frames.filter((f) => f.type === 'res');
    expect(responses).toHaveLength(3);
    expect(responses.find((f) => f.id === 'mine')?.ok).toBe(true);
    expect(frames.some((f) => f.type === 'event')).toBe(true);
    expect(t.err.text).toMatch(/not sent: /);
    expect(oc.requests).toEqual(['health', 'health', 'bogus']);
  });

  it('--raw: plain messages without the OpenClaw handshake', async () => {
    const t = io();
    expect(await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--raw', '--send', 'echo me'], t)).toBe(0);
    expect(t.out.text).toBe('echo me\n');
  });

  it('a mismatched fingerprint is refused with exit 3, showing both fingerprints; no token is sent', async () => {
    const impostor = await startImpostor();
    try {
      const t = io();
      const code = await connectRun([`wss://127.0.0.1:${impostor.port}`, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', 'health'], t);
      expect(code).toBe(3);
      expect(t.err.text).toContain(`expected (pinned): ${gw.fingerprint}`);
      expect(t.err.text).toContain(`presented:         ${impostor.fingerprint}`);
      expect(t.out.text).toBe('');
      expect(impostor.bytesReceived()).toBe(0);
    } finally {
      await impostor.close();
    }
  });

  it('a wrong token is refused by the gateway with exit 4 and never reaches OpenClaw', async () => {
    fs.writeFileSync(tokenFile, randomToken());
    const t = io();
    expect(await connectRun([gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', 'health'], t)).toBe(4);
    expect(t.err.text).toMatch(/HTTP 401 unauthorized/);
    expect(up.tcpConnections).toBe(0);
  });

  it('--stack calls the injected resolver for URL and fingerprint', async () => {
    fakeOpenClaw(up, ocToken);
    const asked: string[] = [];
    const resolveStack = async (name: string) => {
      asked.push(name);
      return { url: gw.url, fingerprint: gw.fingerprint, tokenFile };
    };
    const t = io();
    expect(await connectRun(['--stack', 'dev', '--send', 'health'], t, { resolveStack })).toBe(0);
    expect(asked).toEqual(['dev']);
    const t2 = io();
    expect(await connectRun(['--stack', 'dev', '--send', 'health'], t2)).toBe(2);
    expect(t2.err.text).toMatch(/no stack resolver/);
  });

  it('usage errors exit 2 and never connect', async () => {
    const cases: string[][] = [
      [gw.url, '--token-file', tokenFile], // no fingerprint
      [gw.url, '--fingerprint', 'AB:CD', '--token-file', tokenFile],
      [gw.url.replace('wss:', 'ws:'), '--fingerprint', gw.fingerprint, '--token-file', tokenFile],
      [gw.url, '--fingerprint', gw.fingerprint], // no token
      [gw.url, '--fingerprint', gw.fingerprint, '--token-file', path.join(dir, 'missing')],
      [gw.url, '--bogus'],
      [gw.url, '--fingerprint', gw.fingerprint, '--token-file', tokenFile, '--send', 'not json {'],
    ];
    for (const argv of cases) {
      const t = io();
      expect([argv.join(' '), await connectRun(argv, t)]).toEqual([argv.join(' '), 2]);
    }
    expect(up.tcpConnections).toBe(0);
    expect(gw.gateway.stats().sessionsTotal).toBe(0);
  });

  it('toFrame fills in type and id', () => {
    expect(toFrame('status')).toMatchObject({ type: 'req', method: 'status', params: {} });
    expect(toFrame('chat.send {"text":"hi"}')).toMatchObject({ type: 'req', method: 'chat.send', params: { text: 'hi' } });
    expect(toFrame('{"type":"req","id":"x","method":"m"}').id).toBe('x');
    expect(typeof toFrame('{"method":"m"}').id).toBe('string');
  });
});

describe('clawjail fingerprint', () => {
  it('prints what the server presents, identical to openssl on the certificate file', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url });
    try {
      const t = io();
      expect(await fingerprintRun([`https://127.0.0.1:${gw.port}`], t)).toBe(0);
      const printed = t.out.text.trim();
      const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: testCert().certPem }).toString().trim().split('=')[1];
      expect(printed).toBe(openssl);
      expect(t.err.text).toMatch(/subject: .*CN=clawjail-gateway/);
      expect(t.err.text).toMatch(/TLSv1.3/);
      expect(up.tcpConnections).toBe(0);
      expect(gw.logs.filter((l) => l.msg === 'unauthorized')).toHaveLength(0); // no request was made
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('fails cleanly when nothing listens', async () => {
    const t = io();
    expect(await fingerprintRun(['127.0.0.1:1', '--timeout', '2000'], t)).toBe(1);
    expect(t.err.text).toMatch(/cannot reach 127.0.0.1:1: ECONNREFUSED/);
    expect(await fingerprintRun([], io())).toBe(2);
  });
});
