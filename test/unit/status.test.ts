// clawjail status: the judgement of each part (pure), from a healthy jail's facts with one part
// broken at a time. The same command against a real deployed jail: test/e2e/pulumi.e2e.test.ts.
import { parseStatusArgs } from '../../cli/commands/status';
import { parseMemUsage } from '../../cli/statusProbe';
import { assessStatus, formatStatus, signatureDate, type StatusFacts } from '../../cli/statusReport';

const FP = Array(32).fill('AB').join(':');
const NOW = new Date('2026-12-03T10:00:00Z');

function healthy(): StatusFacts {
  const c = (role: string) => ({ role, name: `cj-${role}`, exists: true, status: 'running', health: 'healthy', restarts: 0, memoryBytes: 50 << 20, memoryLimitBytes: 512 << 20 });
  return {
    stack: 'dev',
    now: NOW,
    containers: ['clamd', 'freshclam', 'warden', 'egress', 'gateway', 'cell'].map(c),
    moat: { ok: true, value: { state: 'in-sync', rules: 60, missing: 0, added: 0 } },
    warden: {
      ok: true,
      value: {
        status: 'ok', reasons: [], queue: { pending: 0, inflight: 0 }, clamd: { up: true, version: 'ClamAV 1.0.7/27468/Wed Dec  2 08:00:00 2026' },
        startupScan: { state: 'done' }, lastScanAt: '2026-12-03T09:59:00.000Z', quarantinedLastDay: 2, counters: { scans: 1234, quarantined: 3 },
      },
    },
    sentry: { ok: true, value: { updatedAt: '2026-12-03T09:59:59.000Z', cellFrozen: false, why: 'warden ok' } },
    signatures: 'freshclam',
    gateway: { url: 'wss://127.0.0.1:8443', served: { ok: true, value: FP }, presented: { ok: true, value: FP }, loginUrl: 'https://127.0.0.1:8444/__clawjail/login', presentedLogin: { ok: true, value: FP }, sessions: { ok: true, value: 1 } },
    egress: { mode: 'allowlist', pending: { ok: true, value: 0 } },
  };
}

const failing = (f: StatusFacts) => assessStatus(f).lines.filter((l) => l.level === 'fail').map((l) => l.part);
const levelOf = (f: StatusFacts, part: string) => assessStatus(f).lines.find((l) => l.part === part)?.level;

