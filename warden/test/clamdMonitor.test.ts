import type { AuditEntry } from '../src/audit';
import { ClamdMonitor } from '../src/clamdMonitor';
import { silentLogger } from '@clawjail/log';

function fakeClamd(threadsMax = 6) {
  const c = {
    reachable: false,
    pings: 0,
    async ping() {
      c.pings++;
      if (!c.reachable) throw new Error('ECONNREFUSED');
    },
    async version() {
      return 'ClamAV 1.4.3/27000';
    },
    async stats() {
      return { threadsMax } as Awaited<ReturnType<import('../src/clamdClient').ClamdClient['stats']>>;
    },
  };
  return c;
}

function monitorOf(clamd: ReturnType<typeof fakeClamd>, autoConcurrency = true) {
  const events: string[] = [];
  const audits: AuditEntry[] = [];
  const m = new ClamdMonitor({
    clamd,
    endpoint: 'tcp://clamd:3310',
    backoffMinMs: 2,
    backoffMaxMs: 8,
    autoConcurrency,
    logger: silentLogger,
    audit: (e) => audits.push(e),
    onDown: () => events.push('down'),
    onUp: (streams) => events.push(`up ${streams}`),
  });
  return { m, events, audits };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(ok()).toBe(true);
};

describe('ClamdMonitor', () => {
  it('starts down when clamd is not there, probes with backoff, and resumes on its threads when it comes', async () => {
    const clamd = fakeClamd(6);
    const { m, events, audits } = monitorOf(clamd);
    await m.check();
    expect(m.up).toBe(false);
    expect(m.snapshot()).toMatchObject({ up: false, lastError: 'ECONNREFUSED' });
    expect(events).toEqual(['down']);
    await until(() => clamd.pings >= 4); // still probing
    clamd.reachable = true;
    await until(() => m.up);
    expect(events).toEqual(['down', 'up 6']);
    expect(m.snapshot()).toEqual({ up: true, version: 'ClamAV 1.4.3/27000', downSince: null, lastError: 'ECONNREFUSED' });
    expect(audits.map((a) => a.event)).toEqual(['clamd-down', 'clamd-up']);
    m.stop();
  });

  it('audits one outage once however many scans report it, and stops probing when stopped', async () => {
    const clamd = fakeClamd();
    clamd.reachable = true;
    const { m, events, audits } = monitorOf(clamd, false);
    await m.check();
    expect(events).toEqual(['up null']); // a fixed concurrency is left alone
    clamd.reachable = false;
    for (let i = 0; i < 5; i++) m.markDown(new Error('EPIPE'));
    expect(audits.map((a) => a.event)).toEqual(['clamd-down']);
    m.stop();
    const pings = clamd.pings;
    await new Promise((r) => setTimeout(r, 50));
    expect(clamd.pings).toBe(pings);
  });
});
