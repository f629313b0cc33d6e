// The gateway in-process, with real TLS sockets on 127.0.0.1 and a real upstream ws server.
import * as https from 'https';
import * as net from 'net';
import * as tls from 'tls';
import WebSocket from 'ws';
import { bearerProtocolFor, SESSION_COOKIE } from '../src/auth';
import { FingerprintMismatchError, GatewayRefusedError, openPinnedWebSocket } from '../src/pinned';
import {
  closed,
  connect,
  freePort,
  httpsRequest,
  nextMessage,
  randomToken,
  startGateway,
  startImpostor,
  startUpstream,
  testCert,
  waitFor,
  type TestGateway,
  type Upstream,
} from './helpers';

jest.setTimeout(30_000);

async function refusal(p: Promise<unknown>): Promise<GatewayRefusedError> {
  try {
    const ws = (await p) as WebSocket;
    ws.terminate();
  } catch (e) {
    if (e instanceof GatewayRefusedError) return e;
    throw e;
  }
  throw new Error('expected the gateway to refuse the connection');
}

describe('gateway (in-process, real TLS)', () => {
  let up: Upstream;
  let gw: TestGateway;
  const cleanup: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    up = await startUpstream();
    gw = await startGateway({ upstreamUrl: up.url });
  });
  afterEach(async () => {
    await gw.close();
    await up.close();
    while (cleanup.length) await cleanup.pop()!();
  });
  afterEach(() => {
    // The operator token never appears in any log line.
    expect(JSON.stringify(gw.logs)).not.toContain(gw.token);
  });

  it('correct fingerprint + token: messages flow both ways, binary and text intact', async () => {
    const ws = await connect(gw);
    ws.send('hello vault');
    const m1 = await nextMessage(ws);
    expect(m1.data.toString()).toBe('hello vault');
    expect(m1.isBinary).toBe(false);
    const bin = Buffer.from([0, 1, 2, 250, 251, 252]);
    ws.send(bin);
    const m2 = await nextMessage(ws);
    expect(m2.isBinary).toBe(true);
    expect(Buffer.compare(m2.data, bin)).toBe(0);
    expect(up.wsConnections).toBe(1);
    expect(gw.gateway.stats().sessions).toBe(1);
    // The prisoner never sees the operator's credentials, nor forged attribution headers.
    const h = up.upgrades[0].headers;
    expect(h.authorization).toBeUndefined();
    expect(JSON.stringify(h)).not.toContain(gw.token);
    ws.close(1000);
    await waitFor(() => gw.gateway.stats().sessions === 0, 5_000, 'session to end');
  });

  it('a large exchange arrives complete and in order (backpressure path)', async () => {
    const ws = await connect(gw);
    const chunk = Buffer.alloc(60 * 1024, 7);
    const n = 200; // 12 MB each way
    let got = 0;
    let bytes = 0;
    const done = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        expect(d.readUInt32BE(0)).toBe(got);
        bytes += d.length;
        if (++got === n) resolve();
      }),
    );
    for (let i = 0; i < n; i++) {
      const b = Buffer.from(chunk);
      b.writeUInt32BE(i, 0);
      ws.send(b);
    }
    await done;
    expect(bytes).toBe(n * chunk.length);
    ws.close();
  });

  it('wrong fingerprint: the client refuses, showing both fingerprints; nothing reaches the gateway or upstream', async () => {
    const wrong = testCert().fingerprint.replace(/^../, testCert().fingerprint.startsWith('AA') ? 'BB' : 'AA');
    let err: unknown;
    try {
      await connect(gw, { fingerprint: wrong });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FingerprintMismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain(`expected (pinned): ${wrong}`);
    expect(msg).toContain(`presented:         ${gw.fingerprint}`);
    expect(up.tcpConnections).toBe(0);
    expect(gw.gateway.stats().refused.unauthorized).toBe(0); // no request was even sent
  });

  it.each([
    ['missing token', null],
    ['wrong token of the same length', 'same-length'],
    ['token of a different length', 'short'],
    ['token with one byte appended', 'appended'],
  ])('%s: 401 and the upstream saw ZERO connections', async (_name, kind) => {
    const token =
      kind === null
        ? null
        : kind === 'same-length'
          ? randomToken().slice(0, gw.token.length).padEnd(gw.token.length, 'x')
          : kind === 'short'
            ? 'short-token'
            : gw.token + 'x';
    expect(token).not.toBe(gw.token);
    const r = await refusal(connect(gw, { token }));
    expect(r.status).toBe(401);
    expect(r.body).toMatch(/unauthorized/);
    expect(up.tcpConnections).toBe(0);
    expect(up.wsConnections).toBe(0);
    expect(gw.gateway.stats().refused.unauthorized).toBe(1);
  });

  it('a bad session cookie or a malformed Authorization header is refused too, before any upstream connection', async () => {
    const cookieRefusal = await refusal(connect(gw, { token: null, headers: { Cookie: `${SESSION_COOKIE}=v1.9999999999.AAAAAAAAAAAAAAAA.${'A'.repeat(43)}` } }));
    expect(cookieRefusal.status).toBe(401);
    const basic = await refusal(connect(gw, { token: null, headers: { Authorization: `Basic ${gw.token}` } }));
    expect(basic.status).toBe(401);
    expect(up.tcpConnections).toBe(0);
  });

  it('browser variant: the token as a bearer subprotocol; the gateway selects "clawjail" and strips the bearer entry', async () => {
    const ws = await connect(gw, { token: null, protocols: [bearerProtocolFor(gw.token), 'clawjail'] });
    expect(ws.protocol).toBe('clawjail');
    ws.send('x');
    expect((await nextMessage(ws)).data.toString()).toBe('x');
    expect(up.upgrades[0].headers['sec-websocket-protocol']).toBeUndefined();
    ws.close();
    const bad = await refusal(connect(gw, { token: null, protocols: [bearerProtocolFor('nope'), 'clawjail'] }));
    expect(bad.status).toBe(401);
    expect(up.wsConnections).toBe(1);
  });

  it('an oversized frame from the client closes the session with 1009', async () => {
    const ws = await connect(gw);
    await waitFor(() => up.sockets.size === 1, 5_000, 'upstream session');
    const upWs = [...up.sockets][0];
    const upClosed = closed(upWs);
    ws.send(Buffer.alloc(64 * 1024 + 1));
    const c = await closed(ws);
    expect(c.code).toBe(1009);
    expect((await upClosed).code).toBe(1009);
    expect(up.messages).toHaveLength(0);
    expect(gw.gateway.stats().refused.tooLarge).toBe(1);
  });

  it('an oversized frame from the upstream closes the client with 1009', async () => {
    up.onConnection = (ws) => ws.on('message', () => ws.send(Buffer.alloc(64 * 1024 + 1)));
    const ws = await connect(gw);
    ws.send('give me too much');
    const c = await closed(ws);
    expect(c.code).toBe(1009);
    expect(c.reason).toMatch(/too big/);
  });

  it('close codes and reasons are mirrored both ways; an upstream crash becomes 1011', async () => {
    let upWs!: WebSocket;
    up.onConnection = (w) => (upWs = w);
    const a = await connect(gw);
    await waitFor(() => Boolean(upWs));
    const aClosed = closed(a);
    upWs.close(4001, 'bye from openclaw');
    expect(await aClosed).toEqual({ code: 4001, reason: 'bye from openclaw' });

    upWs = undefined as unknown as WebSocket;
    const b = await connect(gw);
    await waitFor(() => Boolean(upWs));
    const upClosed = closed(upWs);
    b.close(4002, 'operator done');
    expect(await upClosed).toEqual({ code: 4002, reason: 'operator done' });

    upWs = undefined as unknown as WebSocket;
    const c = await connect(gw);
    await waitFor(() => Boolean(upWs));
    const cClosed = closed(c);
    upWs.terminate(); // the upstream dies without a close frame
    expect(await cClosed).toEqual({ code: 1011, reason: 'upstream connection lost' });
  });

  it('HTTP: the dashboard is proxied only after auth; credentials and forged attribution stay out', async () => {
    const cert = testCert().certPem;
    const anon = await httpsRequest(gw.port, cert, { path: '/ui' });
    expect(anon.status).toBe(401);
    const html = await httpsRequest(gw.port, cert, { path: '/ui?x=1', headers: { Accept: 'text/html' } });
    expect(html.status).toBe(303);
    expect(html.headers.location).toBe(`https://127.0.0.1:${gw.loginPort}/__clawjail/login?next=%2Fui%3Fx%3D1`);
    expect(up.tcpConnections).toBe(0);

    const ok = await httpsRequest(gw.port, cert, {
      path: '/ui?x=1',
      headers: { Authorization: `Bearer ${gw.token}`, 'X-Forwarded-For': '8.8.8.8', 'X-Real-IP': '8.8.8.8' },
    });
    expect(ok.status).toBe(200);
    const seen = JSON.parse(ok.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/ui?x=1');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBeUndefined();
    expect(seen.headers['x-real-ip']).toBeUndefined();
    expect(seen.headers.host).toBe(`127.0.0.1:${gw.port}`); // Host kept: OpenClaw's same-origin check works
    // The upstream may not plant our session cookie nor HSTS.
    expect(ok.headers['set-cookie']).toEqual(['upstream=1; Path=/']);
    expect(ok.headers['strict-transport-security']).toBeUndefined();

    const health = await httpsRequest(gw.port, cert, { path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ ok: true, service: 'clawjail-gateway', sessions: 0 });
  });

  it('HTTP: slow answers are not cut (only connecting is timed); keep-alive sockets closed by the upstream are retried', async () => {
    await gw.close();
    gw = await startGateway({ upstreamUrl: up.url, limits: { upstreamTimeoutMs: 200 } });
    const cert = testCert().certPem;
    const auth = { Authorization: `Bearer ${gw.token}` };
    expect((await httpsRequest(gw.port, cert, { path: '/slow', headers: auth })).status).toBe(200);
    // An upstream that closes every keep-alive socket when a second request arrives on it (what
    // happens when its idle timer fires just as the gateway reuses the socket): deterministic race.
    const sockets: net.Socket[] = [];
    const flaky = net.createServer((sock) => {
      sockets.push(sock);
      let served = 0;
      sock.on('data', (d: Buffer) => {
        if (!d.includes('\r\n\r\n')) return;
        if (served++ > 0) return void sock.destroy();
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', () => r()));
    const flakyGw = await startGateway({ upstreamUrl: `ws://127.0.0.1:${(flaky.address() as net.AddressInfo).port}` });
    cleanup.push(async () => {
      await flakyGw.close();
      sockets.forEach((x) => x.destroy());
      await new Promise<void>((r) => flaky.close(() => r()));
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await httpsRequest(flakyGw.port, cert, { path: `/asset/${i}`, headers: { Authorization: `Bearer ${flakyGw.token}` } })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(sockets.length).toBeGreaterThanOrEqual(5); // reuse was attempted and failed each time
    expect(flakyGw.logs.filter((l) => l.msg === 'upstream http error')).toEqual([]);
    expect(gw.logs.filter((l) => l.msg === 'upstream http error')).toEqual([]);
  });

  it('HTTP: the login form, on its own origin, sets a session cookie that opens the dashboard and the WebSocket; cross-origin use is refused', async () => {
    const cert = testCert().certPem;
    const loginOrigin = `https://127.0.0.1:${gw.loginPort}`;
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    // The dashboard origin takes no token and serves no form: it points to the login origin.
    const here = await httpsRequest(gw.port, cert, { path: '/__clawjail/login?next=%2Fdash' });
    expect(here.status).toBe(303);
    expect(here.headers.location).toBe(`${loginOrigin}/__clawjail/login?next=%2Fdash`);
    const postHere = await httpsRequest(gw.port, cert, { method: 'POST', path: '/__clawjail/login', headers: form, body: `token=${gw.token}` });
    expect(postHere.status).toBe(404);
    expect(postHere.headers['set-cookie']).toBeUndefined();

    const page = await httpsRequest(gw.loginPort, cert, { path: '/__clawjail/login?next=%2Fdash' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('name="token"');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    // The login origin serves nothing of OpenClaw's, authenticated or not.
    for (const path of ['/dash', '/api/x']) {
      expect((await httpsRequest(gw.loginPort, cert, { path, headers: { Authorization: `Bearer ${gw.token}` } })).status).toBe(404);
    }
    expect((await refusal(connect({ ...gw, url: `wss://127.0.0.1:${gw.loginPort}/` }))).status).toBe(404);
    expect(up.tcpConnections).toBe(0);

    const wrong = await httpsRequest(gw.loginPort, cert, { method: 'POST', path: '/__clawjail/login', headers: form, body: 'token=wrong&next=%2Fdash' });
    expect(wrong.status).toBe(401);
    // A form on the dashboard origin posting to the login origin (login CSRF, forced logout) is refused.
    for (const path of ['/__clawjail/login', '/__clawjail/logout']) {
      const csrf = await httpsRequest(gw.loginPort, cert, {
        method: 'POST',
        path,
        headers: { ...form, Origin: `https://127.0.0.1:${gw.port}` },
        body: new URLSearchParams({ token: gw.token }).toString(),
      });
      expect(csrf.status).toBe(403);
      expect(csrf.headers['set-cookie']).toBeUndefined();
    }
    const login = await httpsRequest(gw.loginPort, cert, {
      method: 'POST',
      path: '/__clawjail/login',
      headers: { ...form, Origin: loginOrigin },
      body: new URLSearchParams({ token: gw.token, next: '//evil.example/' }).toString(),
    });
    expect(login.status).toBe(200);
    expect(login.body).toContain(`url=https://127.0.0.1:${gw.port}/"`); // open redirects are not followed
    const setCookie = (login.headers['set-cookie'] ?? [])[0];
    expect(setCookie).toMatch(/^__Host-clawjail-session=v1\./);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).not.toContain(gw.token);
    const cookie = setCookie.split(';')[0];

    const dash = await httpsRequest(gw.port, cert, { path: '/dash', headers: { Cookie: cookie } });
    expect(dash.status).toBe(200);
    // OpenClaw's Control UI sends OpenClaw's own token as Authorization: passed on with the cookie,
    // while the operator token is never passed on.
    const ui = await httpsRequest(gw.port, cert, { path: '/api/x', headers: { Cookie: cookie, Authorization: 'Bearer openclaw-own-token' } });
    expect(ui.status).toBe(200);
    expect(JSON.parse(ui.body).headers.authorization).toBe('Bearer openclaw-own-token');
    expect(JSON.parse(ui.body).headers.cookie).toBeUndefined();
    const both = await httpsRequest(gw.port, cert, { path: '/api/x', headers: { Cookie: cookie, Authorization: `Bearer ${gw.token}` } });
    expect(JSON.parse(both.body).headers.authorization).toBeUndefined();
    const cross = await httpsRequest(gw.port, cert, { path: '/dash', headers: { Cookie: cookie, Origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);

    const ws = await connect(gw, { token: null, headers: { Cookie: cookie, Origin: `https://127.0.0.1:${gw.port}` } });
    ws.send('via cookie');
    expect((await nextMessage(ws)).data.toString()).toBe('via cookie');
    ws.close();
    const crossWs = await refusal(connect(gw, { token: null, headers: { Cookie: cookie, Origin: 'https://evil.example' } }));
    expect(crossWs.status).toBe(403);

    const logout = await httpsRequest(gw.loginPort, cert, { method: 'POST', path: '/__clawjail/logout', headers: { ...form, Origin: loginOrigin } });
    expect(logout.status).toBe(303);
    expect((logout.headers['set-cookie'] ?? [])[0]).toMatch(/^__Host-clawjail-session=; Max-Age=0/);
  });

  it('HTTP: the dashboard origin registers no service worker, and its script cannot spend the login origin\'s allowance', async () => {
    const cert = testCert().certPem;
    const auth = { Authorization: `Bearer ${gw.token}` };
    // A service worker would outlive the session and answer the next visit itself.
    for (const headers of [{ 'Service-Worker': 'script' }, { 'Sec-Fetch-Dest': 'serviceworker' }] as Record<string, string>[]) {
      const sw = await httpsRequest(gw.port, cert, { path: '/sw.js', headers: { ...auth, ...headers } });
      expect(sw.status).toBe(403);
    }
    expect(up.httpRequests).toEqual([]);
    expect((await httpsRequest(gw.port, cert, { path: '/sw.js', headers: auth })).status).toBe(200); // the same script as a plain fetch
    // Cached copies are always revalidated through the gateway.
    expect((await httpsRequest(gw.port, cert, { path: '/x', headers: auth })).headers['cache-control']).toBe('private, no-cache');

    await gw.close();
    gw = await startGateway({ upstreamUrl: up.url, limits: { rateBurst: 5, ratePerMinute: 1 } });
    // The dashboard's script, in the operator's browser (same address), fails authentication
    // until the dashboard origin says 429; the login origin still serves the operator.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await httpsRequest(gw.port, cert, { path: '/x', headers: { Authorization: 'Bearer wrong' } })).status);
    expect(statuses.slice(-1)).toEqual([429]);
    expect((await httpsRequest(gw.loginPort, cert, { path: '/__clawjail/login' })).status).toBe(200);
  });

  it('HTTP: a login posted from another site is refused even with no Origin header; logout also clears a Partitioned copy', async () => {
    const cert = testCert().certPem;
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const crossSite = await httpsRequest(gw.loginPort, cert, {
      method: 'POST', path: '/__clawjail/login', headers: { ...form, 'Sec-Fetch-Site': 'same-site' }, body: new URLSearchParams({ token: gw.token }).toString(),
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    const sameOrigin = await httpsRequest(gw.loginPort, cert, {
      method: 'POST', path: '/__clawjail/login', headers: { ...form, 'Sec-Fetch-Site': 'same-origin' }, body: new URLSearchParams({ token: gw.token }).toString(),
    });
    expect(sameOrigin.status).toBe(200);
    const logout = await httpsRequest(gw.loginPort, cert, { method: 'POST', path: '/__clawjail/logout', headers: form });
    expect(logout.headers['set-cookie']).toHaveLength(2);
    expect((logout.headers['set-cookie'] ?? [])[1]).toMatch(/Max-Age=0.*Partitioned$/);
  });

  it('TLS: 1.2 is the floor, 1.3 is what a current client gets', async () => {
    const v13 = await new Promise<string | null>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: gw.port, ca: testCert().certPem, servername: 'localhost' }, () => {
        resolve(s.getProtocol());
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(v13).toBe('TLSv1.3');
    const v11 = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: gw.port, ca: testCert().certPem, servername: 'localhost', minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }, () => {
        resolve('connected');
        s.destroy();
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(v11).not.toBe('connected');
  });

  it('token rotation (reload) closes open sessions with 1008; the old token is refused, the new one works', async () => {
    const ws = await connect(gw);
    const wsClosed = closed(ws);
    const next = randomToken();
    gw.gateway.reload({ token: next });
    expect(await wsClosed).toEqual({ code: 1008, reason: 'operator token rotated' });
    expect((await refusal(connect(gw))).status).toBe(401);
    const again = await connect(gw, { token: next });
    again.close();
    gw.token = next;
  });

  it('the upstream token is injected into a device-less connect request only', async () => {
    await gw.close();
    const ocToken = randomToken();
    gw = await startGateway({ upstreamUrl: up.url, upstreamToken: ocToken });
    const ws = await connect(gw);
    ws.send(JSON.stringify({ type: 'req', id: 'c', method: 'connect', params: { client: { id: 'cli', mode: 'cli' } } }));
    const first = JSON.parse((await nextMessage(ws)).data.toString());
    expect(first.params.auth).toEqual({ token: ocToken });
    // only the first frame is ever touched
    ws.send(JSON.stringify({ type: 'req', id: 'd', method: 'connect', params: {} }));
    expect(JSON.parse((await nextMessage(ws)).data.toString()).params.auth).toBeUndefined();
    ws.close();
    // HTTP requests carry OpenClaw's token instead of the operator's
    const r = await httpsRequest(gw.port, testCert().certPem, { path: '/api', headers: { Authorization: `Bearer ${gw.token}` } });
    expect(JSON.parse(r.body).headers.authorization).toBe(`Bearer ${ocToken}`);
    expect(JSON.stringify(gw.logs)).not.toContain(ocToken);
  });
});

describe('gateway limits', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });

  it('max connections: one more gets 503; a slot frees when a session ends', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { maxConnections: 3 } });
    cleanup.push(() => up.close(), () => gw.close());
    const open = await Promise.all([connect(gw), connect(gw), connect(gw)]);
    const r = await refusal(connect(gw));
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/too many connections/);
    expect(up.wsConnections).toBe(3);
    const c = closed(open[0]);
    open[0].close();
    await c;
    await waitFor(() => gw.gateway.stats().sessions === 2);
    const again = await connect(gw);
    expect(up.wsConnections).toBe(4);
    [again, ...open].forEach((w) => w.close());
  });

  it('per-client rate limit: the connection after the burst gets 429 with Retry-After', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { rateBurst: 4, ratePerMinute: 6 } });
    cleanup.push(() => up.close(), () => gw.close());
    const ok = [];
    for (let i = 0; i < 4; i++) ok.push(await connect(gw));
    const r = await refusal(connect(gw));
    expect(r.status).toBe(429);
    expect(r.body).toMatch(/rate limited/);
    expect(up.wsConnections).toBe(4);
    expect(gw.gateway.stats().refused.rateLimited).toBe(1);
    ok.forEach((w) => w.close());
  });

  it('failed authentication attempts are rate limited too (no brute force over one keep-alive connection)', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { rateBurst: 3, ratePerMinute: 6 } });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: testCert().certPem });
    cleanup.push(() => up.close(), () => gw.close(), async () => agent.destroy());
    const seen: object[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port: gw.port, path: '/', agent, headers: { Authorization: 'Bearer wrong-token' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('socket', (s) => seen.push(s));
          req.on('error', reject);
          req.end();
        }),
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // The first four went over ONE TLS connection: it is the failed-auth limit, not the
    // connection-rate limit, that stopped the 4th (the 429 then closes the connection).
    expect(new Set(seen.slice(0, 4)).size).toBe(1);
    expect(up.tcpConnections).toBe(0);
  });

  it('a slow TLS handshake (TCP connect, then silence) is closed after the handshake timeout', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { handshakeTimeoutMs: 400 } });
    cleanup.push(() => up.close(), () => gw.close());
    const started = Date.now();
    const sock = net.connect(gw.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const ended = await new Promise<number>((resolve) => {
      sock.on('close', () => resolve(Date.now() - started));
      sock.on('error', () => undefined);
      setTimeout(() => resolve(-1), 5_000);
    });
    expect(ended).toBeGreaterThanOrEqual(350);
    expect(ended).toBeLessThan(2_500);
    expect(gw.gateway.stats().tlsErrors).toBeGreaterThanOrEqual(1);
    expect(up.tcpConnections).toBe(0);
  });

  it('TLS done but no request (slowloris after the handshake) is closed too', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { handshakeTimeoutMs: 400 } });
    cleanup.push(() => up.close(), () => gw.close());
    const started = Date.now();
    const sock = tls.connect({ host: '127.0.0.1', port: gw.port, ca: testCert().certPem, servername: 'localhost' });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finish
    let answer = '';
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    const ended = await new Promise<number>((resolve) => {
      sock.on('close', () => resolve(Date.now() - started));
      sock.on('error', () => undefined);
      setTimeout(() => resolve(-1), 5_000);
    });
    expect(ended).toBeGreaterThan(0);
    expect(ended).toBeLessThan(3_000);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });

  it('idle timeout closes a silent session with 1000 "idle timeout"; an active one survives', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url, limits: { idleTimeoutMs: 600 } });
    cleanup.push(() => up.close(), () => gw.close());
    const idle = await connect(gw);
    const active = await connect(gw);
    const started = Date.now();
    const idleClosed = closed(idle, 5_000);
    let activeClosed = false;
    active.on('close', () => (activeClosed = true));
    const pinger = setInterval(() => active.send('ping'), 100);
    const c = await idleClosed;
    const elapsed = Date.now() - started;
    expect(c).toEqual({ code: 1000, reason: 'idle timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 800));
    clearInterval(pinger);
    expect(activeClosed).toBe(false);
    active.close();
  });

  it('upstream down: WebSocket gets a clean 503, HTTP gets 503; nothing hangs', async () => {
    const deadPort = await freePort();
    const gw = await startGateway({ upstreamUrl: `ws://127.0.0.1:${deadPort}` });
    cleanup.push(() => gw.close());
    const r = await refusal(connect(gw));
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/upstream .*not reachable/);
    const h = await httpsRequest(gw.port, testCert().certPem, { path: '/', headers: { Authorization: `Bearer ${gw.token}` } });
    expect(h.status).toBe(503);
    expect(gw.gateway.stats().pendingUpstream).toBe(0);
    expect(gw.gateway.stats().refused.upstreamUnavailable).toBe(2);
  });

  it('upstream that refuses the WebSocket handshake: 502', async () => {
    const up = await startUpstream();
    up.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, 403);
    const gw = await startGateway({ upstreamUrl: up.url });
    cleanup.push(() => up.close(), () => gw.close());
    const r = await refusal(connect(gw));
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/HTTP 403/);
  });

  it('gateway shutdown closes sessions with 1001', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url });
    cleanup.push(() => up.close());
    const ws = await connect(gw);
    const c = closed(ws);
    await gw.close();
    expect(await c).toEqual({ code: 1001, reason: 'gateway shutting down' });
  });
});

