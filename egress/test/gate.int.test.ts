// The egress gate in-process over real loopback sockets: CONNECT + SNI, plain HTTP, limits,
// the policy file, the admin socket, the decision log. Every refusal is paired with the same
// probe succeeding where it should, so a gate that refuses everything cannot pass.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type * as tls from 'tls';
import {
  closed,
  connectVia,
  makePki,
  proxyRequest,
  sleep,
  startFakeDns,
  startGate,
  startHttpUpstream,
  startTlsUpstream,
  tlsThrough,
  tmpDir,
  waitFor,
  type FakeDns,
  type HttpUpstream,
  type TestGate,
  type TestPki,
  type TlsUpstream,
} from './helpers';

jest.setTimeout(30_000);

let dir: string;
let pki: TestPki;
let dns: FakeDns;
let up: TlsUpstream;
let web: HttpUpstream;
const gates: TestGate[] = [];

beforeAll(async () => {
  dir = tmpDir();
  pki = makePki(dir);
  up = await startTlsUpstream(pki.leaf(['up.test', 'other.test', 'loop.test']));
  web = await startHttpUpstream();
  dns = await startFakeDns({
    'up.test': ['127.0.0.1'],
    'other.test': ['127.0.0.1'],
    'loop.test': ['127.0.0.1'],
    'web.test': ['127.0.0.1'],
    'blocked.test': ['127.0.0.2'],
    'mixed.test': ['127.0.0.1', '127.0.0.2'],
  });
});
afterAll(async () => {
  await up.close();
  await web.close();
  await dns.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  while (gates.length) {
    const g = gates.pop()!;
    await g.close();
    fs.rmSync(g.dir, { recursive: true, force: true });
  }
});

async function gate(opts: Omit<Parameters<typeof startGate>[0], 'dnsPort'> = {}): Promise<TestGate> {
  const g = await startGate({ dnsPort: dns.port, ...opts });
  gates.push(g);
  return g;
}

/** CONNECT + TLS with SNI = host; resolves with the upstream's nonce line. */
async function tunnel(g: TestGate, host: string, port = up.port, sni = host): Promise<{ tls: tls.TLSSocket; firstLine: string; raw: net.Socket }> {
  const r = await connectVia(g.port, `${host}:${port}`);
  expect(r.status).toBe(200);
  const t = await tlsThrough(r.socket, sni, pki.caPem);
  return { ...t, raw: r.socket };
}

function expectRefusal(r: { status: number; headers: Record<string, string | string[] | undefined>; body: string }, status: number, reason: string, host: string | null, port: number | null) {
  expect(r.status).toBe(status);
  expect(r.headers['x-clawjail-egress']).toBe(`denied; reason=${reason}`);
  expect(r.headers['content-type']).toBe('application/json');
  const body = JSON.parse(r.body);
  expect(body).toEqual({ error: 'egress denied', host, port, reason, detail: expect.any(String) });
  return body as { detail: string };
}

const lastDecision = (g: TestGate) => g.decisions()[g.decisions().length - 1];

