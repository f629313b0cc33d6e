// The sentry's settings, from its environment. Every bad variable is named at once.

export interface SentryConfig {
  /** The Docker engine's unix socket, mounted into the sentry. */
  engineSocket: string;
  /** The container to freeze: the prisoner. */
  cell: string;
  /** The container whose health decides. */
  warden: string;
  /** clamd's container: its death freezes the prisoner as the warden's does (null: not watched). */
  clamd: string | null;
  /** The warden's health file (WARDEN_HEALTH_FILE), on a volume the sentry mounts read-only. */
  wardenHealthFile: string;
  /** A warden report older than this is a hung warden. */
  staleMs: number;
  /** A file waiting longer than this for its scan freezes the prisoner until the queue is empty. */
  backlogMs: number;
  /** How often the sentry looks, besides reacting to events at once. */
  pollMs: number;
  /** The sentry's own health file, for its healthcheck. */
  stateFile: string;
}

export class SentryConfigError extends Error {}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export const SENTRY_HELP = `clawjail sentry: freezes the prisoner (docker pause of the cell) while the warden is not
running, not healthy, or has not yet judged what was written while it was down; thaws it after.

  node dist/main.js --sentry [--healthcheck]

Environment:
  SENTRY_ENGINE_SOCKET        the Docker engine's unix socket (default /var/run/docker.sock)
  SENTRY_CELL                 the container to freeze (required)
  SENTRY_WARDEN               the warden's container (required)
  SENTRY_CLAMD                clamd's container, watched like the warden's (optional)
  SENTRY_WARDEN_HEALTH_FILE   the warden's WARDEN_HEALTH_FILE, read-only here (required)
  SENTRY_STALE_MS             a warden report older than this counts as a hung warden (default 5000)
  SENTRY_BACKLOG_MS           a file waiting longer than this for its scan freezes the prisoner until
                              the warden's queue is empty (default 10000)
  SENTRY_POLL_MS              how often to look besides the engine's events (default 500)
  SENTRY_STATE_FILE           the sentry's own health file (default /tmp/sentry.json)
`;

function int(env: Record<string, string | undefined>, key: string, def: number, min: number, max: number, problems: string[]): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    problems.push(`${key}=${JSON.stringify(raw)}: a whole number from ${min} to ${max}`);
    return def;
  }
  return n;
}

export function parseSentryConfig(env: Record<string, string | undefined>): SentryConfig {
  const problems: string[] = [];
  const name = (key: string): string => {
    const v = env[key] ?? '';
    if (!NAME.test(v)) problems.push(`${key}: a container name is required (got ${JSON.stringify(v)})`);
    return v;
  };
  const file = (key: string, def?: string): string => {
    const v = env[key] || def || '';
    if (!v.startsWith('/')) problems.push(`${key}: an absolute path is required (got ${JSON.stringify(v)})`);
    return v;
  };
  const cfg: SentryConfig = {
    engineSocket: file('SENTRY_ENGINE_SOCKET', '/var/run/docker.sock'),
    cell: name('SENTRY_CELL'),
    warden: name('SENTRY_WARDEN'),
    clamd: env.SENTRY_CLAMD ? name('SENTRY_CLAMD') : null,
    wardenHealthFile: file('SENTRY_WARDEN_HEALTH_FILE'),
    staleMs: int(env, 'SENTRY_STALE_MS', 5000, 1000, 600_000, problems),
    backlogMs: int(env, 'SENTRY_BACKLOG_MS', 10_000, 1000, 3_600_000, problems),
    pollMs: int(env, 'SENTRY_POLL_MS', 500, 50, 60_000, problems),
    stateFile: file('SENTRY_STATE_FILE', '/tmp/sentry.json'),
  };
  if (cfg.cell && cfg.cell === cfg.warden) problems.push('SENTRY_CELL and SENTRY_WARDEN name the same container');
  if (cfg.clamd !== null && (cfg.clamd === cfg.cell || cfg.clamd === cfg.warden)) problems.push('SENTRY_CLAMD names the cell or the warden');
  if (problems.length) throw new SentryConfigError(problems.join('; '));
  return cfg;
}
