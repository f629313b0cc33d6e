import { ConfigError, helpText, isLoopbackHost, loadConfig, parseListen, SETTINGS } from '../src/config';

const BASE = { GATEWAY_TOKEN_FILE: '/run/secrets/token', GATEWAY_STATE_DIR: '/var/lib/clawjail-gateway' };

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has safe defaults: loopback listen, loopback upstream, bounded limits', () => {
    const c = loadConfig(BASE);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    // The login page is on its own origin by default: the next port, never the dashboard's.
    expect(c.loginListen).toEqual({ host: '127.0.0.1', port: 8444 });
    expect(c.publicPorts).toEqual({ dashboard: undefined, login: undefined });
    expect(loadConfig({ ...BASE, GATEWAY_LISTEN: '127.0.0.1:0' }).loginListen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.listenIsPublic).toBe(false);
    expect(c.upstream.href).toBe('ws://127.0.0.1:18789/');
    expect(c.limits).toEqual({
      maxPayload: 26214400,
      maxConnections: 100,
      handshakeTimeoutMs: 10000,
      idleTimeoutMs: 600000,
      upstreamTimeoutMs: 5000,
      ratePerMinute: 120,
      rateBurst: 30,
    });
    expect(c.stateDir).toBe('/var/lib/clawjail-gateway');
    expect(c.certFile).toBeUndefined();
    expect(c.upstreamTokenFile).toBeUndefined();
    expect(c.certNames).toEqual([]);
  });

  it('reads every setting', () => {
    const c = loadConfig({
      GATEWAY_LISTEN: '[::1]:9443',
      GATEWAY_UPSTREAM: 'ws://172.30.0.2:18789',
      GATEWAY_CERT: '/c.pem',
      GATEWAY_KEY: '/k.pem',
      GATEWAY_TOKEN_FILE: '/t',
      GATEWAY_UPSTREAM_TOKEN_FILE: '/u',
      GATEWAY_CERT_NAMES: 'vault.lan, 192.168.1.10',
      GATEWAY_CERT_DAYS: '90',
      GATEWAY_MAX_PAYLOAD: '1048576',
      GATEWAY_MAX_CONNECTIONS: '7',
      GATEWAY_HANDSHAKE_TIMEOUT_MS: '3000',
      GATEWAY_IDLE_TIMEOUT_MS: '0',
      GATEWAY_UPSTREAM_TIMEOUT_MS: '1500',
      GATEWAY_RATE_PER_MINUTE: '60',
      GATEWAY_RATE_BURST: '5',
      GATEWAY_SESSION_TTL_SECONDS: '3600',
      GATEWAY_LOGIN_LISTEN: '[::1]:9500',
      GATEWAY_PUBLIC_PORT: '443',
      GATEWAY_LOGIN_PUBLIC_PORT: '8444',
    });
    expect(c.listen).toEqual({ host: '::1', port: 9443 });
    expect(c.loginListen).toEqual({ host: '::1', port: 9500 });
    expect(c.publicPorts).toEqual({ dashboard: 443, login: 8444 });
    expect(c.listenIsPublic).toBe(false);
    expect(c.upstream.host).toBe('172.30.0.2:18789');
    expect([c.certFile, c.keyFile, c.tokenFile, c.upstreamTokenFile]).toEqual(['/c.pem', '/k.pem', '/t', '/u']);
    expect(c.certNames).toEqual(['vault.lan', '192.168.1.10']);
    expect(c.certDays).toBe(90);
    expect(c.sessionTtlSeconds).toBe(3600);
    expect(c.limits).toEqual({
      maxPayload: 1048576,
      maxConnections: 7,
      handshakeTimeoutMs: 3000,
      idleTimeoutMs: 0,
      upstreamTimeoutMs: 1500,
      ratePerMinute: 60,
      rateBurst: 5,
    });
  });

  it('flags a non-loopback bind as public', () => {
    expect(loadConfig({ ...BASE, GATEWAY_LISTEN: '0.0.0.0:8443' }).listenIsPublic).toBe(true);
    expect(loadConfig({ ...BASE, GATEWAY_LISTEN: '192.168.1.5:8443' }).listenIsPublic).toBe(true);
    expect(isLoopbackHost('127.0.0.2')).toBe(true);
    expect(isLoopbackHost('::')).toBe(false);
  });

  it.each([
    [{ GATEWAY_LISTEN: '8443' }, 'GATEWAY_LISTEN', /host:port/],
    [{ GATEWAY_LISTEN: 'example.com:8443' }, 'GATEWAY_LISTEN', /IP address/],
    [{ GATEWAY_LISTEN: '127.0.0.1:70000' }, 'GATEWAY_LISTEN', /0-65535/],
    [{ GATEWAY_UPSTREAM: 'http://127.0.0.1:18789' }, 'GATEWAY_UPSTREAM', /only ws:\/\//],
    [{ GATEWAY_UPSTREAM: 'wss://127.0.0.1:18789' }, 'GATEWAY_UPSTREAM', /only ws:\/\//],
    [{ GATEWAY_UPSTREAM: 'not a url' }, 'GATEWAY_UPSTREAM', /ws:\/\/ URL/],
    [{ GATEWAY_UPSTREAM: 'ws://u:p@127.0.0.1:1' }, 'GATEWAY_UPSTREAM', /credentials/],
    [{ GATEWAY_MAX_PAYLOAD: '10k' }, 'GATEWAY_MAX_PAYLOAD', /whole number/],
    [{ GATEWAY_MAX_PAYLOAD: '12' }, 'GATEWAY_MAX_PAYLOAD', /1024 to/],
    [{ GATEWAY_MAX_CONNECTIONS: '0' }, 'GATEWAY_MAX_CONNECTIONS', /1 to/],
    [{ GATEWAY_HANDSHAKE_TIMEOUT_MS: '-5' }, 'GATEWAY_HANDSHAKE_TIMEOUT_MS', /whole number/],
    [{ GATEWAY_IDLE_TIMEOUT_MS: '50' }, 'GATEWAY_IDLE_TIMEOUT_MS', /0 \(off\)/],
    [{ GATEWAY_RATE_PER_MINUTE: '1.5' }, 'GATEWAY_RATE_PER_MINUTE', /whole number/],
    [{ GATEWAY_RATE_BURST: '0' }, 'GATEWAY_RATE_BURST', /1 to/],
    [{ GATEWAY_CERT_NAMES: 'ok.example,bad name' }, 'GATEWAY_CERT_NAMES', /bad name/],
    [{ GATEWAY_CERT_DAYS: '5000' }, 'GATEWAY_CERT_DAYS', /1 to 3650/],
    [{ GATEWAY_CERT: '/c.pem' }, 'GATEWAY_KEY', /together/],
    [{ GATEWAY_KEY: '/k.pem' }, 'GATEWAY_CERT', /together/],
    [{ GATEWAY_LOGIN_LISTEN: '127.0.0.1:8443' }, 'GATEWAY_LOGIN_LISTEN', /another port than GATEWAY_LISTEN's/],
    [{ GATEWAY_LOGIN_LISTEN: 'nope' }, 'GATEWAY_LOGIN_LISTEN', /host:port/],
    [{ GATEWAY_LISTEN: '127.0.0.1:65535' }, 'GATEWAY_LOGIN_LISTEN', /login port explicitly/],
    [{ GATEWAY_PUBLIC_PORT: '8443', GATEWAY_LOGIN_PUBLIC_PORT: '8443' }, 'GATEWAY_LOGIN_PUBLIC_PORT', /must differ/],
    [{ GATEWAY_PUBLIC_PORT: '0' }, 'GATEWAY_PUBLIC_PORT', /1 to 65535/],
  ])('names the bad variable: %j', (bad, variable, message) => {
    const e = errorOf({ ...BASE, ...bad });
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
    expect(e.message).toMatch(message);
  });

  it('requires a token file and somewhere to get a certificate', () => {
    expect(errorOf({ GATEWAY_STATE_DIR: '/s' }).variable).toBe('GATEWAY_TOKEN_FILE');
    expect(errorOf({ GATEWAY_TOKEN_FILE: '/t' }).message).toMatch(/GATEWAY_STATE_DIR/);
  });

  it('parses IPv6 listen addresses in brackets', () => {
    expect(parseListen('[::]:443')).toEqual({ host: '::', port: 443 });
  });
});

describe('helpText', () => {
  it('lists every setting with its default', () => {
    const help = helpText();
    for (const s of SETTINGS) {
      expect(help).toContain(s.env);
      if (s.default) expect(help).toContain(`(default ${s.default})`);
    }
    expect(help).toMatch(/SIGHUP/);
  });
});