describe('CONNECT', () => {
  it('an allowed CONNECT reaches the upstream (nonce), data flows both ways, and the close is logged with bytes', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`] });
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.write('ping\n');
    await new Promise<void>((r) => t.tls.once('data', (d: Buffer) => (expect(d.toString()).toBe('ping\n'), r())));
    expect((await g.admin({ op: 'status' })).open).toBe(1);
    t.tls.end();
    await closed(t.raw);
    await waitFor(() => g.decisions().some((d) => d.decision === 'allow'), 5_000, 'the allow line');
    const d = lastDecision(g);
    expect(d).toMatchObject({ kind: 'connect', host: 'up.test', port: up.port, address: '127.0.0.1', decision: 'allow', rule: `up.test:${up.port}`, reason: null });
    expect(d.bytesUp).toBeGreaterThan(100);
    expect(d.bytesDown).toBeGreaterThan(100);
    expect(typeof d.durationMs).toBe('number');
    expect(Date.parse(d.time)).not.toBeNaN();
  });

  it('a destination not on the list gets 403 with the JSON body and a log line; allowed by the admin it works', async () => {
    const g = await gate({ allow: [] });
    const before = up.tcpConnections;
    const r = await connectVia(g.port, `up.test:${up.port}`);
    const body = expectRefusal(r, 403, 'not-allowed', 'up.test', up.port);
    expect(body.detail).toContain(`ask the operator: clawjail egress allow up.test:${up.port}`);
    expect(lastDecision(g)).toMatchObject({ kind: 'connect', host: 'up.test', port: up.port, decision: 'deny', reason: 'not-allowed', address: null, rule: null });
    expect(up.tcpConnections).toBe(before);
    // CONNECT host names are case-insensitive and the allow list decides per port.
    expect((await connectVia(g.port, `UP.test:${up.port + 1}`)).status).toBe(403);

    const res = await g.admin({ op: 'allow', entry: `UP.TEST:${up.port}` });
    expect(res).toMatchObject({ ok: true, entry: `up.test:${up.port}` });
    expect(JSON.parse(fs.readFileSync(g.policyFile, 'utf8'))).toEqual({ allow: [`up.test:${up.port}`], deny: [] });
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.destroy();
  });

  it('a name resolving to a blocked address is refused, also when only one of its addresses is; the upstream sees nothing', async () => {
    const g = await gate({ allow: [`blocked.test:${up.port}`, `mixed.test:${up.port}`, `up.test:${up.port}`] });
    const before = up.tcpConnections;
    expectRefusal(await connectVia(g.port, `blocked.test:${up.port}`), 403, 'blocked-address', 'blocked.test', up.port);
    expect(lastDecision(g)).toMatchObject({ decision: 'deny', reason: 'blocked-address', address: '127.0.0.2' });
    expectRefusal(await connectVia(g.port, `mixed.test:${up.port}`), 403, 'blocked-address', 'mixed.test', up.port);
    expect(up.tcpConnections).toBe(before);
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.destroy();
  });

  it('with the real built-in list, a name resolving to 127.0.0.1 is refused (the same probe passes with the test list)', async () => {
    const real = await gate({ allow: [`loop.test:${up.port}`], blocked: false });
    const before = up.tcpConnections;
    expectRefusal(await connectVia(real.port, `loop.test:${up.port}`), 403, 'blocked-address', 'loop.test', up.port);
    expect(up.tcpConnections).toBe(before);
    const test = await gate({ allow: [`loop.test:${up.port}`] });
    const t = await tunnel(test, 'loop.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.destroy();
  });

  it('IP literals are refused (ip-literal), unknown names get 502 no-such-host, malformed targets 400', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`, `missing.test:${up.port}`] });
    expectRefusal(await connectVia(g.port, `127.0.0.1:${up.port}`), 403, 'ip-literal', '127.0.0.1', up.port);
    expectRefusal(await connectVia(g.port, `[::1]:${up.port}`), 403, 'ip-literal', '[::1]', up.port);
    expectRefusal(await connectVia(g.port, `missing.test:${up.port}`), 502, 'no-such-host', 'missing.test', up.port);
    expectRefusal(await connectVia(g.port, 'up.test'), 400, 'bad-request', null, null);
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.destroy();
  });

  it('an SNI different from the CONNECT host is refused and the upstream sees zero connections; no SNI / not TLS too', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`] });
    const before = up.tcpConnections;
    const r = await connectVia(g.port, `up.test:${up.port}`);
    expect(r.status).toBe(200);
    await expect(tlsThrough(r.socket, 'other.test', pki.caPem)).rejects.toThrow();
    await waitFor(() => g.decisions().some((d) => d.reason === 'sni-mismatch'), 5_000, 'the sni-mismatch line');
    expect(lastDecision(g)).toMatchObject({ kind: 'connect', host: 'up.test', decision: 'deny', reason: 'sni-mismatch' });

    const plain = await connectVia(g.port, `up.test:${up.port}`);
    plain.socket.resume();
    plain.socket.write('GET / HTTP/1.1\r\nHost: up.test\r\n\r\n');
    await closed(plain.socket);
    await waitFor(() => lastDecision(g).reason === 'not-tls', 5_000, 'the not-tls line');
    expect(up.tcpConnections).toBe(before);

    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    expect(up.tcpConnections).toBe(before + 1);
    t.tls.destroy();
  });

  it('deny entries win over allow entries', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`, `other.test:${up.port}`], deny: ['other.test'] });
    const body = expectRefusal(await connectVia(g.port, `other.test:${up.port}`), 403, 'denied', 'other.test', up.port);
    expect(body.detail).toContain('other.test');
    expect(lastDecision(g)).toMatchObject({ reason: 'denied', rule: 'other.test' });
    const t = await tunnel(g, 'up.test');
    t.tls.destroy();
  });
});

