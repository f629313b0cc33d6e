// The sentry: keeps the prisoner frozen while no warden judges its writes. It reacts at once to
// the engine's events (a warden that dies or turns unhealthy freezes the cell in the time of one
// pause call) and to each rewrite of the warden's health file (a warden that loses clamd or cannot
// write its quarantine rewrites it on the spot), and looks again every pollMs (a warden that hangs
// stops rewriting it). It thaws the cell only when the warden runs, reports ok, and has judged
// what was written while it was down.
//
// Every change to the cell goes through one chain, in order; a thaw decided from a look taken
// before a freeze event is dropped, so a stale "ok" can never undo a freeze.
import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '@clawjail/log';
import type { SentryConfig } from './config';
import { EngineClient, type ContainerInspect, type EngineEvent } from './engineClient';
import { parseReport, verdict, type WardenContainer, type WardenReport } from './verdict';

/** Warden (and clamd) events that mean nothing is judged right now: freeze before looking further. */
export const FREEZE_ACTIONS: ReadonlySet<string> = new Set(['die', 'kill', 'stop', 'oom', 'destroy', 'pause']);
/**
 * clamd's failed PING check freezes too. The warden's Docker healthcheck does not: its report is
 * fresher and says why, and a warden degraded only by watcher-limited is unhealthy to Docker.
 */
export const CLAMD_FREEZE_ACTIONS: ReadonlySet<string> = new Set([...FREEZE_ACTIONS, 'health_status: unhealthy']);
/** The health file is a few KiB; a larger one is not the warden's report. */
const MAX_REPORT = 256 * 1024;
/** Without an answer from the engine this long, exit: the restart policy starts a fresh sentry. */
const ENGINE_SILENCE_EXIT_MS = 60_000;

export interface SentryState {
  updatedAt: string;
  cellFrozen: boolean | null;
  why: string;
  lastEngineAnswerAt: string;
  /** When a whole look (the engine and the report) last succeeded. */
  lastLookAt: string | null;
  /** Since when the cell has not been as the sentry wants it (a pause that keeps failing), or null. */
  wrongSince: string | null;
}

export class Sentry {
  private readonly engine: EngineClient;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private reportWatch: fs.FSWatcher | null = null;
  /** Bumped by every freeze event: a thaw decided under an older value is dropped. */
  private epoch = 0;
  /** A second past the last freezing warden event: only a report newer than this may thaw. */
  private reportAfterMs = 0;
  private chain: Promise<void> = Promise.resolve();
  private looking = false;
  private lookAgain = false;
  private lastWhy = '';
  private cellFrozen: boolean | null = null;
  private lastEngineAnswerMs = Date.now();
  private lastLookMs: number | null = null;
  private wrongSinceMs: number | null = null;
  /** The warden's container id and start as of the last look: a restart missed by the events is a freeze. */
  private wardenRun: string | null = null;
  private stopped = false;

  constructor(private readonly cfg: SentryConfig, private readonly log: Logger, private readonly onFatal: (e: Error) => void = () => undefined) {
    this.engine = new EngineClient(cfg.engineSocket);
  }

  start(): void {
    void this.followEvents();
    this.watchReport();
    this.timer = setInterval(() => this.look(), this.cfg.pollMs);
    this.look();
    this.log.info('sentry started', { cell: this.cfg.cell, warden: this.cfg.warden, pollMs: this.cfg.pollMs, staleMs: this.cfg.staleMs });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.reportWatch?.close();
    this.abort.abort();
    await this.chain;
  }

  /** Resolves when every change asked for so far has been made (for tests). */
  settled(): Promise<void> {
    return this.chain;
  }

  private async followEvents(): Promise<void> {
    while (!this.stopped) {
      try {
        const watched = [this.cfg.warden, this.cfg.cell, ...(this.cfg.clamd ? [this.cfg.clamd] : [])];
        await this.engine.events(watched, (e) => this.onEvent(e), this.abort.signal);
      } catch (e) {
        if (this.stopped) return;
        this.log.warn('engine event stream failed; polling meanwhile', { error: e });
      }
      if (this.stopped) return;
      await new Promise((r) => setTimeout(r, 1000));
      // Whatever happened while the stream was down, look now.
      this.look();
    }
  }

