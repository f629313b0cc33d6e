import * as fs from 'fs';
import * as path from 'path';
import {
  authenticate,
  bearerProtocolFor,
  downstreamResponseHeaders,
  cookieValues,
  extractCredentials,
  setsSessionCookie,
  injectUpstreamToken,
  makeSessionValue,
  originMatchesHost,
  readTokenFile,
  SESSION_COOKIE,
  sessionCookieHeader,
  tokensEqual,
  upstreamProtocols,
  upstreamRequestHeaders,
  verifySessionValue,
} from '../src/auth';
import { tmpDir } from './helpers';

const TOKEN = 'a'.repeat(20) + 'B'.repeat(20);

describe('tokensEqual', () => {
  it('accepts only the exact token, whatever the lengths involved (no exception on a length mismatch)', () => {
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual(TOKEN.slice(0, -1) + 'C', TOKEN)).toBe(false);
    expect(tokensEqual(TOKEN + 'x', TOKEN)).toBe(false);
    expect(tokensEqual(TOKEN.slice(0, 5), TOKEN)).toBe(false);
    expect(tokensEqual('', TOKEN)).toBe(false);
    expect(tokensEqual('x'.repeat(10_000), TOKEN)).toBe(false);
  });
});

describe('extractCredentials / authenticate', () => {
  it('takes a Bearer header first', () => {
    expect(extractCredentials({ authorization: `Bearer ${TOKEN}` })).toEqual({ bearer: TOKEN });
    expect(authenticate({ authorization: `bearer ${TOKEN}` }, TOKEN)).toEqual({ ok: true, via: 'bearer', authorizationIsOperator: true });
    expect(authenticate({ authorization: `Bearer ${TOKEN}x` }, TOKEN)).toEqual({ ok: false, reason: 'invalid' });
    expect(authenticate({ authorization: `Basic ${TOKEN}` }, TOKEN)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('with a valid session cookie, another Authorization header (OpenClaw\'s own token from its Control UI) is not the operator\'s', () => {
    const cookie = `${SESSION_COOKIE}=${makeSessionValue(TOKEN, 60)}`;
    expect(authenticate({ authorization: 'Bearer openclaw-token', cookie }, TOKEN)).toEqual({ ok: true, via: 'cookie', authorizationIsOperator: false });
    expect(authenticate({ authorization: `Bearer ${TOKEN}`, cookie }, TOKEN)).toEqual({ ok: true, via: 'cookie', authorizationIsOperator: true });
    // a bad cookie is not rescued by nothing
    expect(authenticate({ authorization: 'Bearer openclaw-token', cookie: `${SESSION_COOKIE}=v1.1.x.y` }, TOKEN)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('takes the bearer subprotocol (browsers), rejecting duplicates and bad encodings', () => {
    const headers = { 'sec-websocket-protocol': `${bearerProtocolFor(TOKEN)}, clawjail` };
    expect(authenticate(headers, TOKEN)).toEqual({ ok: true, via: 'protocol', authorizationIsOperator: false });
    expect(authenticate({ 'sec-websocket-protocol': bearerProtocolFor('wrong') }, TOKEN).ok).toBe(false);
    expect(extractCredentials({ 'sec-websocket-protocol': `${bearerProtocolFor('a')}, ${bearerProtocolFor('b')}` }).malformed).toMatch(/more than one/);
    expect(extractCredentials({ 'sec-websocket-protocol': 'clawjail.bearer.a+b/c=' }).malformed).toMatch(/base64url/);
  });

  it('takes a valid session cookie; expired, forged or other-token cookies fail', () => {
    const now = Date.now();
    const value = makeSessionValue(TOKEN, 60, now);
    expect(value).not.toContain(TOKEN);
    expect(authenticate({ cookie: `a=b; ${SESSION_COOKIE}=${value}` }, TOKEN, now)).toEqual({ ok: true, via: 'cookie', authorizationIsOperator: false });
    expect(authenticate({ cookie: `${SESSION_COOKIE}=${value}` }, TOKEN, now + 61_000)).toEqual({ ok: false, reason: 'expired-or-invalid-session' });
    expect(verifySessionValue(value, TOKEN, now + 61_000)).toBe(false); // expired
    expect(verifySessionValue(value, TOKEN.replace('a', 'c'), now)).toBe(false); // token rotated
    const [v, exp, nonce, mac] = value.split('.');
    expect(verifySessionValue([v, String(Number(exp) + 1000), nonce, mac].join('.'), TOKEN, now)).toBe(false); // extended
    expect(verifySessionValue('v1.1.2.3', TOKEN, now)).toBe(false);
    expect(authenticate({}, TOKEN)).toEqual({ ok: false, reason: 'missing' });
  });

  it('sets the cookie HttpOnly, Secure, SameSite=Strict with the __Host- prefix', () => {
    const h = sessionCookieHeader('v', 10);
    expect(h).toMatch(/^__Host-/);
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Max-Age=10']) expect(h).toContain(attr);
    expect(h).not.toMatch(/Domain=/i);
  });

  it('checks Origin against Host for cookie requests', () => {
    expect(originMatchesHost({ host: '127.0.0.1:8443' })).toBe(true);
    expect(originMatchesHost({ host: '127.0.0.1:8443', origin: 'https://127.0.0.1:8443' })).toBe(true);
    expect(originMatchesHost({ host: '127.0.0.1:8443', origin: 'http://127.0.0.1:8443' })).toBe(false);
    expect(originMatchesHost({ host: '127.0.0.1:8443', origin: 'https://evil.example' })).toBe(false);
  });
});

describe('what reaches OpenClaw', () => {
  it('strips the operator credentials, hop-by-hop and attribution headers, keeps the rest', () => {
    const out = upstreamRequestHeaders({
      host: '127.0.0.1:8443',
      authorization: `Bearer ${TOKEN}`,
      cookie: `${SESSION_COOKIE}=v1.x; theme=dark`,
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': '1',
      'keep-alive': '5',
      'x-forwarded-for': '8.8.8.8',
      'x-forwarded-host': 'evil',
      forwarded: 'for=8.8.8.8',
      'x-real-ip': '8.8.8.8',
      'tailscale-user-login': 'someone@example.com',
      'user-agent': 'ua',
      origin: 'https://127.0.0.1:8443',
      'sec-websocket-protocol': bearerProtocolFor(TOKEN),
      'sec-websocket-key': 'k',
    }, { websocket: true });
    expect(out).toEqual({ host: '127.0.0.1:8443', cookie: 'theme=dark', 'user-agent': 'ua', origin: 'https://127.0.0.1:8443' });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
  });

  it('never forwards a bearer subprotocol on a plain HTTP request either', () => {
    const out = upstreamRequestHeaders({
      host: '127.0.0.1:8443',
      'sec-websocket-protocol': bearerProtocolFor(TOKEN),
      accept: 'text/html',
    }, {});
    expect(out).toEqual({ host: '127.0.0.1:8443', accept: 'text/html' });
    expect(JSON.stringify(out)).not.toContain(Buffer.from(TOKEN).toString('base64url'));
  });

  it('offers the client subprotocols minus the bearer entry and the marker', () => {
    expect(upstreamProtocols(`${bearerProtocolFor(TOKEN)}, clawjail, openclaw.v4`)).toEqual(['openclaw.v4']);
  });

  it('does not let the upstream set our cookie (in any spelling a browser reads as it), HSTS, Clear-Site-Data or its own caching', () => {
    const out = downstreamResponseHeaders({
      'set-cookie': [
        `${SESSION_COOKIE}=forged; Path=/`,
        `${SESSION_COOKIE} =forged; Path=/`,
        `${SESSION_COOKIE}\t=; Max-Age=0`,
        ` ${SESSION_COOKIE.toUpperCase()}=x`,
        `=${SESSION_COOKIE}=nameless`,
        'ui=1',
        '__Host-other=2; Path=/; Secure',
      ],
      'strict-transport-security': 'max-age=1',
      'clear-site-data': '"cookies"',
      'cache-control': 'public, max-age=31536000, immutable',
      expires: 'Thu, 01 Dec 2099 00:00:00 GMT',
      pragma: 'cache',
      'transfer-encoding': 'chunked',
      'content-type': 'text/html',
    });
    // Every use of a proxied response goes back through the gateway (and its authentication).
    expect(out).toEqual({ 'set-cookie': ['ui=1', '__Host-other=2; Path=/; Secure'], 'content-type': 'text/html', 'cache-control': 'private, no-cache' });
  });

  it('takes any of several session cookies: one planted beside ours by the dashboard does not lock the operator out', () => {
    const good = makeSessionValue(TOKEN, 60);
    const planted = 'v1.9999999999.AAAA.forged';
    expect(authenticate({ cookie: `${SESSION_COOKIE}=${planted}; ${SESSION_COOKIE}=${good}` }, TOKEN)).toMatchObject({ ok: true, via: 'cookie' });
    expect(authenticate({ cookie: `${SESSION_COOKIE}=${planted}` }, TOKEN)).toMatchObject({ ok: false, reason: 'expired-or-invalid-session' });
    expect(cookieValues(`a=1; ${SESSION_COOKIE}=x; b=2;${SESSION_COOKIE} = y`, SESSION_COOKIE)).toEqual(['x', 'y']);
    expect(setsSessionCookie('other=1')).toBe(false);
  });

  it('injects OpenClaw\'s token only into a device-less connect request without credentials', () => {
    const connect = (params: Record<string, unknown>) => JSON.stringify({ type: 'req', id: '1', method: 'connect', params });
    const injected = JSON.parse(injectUpstreamToken(connect({ client: { id: 'cli' }, auth: { foo: 1 } }), 'OC')!);
    expect(injected.params.auth).toEqual({ foo: 1, token: 'OC' });
    expect(JSON.parse(injectUpstreamToken(connect({}), 'OC')!).params.auth).toEqual({ token: 'OC' });
    expect(injectUpstreamToken(connect({ auth: { token: 'mine' } }), 'OC')).toBeUndefined();
    expect(injectUpstreamToken(connect({ auth: { password: 'pw' } }), 'OC')).toBeUndefined();
    expect(injectUpstreamToken(connect({ device: { id: 'd', signature: 's' } }), 'OC')).toBeUndefined();
    expect(injectUpstreamToken(JSON.stringify({ type: 'req', id: '2', method: 'health', params: {} }), 'OC')).toBeUndefined();
    expect(injectUpstreamToken('not json', 'OC')).toBeUndefined();
    expect(injectUpstreamToken(connect({ pad: 'x'.repeat(70_000) }), 'OC')).toBeUndefined();
  });
});

describe('readTokenFile', () => {
  const dir = tmpDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content);
    return p;
  };
  it('reads one line, strips the newline, enforces length and charset without echoing the token', () => {
    expect(readTokenFile(file('ok', TOKEN + '\n'))).toBe(TOKEN);
    expect(() => readTokenFile(file('short', 'abc\n'), 'GATEWAY_TOKEN_FILE')).toThrow(/GATEWAY_TOKEN_FILE: .*at least 32/);
    let msg = '';
    try {
      readTokenFile(file('space', 'secret secret secret secret secret\n'));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/printable ASCII/);
    expect(msg).not.toContain('secret secret');
    expect(() => readTokenFile(path.join(dir, 'missing'), 'GATEWAY_TOKEN_FILE')).toThrow(/ENOENT/);
  });
});
