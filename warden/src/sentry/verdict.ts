// Whether the prisoner may run: only while a warden is running, reporting ok, and (to thaw) has
// judged everything written while no warden ran. Pure: the sentry feeds it what the engine and the
// warden's health file say, so every case is tested without a host.

/** The warden's container as the engine reports it; null when there is no such container. */
export interface WardenContainer {
  /** Running, not restarting, not paused. */
  running: boolean;
  /** The engine's State.Status, for the reason given. */
  status: string;
  /** When this run of the container started (ms since the epoch). */
  startedAtMs: number;
  /** Docker's own healthcheck verdict, when it has one. */
  health: string | null;
}

/** What the warden's health file says (warden/src/health.ts); null when absent or unreadable. */
export interface WardenReport {
  updatedAtMs: number;
  status: string;
  reasons: string[];
  caughtUp: boolean;
  startupScan: string;
  /** How long the oldest file ready for its scan has waited. */
  oldestWaitingMs: number;
}

/**
 * The one reason of a degraded warden that does not freeze the prisoner: `watcher-limited` (more
 * directories than it may watch), when the warden still judges every file by periodic full
 * rescans. The prisoner causes it itself, with directories; freezing on it would hand it a switch
 * that stops the operator's session too. Any other reason, a new one included, freezes.
 */
export const NON_FREEZING_REASONS: readonly string[] = ['watcher-limited'];

export interface VerdictOptions {
  /** A report older than this is a hung warden. */
  staleMs: number;
  /**
   * A file that waits longer than this for its scan freezes the prisoner until the queue is empty:
   * a prisoner that floods the warden must not get a payload to run while its scan waits.
   */
  backlogMs: number;
  /**
   * A report must be newer than this too: the sentry sets it a second past the last warden event
   * that froze the cell, since a warden being killed can still write an "ok" in its last
   * milliseconds, and one that is paused writes nothing but its old one stays fresh for a while.
   */
  reportAfterMs?: number;
}

export interface Verdict {
  /** The prisoner may run. */
  run: boolean;
  /** Why not (or "warden ok"), for the log. */
  why: string;
}

/**
 * `frozen`: whether the prisoner is frozen now. Thawing asks for more than staying thawed: a
 * warden back from an outage must have walked the workspace and drained its queue (caughtUp),
 * while a running prisoner is not frozen merely because the warden is busy.
 */
export function verdict(
  warden: WardenContainer | null,
  report: WardenReport | null,
  frozen: boolean,
  nowMs: number,
  opts: VerdictOptions,
  /**
   * clamd's container, when the sentry watches it. A warden learns that clamd is gone only from a
   * scan that fails, and a connection to an address that went away with its container fails only
   * after seconds: the prisoner's payload would sit readable that long. So clamd's container is
   * judged directly. null: there is no such container.
   */
  clamd?: WardenContainer | null,
): Verdict {
  const no = (why: string): Verdict => ({ run: false, why });
  if (!warden) return no('the warden container is missing');
  if (!warden.running) return no(`the warden is ${warden.status}`);
  if (clamd === null) return no('the clamd container is missing');
  if (clamd && !clamd.running) return no(`clamd is ${clamd.status}`);
  // clamd's own PING check; the warden's Docker healthcheck is not used: its own report (below)
  // is fresher and says why, and a warden degraded only by watcher-limited is unhealthy to Docker
  if (clamd && clamd.health === 'unhealthy') return no('clamd is unhealthy (it does not answer PING)');
  if (!report) return no('the warden has written no health report');
  // A report from before this run of the container is the dead process's last word.
  if (!(report.updatedAtMs >= warden.startedAtMs)) return no('no health report from this run of the warden yet');
  if (report.updatedAtMs <= (opts.reportAfterMs ?? 0)) return no('no health report since the warden event that froze the prisoner');
  const age = nowMs - report.updatedAtMs;
  if (age > opts.staleMs) return no(`the warden's health report is ${Math.round(age / 1000)} s old (hung?)`);
  if (report.status !== 'ok') {
    const blocking = report.reasons.filter((r) => !NON_FREEZING_REASONS.includes(r));
    // degraded only for reasons that leave nothing unjudged: still ok to run
    if (report.status !== 'degraded' || blocking.length > 0 || report.reasons.length === 0) {
      return no(`the warden is ${report.status}${report.reasons.length ? ` (${report.reasons.join(', ')})` : ''}`);
    }
  }
  if (report.startupScan !== 'done') return no(`the warden's startup walk is ${report.startupScan}`);
  if (report.oldestWaitingMs > opts.backlogMs) return no(`a file has waited ${Math.round(report.oldestWaitingMs / 1000)} s for its scan (the warden is behind)`);
  if (frozen && !report.caughtUp) return no('the warden is still judging what was written meanwhile');
  return { run: true, why: 'warden ok' };
}

/** The health file's JSON, checked field by field; null for anything else. */
export function parseReport(text: string): WardenReport | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const updatedAtMs = typeof r.updatedAt === 'string' ? Date.parse(r.updatedAt) : NaN;
  const startup = r.startupScan as Record<string, unknown> | undefined;
  const queue = r.queue as Record<string, unknown> | undefined;
  if (!Number.isFinite(updatedAtMs) || typeof r.status !== 'string' || !Array.isArray(r.reasons)) return null;
  return {
    updatedAtMs,
    status: r.status,
    reasons: r.reasons.filter((x): x is string => typeof x === 'string'),
    caughtUp: r.caughtUp === true,
    startupScan: typeof startup?.state === 'string' ? startup.state : 'unknown',
    oldestWaitingMs: typeof queue?.oldestWaitingMs === 'number' && Number.isFinite(queue.oldestWaitingMs) ? queue.oldestWaitingMs : 0,
  };
}
