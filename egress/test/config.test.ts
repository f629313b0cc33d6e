// Environment parsing: every error names its variable.
import { ConfigError, helpText, loadConfig, parseExtraBlocked, SETTINGS } from '../src/config';

const BASE = {
  EGRESS_LISTEN: '172.29.79.2:3128',
  EGRESS_POLICY_FILE: '/var/lib/clawjail-egress/policy.json',
  EGRESS_RESOLVER: '127.0.0.11:53',
  EGRESS_LOG: '/var/lib/clawjail-egress/decisions.jsonl',
  EGRESS_ADMIN_SOCKET: '/var/lib/clawjail-egress/admin.sock',
};

function errorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('parses a full environment with the defaults', () => {
    const c = loadConfig({ ...BASE, EGRESS_EXTRA_BLOCKED: ' 203.0.113.0/24, 198.51.100.0/24 ' });
    expect(c.listen).toEqual({ host: '172.29.79.2', port: 3128 });
    expect(c.resolver).toEqual({ host: '127.0.0.11', port: 53 });
    expect(c.extraBlocked).toEqual(['203.0.113.0/24', '198.51.100.0/24']);
    expect(c.providersFile).toBeUndefined();
    expect(c.limits).toEqual({ maxConnections: 256, maxBytes: 4 * 1024 ** 3, maxSeconds: 3600, maxHeaderBytes: 16384 });
    expect(loadConfig({ ...BASE, EGRESS_LISTEN: '[::1]:0' }).listen).toEqual({ host: '::1', port: 0 });
  });

  it.each(['EGRESS_LISTEN', 'EGRESS_POLICY_FILE', 'EGRESS_RESOLVER', 'EGRESS_LOG', 'EGRESS_ADMIN_SOCKET'])('%s is required', (name) => {
    const e = errorOf({ ...BASE, [name]: undefined });
    expect(e.variable).toBe(name);
    expect(e.message).toMatch(new RegExp(`^${name}: is required`));
    expect(errorOf({ ...BASE, [name]: '  ' }).variable).toBe(name);
  });

  it.each([
    ['EGRESS_LISTEN', 'localhost:3128'],
    ['EGRESS_LISTEN', '0.0.0.0'],
    ['EGRESS_LISTEN', '1.2.3.4:70000'],
    ['EGRESS_RESOLVER', '127.0.0.11:0'],
    ['EGRESS_RESOLVER', 'dns.example:53'],
    ['EGRESS_EXTRA_BLOCKED', '10.0.0.1/8'],
    ['EGRESS_EXTRA_BLOCKED', 'fc00::/7'],
    ['EGRESS_MAX_CONNECTIONS', '0'],
    ['EGRESS_MAX_CONNECTIONS', 'many'],
    ['EGRESS_MAX_BYTES', '-1'],
    ['EGRESS_MAX_BYTES', '1.5'],
    ['EGRESS_MAX_SECONDS', '0'],
    ['EGRESS_MAX_HEADER_BYTES', '100'],
    ['EGRESS_ADMIN_SOCKET', '/' + 'x'.repeat(120)],
  ])('%s=%j is refused, naming the variable', (name, value) => {
    const e = errorOf({ ...BASE, [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message.startsWith(`${name}: `)).toBe(true);
  });

  it('parseExtraBlocked: empty is none', () => {
    expect(parseExtraBlocked(undefined)).toEqual([]);
    expect(parseExtraBlocked(' , ')).toEqual([]);
  });

  it('--help text lists every setting', () => {
    const h = helpText();
    for (const s of SETTINGS) expect(h).toContain(s.env);
    expect(SETTINGS.map((s) => s.env).sort()).toEqual(
      [
        'EGRESS_LISTEN', 'EGRESS_POLICY_FILE', 'EGRESS_RESOLVER', 'EGRESS_LOG', 'EGRESS_PROVIDERS_FILE', 'EGRESS_ADMIN_SOCKET',
        'EGRESS_EXTRA_BLOCKED', 'EGRESS_MAX_CONNECTIONS', 'EGRESS_MAX_BYTES', 'EGRESS_MAX_SECONDS', 'EGRESS_MAX_HEADER_BYTES',
      ].sort(),
    );
  });
});
