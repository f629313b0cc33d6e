import { ConfigError, SETTINGS, helpText, parseConfig, parseSize } from '../src/config';

const base = { WARDEN_WATCH: '/srv/ws', WARDEN_QUARANTINE: '/srv/store' };

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('defaults are safe: fail-closed, inotify, auto concurrency, a bounded queue', () => {
    const c = parseConfig(base);
    expect(c.watch).toBe('/srv/ws');
    expect(c.quarantine).toBe('/srv/store');
    expect(c.clamd).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3310 });
    expect(c.unscannable).toBe('quarantine');
    expect(c.poll).toBe(false);
    expect(c.concurrency).toBe('auto');
    expect(c.queueMax).toBe(10000);
    expect(c.maxFileSize).toBe(100 * 1024 * 1024);
    expect(c.tmpGraceMs).toBe(2000);
    expect(c.healthPort).toBeNull();
    expect(c.healthFile).toBeNull();
  });

  test('every setting is parsed from its variable', () => {
    const c = parseConfig({
      ...base,
      WARDEN_CLAMD: 'unix:/run/clamav/clamd.sock',
      WARDEN_POLL: 'yes',
      WARDEN_POLL_INTERVAL_MS: '250',
      WARDEN_TMP_GRACE_MS: '500',
      WARDEN_UNSCANNABLE: 'allow',
      WARDEN_MAX_FILE_SIZE: '25M',
      WARDEN_CONCURRENCY: '3',
      WARDEN_QUEUE_MAX: '500',
      WARDEN_HEALTH_PORT: '8080',
      WARDEN_HEALTH_FILE: '/run/warden/health.json',
      WARDEN_AUDIT_CLEAN: 'false',
      WARDEN_LOG_LEVEL: 'debug',
    });
    expect(c.clamd).toEqual({ kind: 'unix', path: '/run/clamav/clamd.sock' });
    expect(c.poll).toBe(true);
    expect(c.pollIntervalMs).toBe(250);
    expect(c.tmpGraceMs).toBe(500);
    expect(c.unscannable).toBe('allow');
    expect(c.maxFileSize).toBe(25 * 1024 * 1024);
    expect(c.concurrency).toBe(3);
    expect(c.queueMax).toBe(500);
    expect(c.healthPort).toBe(8080);
    expect(c.healthFile).toBe('/run/warden/health.json');
    expect(c.auditClean).toBe(false);
    expect(c.logLevel).toBe('debug');
  });

  test('missing required variables are named', () => {
    const p = problems({});
    expect(p.some((l) => l.startsWith('WARDEN_WATCH: is required'))).toBe(true);
    expect(p.some((l) => l.startsWith('WARDEN_QUARANTINE: is required'))).toBe(true);
  });

  test('bad values name the variable and what is allowed, all at once', () => {
    const p = problems({ ...base, WARDEN_CLAMD: 'clamd:3310', WARDEN_UNSCANNABLE: 'ignore', WARDEN_MAX_FILE_SIZE: 'lots', WARDEN_CONCURRENCY: '0', WARDEN_POLL: 'maybe' });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^WARDEN_CLAMD: expected tcp:\/\/host:port or unix:\/path/),
        expect.stringMatching(/^WARDEN_UNSCANNABLE: expected one of quarantine, allow/),
        expect.stringMatching(/^WARDEN_MAX_FILE_SIZE: expected a size/),
        expect.stringMatching(/^WARDEN_CONCURRENCY: expected an integer 1\.\.64/),
        expect.stringMatching(/^WARDEN_POLL: expected true or false/),
      ]),
    );
  });

  test('relative paths are refused', () => {
    expect(problems({ WARDEN_WATCH: 'ws', WARDEN_QUARANTINE: '/j' })[0]).toMatch(/^WARDEN_WATCH: must be an absolute path/);
  });

  test('WARDEN_JAIL, the old name of WARDEN_QUARANTINE, is refused by name rather than ignored', () => {
    expect(problems({ ...base, WARDEN_JAIL: '/srv/old' })).toEqual(['WARDEN_JAIL: was renamed WARDEN_QUARANTINE: set that instead']);
  });

  test('a store inside the workspace (or the reverse) is refused', () => {
    expect(problems({ WARDEN_WATCH: '/srv/ws', WARDEN_QUARANTINE: '/srv/ws/store' })[0]).toMatch(/^WARDEN_QUARANTINE: must not overlap WARDEN_WATCH/);
    expect(problems({ WARDEN_WATCH: '/srv/j/ws', WARDEN_QUARANTINE: '/srv/j' })[0]).toMatch(/^WARDEN_QUARANTINE: must not overlap/);
    expect(() => parseConfig({ WARDEN_WATCH: '/srv/ws', WARDEN_QUARANTINE: '/srv/ws2' })).not.toThrow();
  });

  test('sizes', () => {
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseSize('10MiB')).toBe(10 * 1024 ** 2);
    expect(() => parseSize('-1')).toThrow();
    expect(() => parseSize('0')).toThrow();
  });

  test('--help lists every setting with its default', () => {
    const h = helpText();
    for (const s of SETTINGS) expect(h).toContain(s.env);
    expect(h).toContain('(required)');
    expect(h).toContain('(default: quarantine)');
  });
});