describe('clawjail status: the judgement', () => {
  it('a healthy jail is safe, and the screen says what each part is doing', () => {
    const r = assessStatus(healthy());
    expect(r.safe).toBe(true);
    expect(failing(healthy())).toEqual([]);
    const text = formatStatus(r);
    expect(text).toMatch(/container cell\s+cj-cell: running, healthy; memory 50 MiB of 512 MiB/);
    expect(text).toMatch(/moat\s+in sync with its declaration \(60 rules\)/);
    expect(text).toMatch(/warden\s+last scan 2026-12-03T09:59:00.000Z, 1234 files scanned, 2 quarantined in the last 24 h, backlog 0/);
    expect(text).toMatch(/signatures\s+ClamAV 1.0.7\/27468\/.*: 1.1 days old/);
    expect(text).toMatch(/gateway\s+wss:\/\/127.0.0.1:8443, fingerprint AB:AB.*; 1 open session$/m);
    expect(text).toMatch(/sentry\s+the cell runs: warden ok/);
    expect(text).toMatch(/safe: every part is in place/);
  });

  it('a cell the sentry froze is a warning that says why, not a failure', () => {
    const f = healthy();
    if (f.sentry.ok) Object.assign(f.sentry.value, { cellFrozen: true, why: 'the warden is exited' });
    f.containers[5].status = 'paused';
    expect(levelOf(f, 'sentry')).toBe('warn');
    expect(formatStatus(assessStatus(f))).toMatch(/sentry\s+the cell is frozen: the warden is exited/);
  });

  const breaks: [string, (f: StatusFacts) => void, string][] = [
    ['a container missing', (f) => (f.containers[2] = { role: 'warden', name: 'cj-warden', exists: false }), 'container warden'],
    ['a container stopped', (f) => (f.containers[0].status = 'exited'), 'container clamd'],
    ['a container unhealthy', (f) => (f.containers[4].health = 'unhealthy'), 'container gateway'],
    ['the warden paused', (f) => (f.containers[2].status = 'paused'), 'container warden'],
    ['the moat drifted', (f) => (f.moat = { ok: true, value: { state: 'drift', rules: 60, missing: 1, added: 0 } }), 'moat'],
    ['the moat gone', (f) => (f.moat = { ok: true, value: { state: 'missing', rules: 60, missing: 60, added: 0 } }), 'moat'],
    ['the moat unreadable (not root)', (f) => (f.moat = { ok: false, error: 'iptables-save: Permission denied' }), 'moat'],
    ['the warden not answering', (f) => (f.warden = { ok: false, error: 'connect ECONNREFUSED' }), 'warden'],
    ['the sentry down', (f) => (f.sentry = { ok: false, error: 'container is not running' }), 'sentry'],
    ['the sentry not looking', (f) => f.sentry.ok && (f.sentry.value.updatedAt = '2026-12-03T09:59:00.000Z'), 'sentry'],
    ['the warden degraded', (f) => f.warden.ok && Object.assign(f.warden.value, { status: 'degraded', reasons: ['clamd-unreachable'] }), 'warden'],
    ['another certificate at the gateway URL', (f) => (f.gateway.presented = { ok: true, value: Array(32).fill('CD').join(':') }), 'gateway'],
    ['nothing at the gateway URL', (f) => (f.gateway.presented = { ok: false, error: 'ECONNREFUSED' }), 'gateway'],
    ['another certificate at the login page', (f) => (f.gateway.presentedLogin = { ok: true, value: Array(32).fill('CD').join(':') }), 'gateway'],
    ['nothing at the login page', (f) => (f.gateway.presentedLogin = { ok: false, error: 'ECONNREFUSED' }), 'gateway'],
    ['the gate not answering', (f) => (f.egress.pending = { ok: false, error: 'ENOENT' }), 'egress'],
  ];
  it.each(breaks)('%s: not safe, and that part is the one failing', (_what, breakIt, part) => {
    const f = healthy();
    breakIt(f);
    const r = assessStatus(f);
    expect(r.safe).toBe(false);
    expect(failing(f)).toEqual([part]);
    expect(formatStatus(r)).toMatch(/NOT SAFE: 1 part failing\n$/);
  });

  it('what needs a look but is not unsafe: a warning, still safe', () => {
    const cases: [(f: StatusFacts) => void, string][] = [
      [(f) => (f.containers[5].status = 'paused'), 'container cell'], // the prisoner frozen
      [(f) => (f.containers[1].health = 'starting'), 'container freshclam'],
      [(f) => (f.containers[5].memoryBytes = 500 << 20), 'container cell'],
      [(f) => (f.egress.pending = { ok: true, value: 3 }), 'egress'],
      [(f) => (f.egress = { mode: 'internet', pending: null }), 'egress'],
      [(f) => f.warden.ok && (f.warden.value.clamd = { up: true, version: 'ClamAV 1.0.7/27000/Mon Nov 23 08:00:00 2026' }), 'signatures'],
    ];
    for (const [change, part] of cases) {
      const f = healthy();
      change(f);
      expect({ part, level: levelOf(f, part), safe: assessStatus(f).safe }).toEqual({ part, level: 'warn', safe: true });
    }
    // Old custom signatures are the operator's choice, not freshclam failing.
    const custom = healthy();
    custom.signatures = 'custom';
    if (custom.warden.ok) custom.warden.value.clamd = { up: true, version: 'ClamAV 1.0.7/27000/Mon Nov 23 08:00:00 2026' };
    expect(levelOf(custom, 'signatures')).toBe('ok');
  });
});

describe('clawjail status: its inputs', () => {
  it('reads clamd\'s database date, and nothing from a version without one', () => {
    expect(signatureDate('ClamAV 1.0.7/27468/Tue Dec  1 08:23:45 2026')?.toISOString()).toMatch(/^2026-12-01T/);
    expect(signatureDate('ClamAV 1.0.7')).toBeNull();
    expect(signatureDate(null)).toBeNull();
    expect(signatureDate('ClamAV 1.0.7/27468/not a date')).toBeNull();
  });

  it('reads docker stats memory figures', () => {
    expect(parseMemUsage('12.5MiB / 2GiB')).toEqual({ used: 12.5 * 1024 ** 2, limit: 2 * 1024 ** 3 });
    expect(parseMemUsage('900KiB / 512MiB')).toEqual({ used: 900 * 1024, limit: 512 * 1024 ** 2 });
    expect(parseMemUsage('--')).toEqual({ used: null, limit: null });
  });

  it('parses its arguments and refuses what it does not know', () => {
    expect(parseStatusArgs([])).toEqual({ stack: 'dev', cwd: undefined, json: false, help: false });
    expect(parseStatusArgs(['--stack=prod', '--json', '--cwd', '/x'])).toEqual({ stack: 'prod', cwd: '/x', json: true, help: false });
    expect(() => parseStatusArgs(['--stack'])).toThrow('--stack needs a value');
    expect(() => parseStatusArgs(['--bogus'])).toThrow('unknown option --bogus');
    expect(() => parseStatusArgs(['extra'])).toThrow('unexpected argument');
  });
});