  /** Each rewrite of the report (a rename into its directory) is a look; the poll covers a failed watch. */
  private watchReport(): void {
    try {
      this.reportWatch = fs.watch(path.dirname(this.cfg.wardenHealthFile), () => this.look());
      this.reportWatch.on('error', (e) => {
        this.log.warn('watching the warden report failed; polling only', { error: e });
        this.reportWatch?.close();
        this.reportWatch = null;
      });
    } catch (e) {
      this.log.warn('cannot watch the warden report; polling only', { error: e });
    }
  }

  private onEvent(e: EngineEvent): void {
    const name = e.Actor?.Attributes?.name;
    const action = e.Action ?? '';
    if (name === this.cfg.warden && FREEZE_ACTIONS.has(action)) this.freeze(`warden event: ${action}`);
    else if (name !== undefined && name === this.cfg.clamd && CLAMD_FREEZE_ACTIONS.has(action)) this.freeze(`clamd event: ${action}`);
    this.look();
  }

  /** Freeze now, without looking first; the next look decides when to thaw. */
  private freeze(why: string): void {
    this.epoch++;
    this.reportAfterMs = Date.now() + 1000;
    this.enqueue(async () => {
      const cell = await this.inspect(this.cfg.cell);
      if (!cell || !cell.State.Running || cell.State.Paused) {
        if (cell?.State.Paused) this.cellFrozen = true;
        return;
      }
      await this.pause(why);
    });
  }

  private enqueue(change: () => Promise<void>): void {
    this.chain = this.chain.then(change).catch((e) => this.log.error('changing the cell failed', { error: e }));
  }

  private async inspect(name: string): Promise<ContainerInspect | null> {
    const r = await this.engine.inspect(name);
    this.lastEngineAnswerMs = Date.now();
    return r;
  }

  private async pause(why: string): Promise<void> {
    try {
      await this.engine.pause(this.cfg.cell);
    } catch (e) {
      // already paused, or stopped meanwhile: a look tells which
      const now = await this.inspect(this.cfg.cell);
      if (!now?.State.Paused && now?.State.Running) throw e;
    }
    this.cellFrozen = true;
    this.log.alert('prisoner frozen', { cell: this.cfg.cell, why });
  }

  /** One look at the engine and the warden's report; at most one at a time, the last ask kept. */
  private look(): void {
    if (this.stopped) return;
    if (this.looking) {
      this.lookAgain = true;
      return;
    }
    this.looking = true;
    void this.lookOnce()
      .catch((e) => this.log.error('look failed', { error: e }))
      .finally(() => {
        this.looking = false;
        this.writeState();
        if (Date.now() - this.lastEngineAnswerMs > ENGINE_SILENCE_EXIT_MS) {
          this.onFatal(new Error(`no answer from the engine for ${ENGINE_SILENCE_EXIT_MS / 1000} s`));
        }
        if (this.lookAgain) {
          this.lookAgain = false;
          this.look();
        }
      });
  }

  /** The engine and the report now: the cell, and whether the prisoner may run. */
  private async judge(): Promise<{ cell: ContainerInspect | null; frozen: boolean; run: boolean; why: string }> {
    const [warden, cell, clamd] = await Promise.all([
      this.inspect(this.cfg.warden),
      this.inspect(this.cfg.cell),
      this.cfg.clamd ? this.inspect(this.cfg.clamd) : Promise.resolve(undefined),
    ]);
    // A restart of the warden that the events did not tell (the stream was down): a freeze event.
    const run = warden ? `${warden.Id} ${warden.State.StartedAt}` : null;
    if (this.wardenRun !== null && run !== this.wardenRun) {
      this.epoch++;
      this.reportAfterMs = Date.now() + 1000;
    }
    this.wardenRun = run;
    const report = this.readReport();
    const frozen = !!cell?.State.Paused;
    const opts = { staleMs: this.cfg.staleMs, backlogMs: this.cfg.backlogMs, reportAfterMs: this.reportAfterMs };
    const v = verdict(wardenContainer(warden), report, frozen, Date.now(), opts, clamd === undefined ? undefined : wardenContainer(clamd));
    return { cell, frozen, ...v };
  }

