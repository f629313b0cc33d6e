// The sentry's judgement, one condition at a time: each is shown to freeze, beside a report that
// differs only there and lets the prisoner run.
import { parseSentryConfig, SentryConfigError } from '../src/sentry/config';
import { apiAtLeast } from '../src/sentry/engineClient';
import { checkSentryState, wardenContainer } from '../src/sentry/sentry';
import { NON_FREEZING_REASONS, parseReport, verdict, type WardenContainer, type WardenReport } from '../src/sentry/verdict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const up: WardenContainer = { running: true, status: 'running', startedAtMs: NOW - 60_000, health: 'healthy' };
const ok: WardenReport = { updatedAtMs: NOW - 300, status: 'ok', reasons: [], caughtUp: true, startupScan: 'done', oldestWaitingMs: 0 };
const opts = { staleMs: 5000, backlogMs: 10_000 };

describe('the sentry lets the prisoner run only while a warden judges its writes', () => {
  it('runs with a running, ok, caught-up warden, frozen or not', () => {
    expect(verdict(up, ok, false, NOW, opts)).toEqual({ run: true, why: 'warden ok' });
    expect(verdict(up, ok, true, NOW, opts).run).toBe(true);
  });

  it.each<[string, WardenContainer | null, WardenReport | null]>([
    ['no warden container', null, ok],
    ['a stopped warden', { ...up, running: false, status: 'exited' }, ok],
    ['a restarting warden', { ...up, running: false, status: 'restarting' }, ok],
    ['no report', up, null],
    ['a report from before this run of the container', { ...up, startedAtMs: NOW - 100 }, ok],
    ['a stale report (hung warden)', up, { ...ok, updatedAtMs: NOW - 6000 }],
    ['a starting warden', up, { ...ok, status: 'starting' }],
    ['a stopping warden', up, { ...ok, status: 'stopping' }],
    ['a startup walk not done', up, { ...ok, startupScan: 'running' }],
    // spelled out, not taken from the code's list: dropping one there must fail here
    ['degraded: clamd-unreachable', up, { ...ok, status: 'degraded', reasons: ['clamd-unreachable'] }],
    ['degraded: audit-errors', up, { ...ok, status: 'degraded', reasons: ['audit-errors'] }],
    ['degraded: quarantine-failures', up, { ...ok, status: 'degraded', reasons: ['quarantine-failures'] }],
    ['degraded for a reason this sentry does not know', up, { ...ok, status: 'degraded', reasons: ['something-new'] }],
    ['a file waiting for its scan longer than the bound (a flooded warden)', up, { ...ok, oldestWaitingMs: 10_001 }],
    ['degraded: watcher-limited and clamd-unreachable', up, { ...ok, status: 'degraded', reasons: ['watcher-limited', 'clamd-unreachable'] }],
    ['degraded for no reason given', up, { ...ok, status: 'degraded', reasons: [] }],
  ])('freezes on %s', (_name, w, r) => {
    const v = verdict(w, r, false, NOW, opts);
    expect(v.run).toBe(false);
    expect(v.why).not.toBe('warden ok');
  });

  it('freezes when clamd\'s container is gone or not running, which the warden would learn only seconds later', () => {
    expect(verdict(up, ok, false, NOW, opts, up).run).toBe(true);
    expect(verdict(up, ok, false, NOW, opts, { ...up, running: false, status: 'exited' })).toEqual({ run: false, why: 'clamd is exited' });
    expect(verdict(up, ok, false, NOW, opts, null)).toEqual({ run: false, why: 'the clamd container is missing' });
  });

  it('does not freeze a degraded warden that still judges every file (watcher-limited: periodic full rescans), nor one Docker calls unhealthy for it', () => {
    expect(NON_FREEZING_REASONS).toEqual(['watcher-limited']);
    expect(verdict({ ...up, health: 'unhealthy' }, { ...ok, status: 'degraded', reasons: ['watcher-limited'] }, false, NOW, opts).run).toBe(true);
    expect(verdict(up, { ...ok, oldestWaitingMs: 9_999 }, false, NOW, opts).run).toBe(true);
  });

  it('freezes when clamd does not answer its PING check', () => {
    expect(verdict(up, ok, false, NOW, opts, { ...up, health: 'unhealthy' })).toEqual({ run: false, why: 'clamd is unhealthy (it does not answer PING)' });
    expect(verdict(up, ok, false, NOW, opts, { ...up, health: 'starting' }).run).toBe(true);
  });

  it('keeps a frozen prisoner frozen until the warden has caught up, but does not freeze a running one for being busy', () => {
    const busy = { ...ok, caughtUp: false };
    expect(verdict(up, busy, true, NOW, opts)).toEqual({ run: false, why: 'the warden is still judging what was written meanwhile' });
    expect(verdict(up, busy, false, NOW, opts).run).toBe(true);
  });

  it('after a freezing event, waits for a report newer than it', () => {
    expect(verdict(up, ok, true, NOW, { ...opts, reportAfterMs: NOW - 200 }).run).toBe(false);
    expect(verdict(up, ok, true, NOW, { ...opts, reportAfterMs: NOW - 400 }).run).toBe(true);
  });
});