describe('plain HTTP', () => {
  it('forwards an allowed absolute-form request, stripping hop-by-hop and Proxy-* headers; refuses others', async () => {
    const g = await gate({ allow: [] });
    const url = `http://web.test:${web.port}/path/x?q=1`;
    const denied = await proxyRequest(g.port, url);
    expectRefusal(denied, 403, 'not-allowed', 'web.test', web.port);
    expect(web.requests).toHaveLength(0);

    g.writePolicy([`web.test:${web.port}`]);
    await waitFor(async () => (await g.admin({ op: 'status' })).allow !== undefined && ((await g.admin({ op: 'status' })).allow as string[]).length === 1, 5_000, 'the new policy');
    const r = await proxyRequest(g.port, url, {
      method: 'POST',
      headers: { 'Proxy-Authorization': 'Basic c2VjcmV0', 'Proxy-Foo': 'x', Connection: 'x-drop-me', 'X-Drop-Me': '1', 'X-Keep': 'kept', 'Content-Type': 'text/plain' },
      body: 'hello',
    });
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body);
    expect(echoed.nonce).toBe(web.nonce);
    expect(echoed.url).toBe('/path/x?q=1');
    expect(echoed.body).toBe('hello');
    const h = web.requests[0].headers;
    expect(h.host).toBe(`web.test:${web.port}`);
    expect(h['x-keep']).toBe('kept');
    for (const k of ['proxy-authorization', 'proxy-foo', 'x-drop-me']) expect(h[k]).toBeUndefined();
    expect(r.headers['x-upstream']).toBe('yes');
    expect(r.headers['keep-alive']).not.toBe('timeout=99'); // the upstream's hop-by-hop header is not passed on
    await waitFor(() => g.decisions().some((d) => d.kind === 'http' && d.decision === 'allow'), 5_000, 'the http allow line');
    expect(g.decisions().find((d) => d.kind === 'http' && d.decision === 'allow')).toMatchObject({ host: 'web.test', port: web.port, address: '127.0.0.1', bytesUp: 5 });

    // port 80 is not implied by an entry without a port; https:// absolute-form and origin-form are bad requests
    expectRefusal(await proxyRequest(g.port, 'http://web.test/'), 403, 'not-allowed', 'web.test', 80);
    expectRefusal(await proxyRequest(g.port, `https://web.test:${web.port}/`), 400, 'bad-request', null, null);
    expectRefusal(await proxyRequest(g.port, '/'), 400, 'bad-request', null, null);
    expectRefusal(await proxyRequest(g.port, `http://127.0.0.1:${web.port}/`), 403, 'ip-literal', '127.0.0.1', web.port);
  });
});