describe('impersonation (the prisoner squats the gateway port)', () => {
  it('a pinned client refuses an impostor on the same port with its own self-signed certificate; the impostor gets zero bytes', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ upstreamUrl: up.url });
    const port = gw.port;
    const ok = await connect(gw);
    ok.close();
    await gw.close();

    // The prisoner binds the port the operator knows, with a certificate it made itself
    // (same subject, same names: only the key differs).
    const impostor = await startImpostor(port);
    try {
      let err: unknown;
      try {
        await openPinnedWebSocket(`wss://127.0.0.1:${port}/`, { fingerprint: gw.fingerprint, token: gw.token, timeoutMs: 3_000 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FingerprintMismatchError);
      expect((err as FingerprintMismatchError).expected).toBe(gw.fingerprint);
      expect((err as FingerprintMismatchError).presented).not.toBe(gw.fingerprint);
      expect((err as Error).message).toContain(impostor.fingerprint);
      await new Promise((r) => setTimeout(r, 200));
      expect(impostor.tcpConnections()).toBe(1); // it was reached...
      expect(impostor.bytesReceived()).toBe(0); // ...and learned nothing: no request, no token

      // Control: a client that does not pin (rejectUnauthorized: false and nothing else) would
      // have handed the impostor its request, token included. The byte counter does work.
      const naive = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () =>
        naive.write(`GET / HTTP/1.1\r\nAuthorization: Bearer ${gw.token}\r\n\r\n`),
      );
      naive.on('error', () => undefined);
      await waitFor(() => impostor.bytesReceived() > 0, 3_000, 'the impostor to receive the naive request');
      naive.destroy();
    } finally {
      await impostor.close();
      await up.close();
    }
  });
});
