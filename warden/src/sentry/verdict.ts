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
}

/**
 * Reasons of a degraded warden that leave files unjudged. `watcher-limited` is not one: the warden
 * then still judges every file, by periodic full rescans, and freezing on it would hand the
 * prisoner (who causes it, with directories) a switch to stop itself and the operator's session.
 */
export const FREEZING_REASONS: readonly string[] = ['clamd-unreachable', 'audit-errors', 'quarantine-failures'];

export interface VerdictOptions {
  /** A report older than this is a hung warden. */
  staleMs: number;
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
  if (warden.health === 'unhealthy') return no('the warden is unhealthy (Docker healthcheck)');
  if (!report) return no('the warden has written no health report');
  // A report from before this run of the container is the dead process's last word.
  if (!(report.updatedAtMs >= warden.startedAtMs)) return no('no health report from this run of the warden yet');
  if (report.updatedAtMs <= (opts.reportAfterMs ?? 0)) return no('no health report since the warden event that froze the prisoner');
  const age = nowMs - report.updatedAtMs;
  if (age > opts.staleMs) return no(`the warden's health report is ${Math.round(age / 1000)} s old (hung?)`);
  if (report.status !== 'ok') {
    const blocking = report.reasons.filter((r) => FREEZING_REASONS.includes(r));
    // degraded only for reasons that leave nothing unjudged: still ok to run
    if (report.status !== 'degraded' || blocking.length > 0 || report.reasons.length === 0) {
      return no(`the warden is ${report.status}${report.reasons.length ? ` (${report.reasons.join(', ')})` : ''}`);
    }
  }
  if (report.startupScan !== 'done') return no(`the warden's startup walk is ${report.startupScan}`);
  if (frozen && !report.caughtUp) return no('the warden is still judging what was written during the outage');
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
  if (!Number.isFinite(updatedAtMs) || typeof r.status !== 'string' || !Array.isArray(r.reasons)) return null;
  return {
    updatedAtMs,
    status: r.status,
    reasons: r.reasons.filter((x): x is string => typeof x === 'string'),
    caughtUp: r.caughtUp === true,
    startupScan: typeof startup?.state === 'string' ? startup.state : 'unknown',
  };
}