  private async lookOnce(): Promise<void> {
    const epoch = this.epoch;
    const v = await this.judge();
    this.lastLookMs = Date.now();
    this.cellFrozen = v.cell ? v.frozen : null;
    if (v.why !== this.lastWhy) {
      this.log.info('warden state', { why: v.why, run: v.run });
      this.lastWhy = v.why;
    }
    const running = !!v.cell?.State.Running;
    // the cell as the sentry wants it, or since when it is not (for the healthcheck)
    const wrong = running && v.run === v.frozen;
    if (!wrong) this.wrongSinceMs = null;
    else if (this.wrongSinceMs === null) this.wrongSinceMs = Date.now();
    if (!running) return;
    if (!v.run) {
      // every "no" outdates a thaw decided before it
      this.epoch++;
      if (!v.frozen) this.enqueue(() => this.pause(v.why));
    } else if (v.frozen) {
      this.enqueue(async () => {
        if (this.epoch !== epoch) return; // a freeze came after this look: the next look decides
        // looked at again right before the thaw: a thaw must never rest on an old look
        const now = await this.judge();
        if (!now.run || !now.frozen || this.epoch !== epoch) return;
        await this.engine.unpause(this.cfg.cell);
        this.cellFrozen = false;
        this.wrongSinceMs = null;
        this.log.info('prisoner thawed', { cell: this.cfg.cell, why: now.why });
      });
    }
  }

  private readReport(): WardenReport | null {
    try {
      const fd = fs.openSync(this.cfg.wardenHealthFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      try {
        const st = fs.fstatSync(fd);
        if (!st.isFile() || st.size > MAX_REPORT) return null;
        const buf = Buffer.alloc(st.size);
        const n = fs.readSync(fd, buf, 0, st.size, 0);
        return parseReport(buf.subarray(0, n).toString('utf8'));
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return null;
    }
  }

  private writeState(): void {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const state: SentryState = {
      updatedAt: new Date().toISOString(),
      cellFrozen: this.cellFrozen,
      why: this.lastWhy,
      lastEngineAnswerAt: new Date(this.lastEngineAnswerMs).toISOString(),
      lastLookAt: iso(this.lastLookMs),
      wrongSince: iso(this.wrongSinceMs),
    };
    const tmp = path.join(path.dirname(this.cfg.stateFile), `.${path.basename(this.cfg.stateFile)}.tmp`);
    try {
      fs.writeFileSync(tmp, JSON.stringify(state) + '\n');
      fs.renameSync(tmp, this.cfg.stateFile);
    } catch {
      /* the healthcheck reports a stale file */
    }
  }
}

export function wardenContainer(i: ContainerInspect | null): WardenContainer | null {
  if (!i) return null;
  const s = i.State;
  return {
    running: s.Running && !s.Paused && !s.Restarting,
    status: s.Paused ? 'paused' : s.Restarting ? 'restarting' : s.Status,
    startedAtMs: Date.parse(s.StartedAt),
    health: s.Health?.Status ?? null,
  };
}

/**
 * For --healthcheck: a whole look (the engine answered, the report was read) within the last 10 s,
 * and the cell as the sentry wants it, or not for less than 10 s (a pause the engine keeps
 * refusing makes the sentry unhealthy, and the stack waits for a healthy sentry before the cell).
 */
export function checkSentryState(file: string, nowMs = Date.now()): { ok: boolean; detail: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, detail: `no state file: ${(e as Error).message}` };
  }
  let s: SentryState;
  try {
    s = JSON.parse(text) as SentryState;
  } catch {
    return { ok: false, detail: 'state file is not JSON' };
  }
  const age = nowMs - Date.parse(s.updatedAt);
  const engineAge = nowMs - Date.parse(s.lastEngineAnswerAt);
  const lookAge = s.lastLookAt ? nowMs - Date.parse(s.lastLookAt) : Infinity;
  const wrongFor = s.wrongSince ? nowMs - Date.parse(s.wrongSince) : 0;
  if (!(age <= 10_000)) return { ok: false, detail: `last look ${Math.round(age / 1000)} s ago` };
  if (!(engineAge <= 10_000)) return { ok: false, detail: `the engine last answered ${Math.round(engineAge / 1000)} s ago` };
  if (!(lookAge <= 10_000)) return { ok: false, detail: 'no whole look at the engine and the report lately' };
  if (!(wrongFor < 10_000)) return { ok: false, detail: `the cell has not been as wanted for ${Math.round(wrongFor / 1000)} s: ${s.why}` };
  return { ok: true, detail: text.trim() };
}