describe('limits', () => {
  it('a request head over EGRESS_MAX_HEADER_BYTES gets 431 (JSON); a normal one passes', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`], limits: { maxHeaderBytes: 2048 } });
    const r = await connectVia(g.port, `up.test:${up.port}`, `X-Big: ${'a'.repeat(4096)}\r\n`);
    expectRefusal(r, 431, 'header-too-large', null, null);
    expect(lastDecision(g)).toMatchObject({ decision: 'deny', reason: 'header-too-large' });
    const t = await tunnel(g, 'up.test');
    t.tls.destroy();
  });

  it('over EGRESS_MAX_CONNECTIONS: 429; after one closes, a new one passes', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`], limits: { maxConnections: 2 } });
    const a = await tunnel(g, 'up.test');
    const b = await tunnel(g, 'up.test');
    expectRefusal(await connectVia(g.port, `up.test:${up.port}`), 429, 'too-many-connections', 'up.test', up.port);
    expect(lastDecision(g)).toMatchObject({ reason: 'too-many-connections' });
    a.tls.destroy();
    await closed(a.raw);
    await waitFor(async () => (await g.admin({ op: 'status' })).open === 1, 5_000, 'one tunnel');
    await sleep(50);
    const c = await tunnel(g, 'up.test');
    expect(c.firstLine).toBe(`nonce:${up.nonce}`);
    b.tls.destroy();
    c.tls.destroy();
  });

  it('the byte limit ends a tunnel (reason byte-limit in the log); under it data flows', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`], limits: { maxBytes: 64 * 1024 } });
    const t = await tunnel(g, 'up.test');
    let echoed = 0;
    t.tls.on('data', (d: Buffer) => (echoed += d.length));
    t.tls.on('error', () => undefined);
    t.tls.write(Buffer.alloc(1000, 1));
    await waitFor(() => echoed >= 1000, 5_000, 'a small echo');
    for (let i = 0; i < 20; i++) t.tls.write(Buffer.alloc(8 * 1024, 2));
    await closed(t.raw);
    await waitFor(() => g.decisions().some((d) => d.reason === 'byte-limit'), 5_000, 'the byte-limit line');
    const d = g.decisions().find((x) => x.reason === 'byte-limit')!;
    expect(d).toMatchObject({ decision: 'allow', host: 'up.test' });
    expect(d.bytesUp + d.bytesDown).toBeLessThanOrEqual(64 * 1024);
  });

  it('the time limit ends a tunnel (reason time-limit in the log)', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`], limits: { maxSeconds: 1 } });
    const t = await tunnel(g, 'up.test');
    t.tls.on('error', () => undefined);
    const started = Date.now();
    await closed(t.raw, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    await waitFor(() => g.decisions().some((d) => d.reason === 'time-limit'), 5_000, 'the time-limit line');
    expect(g.decisions().find((x) => x.reason === 'time-limit')).toMatchObject({ decision: 'allow', host: 'up.test' });
  });
});

describe('the policy file', () => {
  it('a rewrite (atomic rename) applies without a restart, and ends an open tunnel it no longer allows', async () => {
    const g = await gate({ allow: [] });
    expect((await connectVia(g.port, `up.test:${up.port}`)).status).toBe(403);
    g.writePolicy([`up.test:${up.port}`]);
    await waitFor(async () => (await connectVia(g.port, `other.test:${up.port}`)).status === 403 && ((await g.admin({ op: 'status' })).allow as string[]).length === 1, 5_000, 'the policy to apply');
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    g.writePolicy([]);
    await closed(t.raw);
    expect((await connectVia(g.port, `up.test:${up.port}`)).status).toBe(403);
    await waitFor(() => g.decisions().some((d) => d.decision === 'allow' && d.reason === 'not-allowed'), 5_000, 'the ended tunnel line');
  });

  it('a missing or invalid file denies everything (no-policy); writing a valid one fixes it', async () => {
    const g = await gate({ noPolicy: true });
    const st = await g.admin({ op: 'status' });
    expect(st.policyError).toMatch(/does not exist/);
    expectRefusal(await connectVia(g.port, `up.test:${up.port}`), 403, 'no-policy', 'up.test', up.port);
    fs.writeFileSync(g.policyFile, '{"allow": ["up.test:' + up.port + '", "1.2.3.4"]}');
    await waitFor(async () => /1\.2\.3\.4/.test(String((await g.admin({ op: 'status' })).policyError)), 5_000, 'the invalid file');
    expect((await connectVia(g.port, `up.test:${up.port}`)).status).toBe(403);
    expect(g.processLog.some((l) => l.includes('no valid policy'))).toBe(true);
    g.writePolicy([`up.test:${up.port}`]);
    await waitFor(async () => (await g.admin({ op: 'status' })).policyError === null, 5_000, 'the valid file');
    const t = await tunnel(g, 'up.test');
    t.tls.destroy();
  });
});