describe('the sentry reads the engine and the warden', () => {
  it('reads the report the warden writes, and nothing else', () => {
    const text = JSON.stringify({ status: 'ok', reasons: [], updatedAt: '2026-12-07T10:00:00.000Z', caughtUp: true, startupScan: { state: 'done', entries: 3 }, queue: { pending: 4, oldestWaitingMs: 1234 } });
    expect(parseReport(text)).toEqual({ updatedAtMs: NOW, status: 'ok', reasons: [], caughtUp: true, startupScan: 'done', oldestWaitingMs: 1234 });
    for (const bad of ['', 'null', '[]', '{"status":"ok"}', '{"status":"ok","reasons":[],"updatedAt":"never"}']) expect(parseReport(bad)).toBeNull();
    expect(parseReport(JSON.stringify({ status: 'ok', reasons: [], updatedAt: '2026-12-07T10:00:00Z' }))).toMatchObject({ caughtUp: false, startupScan: 'unknown' });
  });

  it("speaks the engine's own API version, never below 1.41", () => {
    expect(apiAtLeast('1.41', '1.41')).toBe(true);
    expect(apiAtLeast('1.44', '1.41')).toBe(true);
    expect(apiAtLeast('1.9', '1.41')).toBe(false);
    expect(apiAtLeast('2.0', '1.41')).toBe(true);
  });

  it('counts a paused or restarting warden container as not running', () => {
    const state = { Status: 'running', Running: true, Paused: false, Restarting: false, StartedAt: '2026-12-07T09:59:00Z' };
    expect(wardenContainer({ Id: 'x', State: state })).toEqual({ running: true, status: 'running', startedAtMs: NOW - 60_000, health: null });
    expect(wardenContainer({ Id: 'x', State: { ...state, Paused: true, Status: 'paused' } })).toMatchObject({ running: false, status: 'paused' });
    expect(wardenContainer({ Id: 'x', State: { ...state, Restarting: true } })).toMatchObject({ running: false, status: 'restarting' });
    expect(wardenContainer(null)).toBeNull();
  });

  it('its healthcheck wants a fresh look and a recent engine answer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sentry-state-'));
    const file = path.join(dir, 's.json');
    try {
      expect(checkSentryState(file).ok).toBe(false);
      const t = new Date(NOW).toISOString();
      const state = { updatedAt: t, cellFrozen: false, why: 'warden ok', lastEngineAnswerAt: t, lastLookAt: t, wrongSince: null as string | null };
      fs.writeFileSync(file, JSON.stringify(state));
      expect(checkSentryState(file, NOW + 1000).ok).toBe(true);
      expect(checkSentryState(file, NOW + 11_000).ok).toBe(false);
      const later = new Date(NOW + 20_000).toISOString();
      fs.writeFileSync(file, JSON.stringify({ ...state, updatedAt: later, lastLookAt: later }));
      expect(checkSentryState(file, NOW + 20_000)).toMatchObject({ ok: false, detail: expect.stringContaining('engine') });
      fs.writeFileSync(file, JSON.stringify({ ...state, lastLookAt: null }));
      expect(checkSentryState(file, NOW + 1000)).toMatchObject({ ok: false, detail: expect.stringContaining('no whole look') });
      // a pause the engine keeps refusing
      fs.writeFileSync(file, JSON.stringify({ ...state, updatedAt: later, lastEngineAnswerAt: later, lastLookAt: later, wrongSince: t }));
      expect(checkSentryState(file, NOW + 20_000)).toMatchObject({ ok: false, detail: expect.stringContaining('not been as wanted') });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the sentry's settings", () => {
  const env = { SENTRY_CELL: 'j-cell', SENTRY_WARDEN: 'j-warden', SENTRY_WARDEN_HEALTH_FILE: '/run/warden-health/health.json' };
  it('takes the defaults', () => {
    expect(parseSentryConfig(env)).toEqual({
      engineSocket: '/var/run/docker.sock', cell: 'j-cell', warden: 'j-warden', clamd: null, wardenHealthFile: '/run/warden-health/health.json',
      staleMs: 5000, backlogMs: 10_000, pollMs: 500, stateFile: '/tmp/sentry.json',
    });
  });
  it('names every bad variable', () => {
    expect(() => parseSentryConfig({ SENTRY_CELL: 'x', SENTRY_WARDEN: 'x', SENTRY_WARDEN_HEALTH_FILE: 'rel', SENTRY_POLL_MS: '5' })).toThrow(SentryConfigError);
    try {
      parseSentryConfig({ SENTRY_CELL: 'x', SENTRY_WARDEN: 'x', SENTRY_WARDEN_HEALTH_FILE: 'rel', SENTRY_POLL_MS: '5' });
    } catch (e) {
      const m = (e as Error).message;
      expect(m).toContain('SENTRY_WARDEN_HEALTH_FILE');
      expect(m).toContain('SENTRY_POLL_MS');
      expect(m).toContain('same container');
    }
    expect(() => parseSentryConfig({ ...env, SENTRY_CELL: '' })).toThrow(/SENTRY_CELL/);
  });
});