describe('the admin socket', () => {
  it('is mode 0600 and answers status; bad requests are errors that change nothing', async () => {
    const g = await gate({ allow: ['b.example.org', 'a.example.org'], deny: ['x.example.org'] });
    expect(fs.statSync(g.adminSocket).mode & 0o777).toBe(0o600);
    expect(await g.admin({ op: 'status' })).toEqual({
      ok: true,
      allow: ['b.example.org', 'a.example.org'],
      deny: ['x.example.org'],
      temporary: [],
      open: 0,
      pending: 0,
      policyError: null,
    });
    const fileBefore = fs.readFileSync(g.policyFile, 'utf8');
    expect(await g.admin({ op: 'allow', entry: '10.0.0.1' })).toMatchObject({ ok: false, error: expect.stringMatching(/IP literal/) });
    expect(await g.admin({ op: 'allow', entry: 'ok.example.org', seconds: -1 })).toMatchObject({ ok: false });
    expect(await g.admin({ op: 'deny', entry: 'http://x' })).toMatchObject({ ok: false });
    expect(await g.admin({ op: 'explode' })).toMatchObject({ ok: false, error: expect.stringMatching(/unknown op/) });
    expect(await g.admin('status')).toMatchObject({ ok: false });
    expect(fs.readFileSync(g.policyFile, 'utf8')).toBe(fileBefore);
  });

  it('a permanent allow rewrites the file sorted and unique (and removes the entry from deny)', async () => {
    const g = await gate({ allow: ['b.example.org'], deny: [`up.test:${up.port}`] });
    expect((await connectVia(g.port, `up.test:${up.port}`)).status).toBe(403);
    await g.admin({ op: 'allow', entry: 'a.example.org' });
    await g.admin({ op: 'allow', entry: 'B.example.org.' });
    await g.admin({ op: 'allow', entry: `up.test:${up.port}` });
    expect(JSON.parse(fs.readFileSync(g.policyFile, 'utf8'))).toEqual({ allow: ['a.example.org', 'b.example.org', `up.test:${up.port}`], deny: [] });
    expect(fs.readdirSync(g.dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    const t = await tunnel(g, 'up.test');
    t.tls.destroy();
  });

  it('a temporary allow works at once, is listed, writes nothing, and expires', async () => {
    const g = await gate({ allow: [] });
    const fileBefore = fs.readFileSync(g.policyFile, 'utf8');
    expect((await connectVia(g.port, `up.test:${up.port}`)).status).toBe(403);
    const r = await g.admin({ op: 'allow', entry: `up.test:${up.port}`, seconds: 0.6 });
    expect(r).toMatchObject({ ok: true, entry: `up.test:${up.port}`, expires: expect.any(String) });
    expect((await g.admin({ op: 'status' })).temporary).toEqual([{ entry: `up.test:${up.port}`, expires: r.expires }]);
    const t = await tunnel(g, 'up.test');
    expect(t.firstLine).toBe(`nonce:${up.nonce}`);
    t.tls.destroy();
    expect(fs.readFileSync(g.policyFile, 'utf8')).toBe(fileBefore);
    await sleep(800);
    expectRefusal(await connectVia(g.port, `up.test:${up.port}`), 403, 'not-allowed', 'up.test', up.port);
    expect((await g.admin({ op: 'status' })).temporary).toEqual([]);
  });

  it('deny closes an open tunnel it matches (logged), writes the file, and refuses new ones; allow again restores', async () => {
    const g = await gate({ allow: [`up.test:${up.port}`, `other.test:${up.port}`] });
    const t = await tunnel(g, 'up.test');
    const keep = await tunnel(g, 'other.test');
    t.tls.on('error', () => undefined);
    const r = await g.admin({ op: 'deny', entry: 'up.test' });
    expect(r).toMatchObject({ ok: true, entry: 'up.test', closed: 1 });
    await closed(t.raw);
    expect(keep.raw.destroyed).toBe(false);
    expect(JSON.parse(fs.readFileSync(g.policyFile, 'utf8'))).toEqual({ allow: [`other.test:${up.port}`, `up.test:${up.port}`], deny: ['up.test'] });
    await waitFor(() => g.decisions().some((d) => d.decision === 'allow' && d.reason === 'denied'), 5_000, 'the closed tunnel line');
    expectRefusal(await connectVia(g.port, `up.test:${up.port}`), 403, 'denied', 'up.test', up.port);
    await g.admin({ op: 'allow', entry: 'up.test' }); // removes the deny entry
    const again = await tunnel(g, 'up.test');
    expect(again.firstLine).toBe(`nonce:${up.nonce}`);
    again.tls.destroy();
    keep.tls.destroy();
  });

  it('pending lists refused destinations with counts, is cleared by a matching allow or deny, and is rebuilt from the log at start', async () => {
    const g = await gate({ allow: [] });
    await connectVia(g.port, `up.test:${up.port}`);
    await connectVia(g.port, `up.test:${up.port}`);
    await connectVia(g.port, `other.test:${up.port}`);
    await connectVia(g.port, 'a.wild.test:443');
    await connectVia(g.port, `127.0.0.1:${up.port}`);
    const p = (await g.admin({ op: 'pending' })).pending as Array<{ host: string; port: number; count: number; reason: string; first: string; last: string }>;
    expect(p.map((x) => [x.host, x.port, x.count, x.reason])).toEqual([
      ['up.test', up.port, 2, 'not-allowed'],
      ['other.test', up.port, 1, 'not-allowed'],
      ['a.wild.test', 443, 1, 'not-allowed'],
      ['127.0.0.1', up.port, 1, 'ip-literal'],
    ]);
    expect(Date.parse(p[0].last)).toBeGreaterThanOrEqual(Date.parse(p[0].first));
    expect((await g.admin({ op: 'status' })).pending).toBe(4);
    await g.admin({ op: 'allow', entry: `up.test:${up.port}` });
    await g.admin({ op: 'deny', entry: '*.wild.test' });
    const left = ((await g.admin({ op: 'pending' })).pending as Array<{ host: string }>).map((x) => x.host);
    expect(left).toEqual(['other.test', '127.0.0.1']);

    // a restart on the same log and policy rebuilds what is still undecided
    const { dir: d } = g;
    await g.close();
    gates.splice(gates.indexOf(g), 1);
    const g2 = await gate({ dir: d });
    const rebuilt = ((await g2.admin({ op: 'pending' })).pending as Array<{ host: string; count: number }>).map((x) => [x.host, x.count]);
    expect(rebuilt).toEqual([
      ['other.test', 1],
      ['127.0.0.1', 1],
    ]);
    const t = await tunnel(g2, 'up.test');
    t.tls.destroy();
  });

  it('a stale socket file is replaced at start; a non-socket file there is never removed', async () => {
    const d = tmpDir();
    const sock = path.join(d, 'admin.sock');
    // a process that dies without cleaning up leaves its socket file behind
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`], { timeout: 10_000 });
    expect(fs.existsSync(sock)).toBe(true);
    const g = await gate({ dir: d, allow: [] });
    expect((await g.admin({ op: 'status' })).ok).toBe(true);
    await g.close();
    gates.splice(gates.indexOf(g), 1);
    fs.writeFileSync(sock, 'not a socket');
    await expect(startGate({ dnsPort: dns.port, dir: d })).rejects.toThrow(/not a socket/);
    expect(fs.readFileSync(sock, 'utf8')).toBe('not a socket');
    fs.rmSync(d, { recursive: true, force: true });
  });
});
