// The structured log of every clawjail service: one JSON object per line,
// {time, level, component, msg, ...fields}, to a sink the service names (the warden's stdout, the
// gateway's and the gate's stderr; an array in tests). Callers never pass tokens, keys, headers
// or message bodies. No Node API here: the service gives the sink, so this builds anywhere.

/** In order of severity: the levels a service's setting may name. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;
/** One call per line: the shape the gateway and the gate pass around. */
export type LogFn = (level: LogLevel, msg: string, fields?: LogFields) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** An alert: logged at error level with alert: true, for whoever watches the logs. */
  alert(msg: string, fields?: LogFields): void;
  /** The same, with the level as an argument. */
  log: LogFn;
}

export interface LoggerOptions {
  /** Which service wrote the line. */
  component: string;
  /** Lines below this level are dropped (default info). */
  level?: LogLevel;
  sink: LogSink;
  now?: () => Date;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(opts: LoggerOptions): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const now = opts.now ?? (() => new Date());
  const emit = (level: LogLevel, msg: string, fields?: LogFields, alert = false): void => {
    if (ORDER[level] < min) return;
    const rec: LogFields = { time: now().toISOString(), level, component: opts.component, msg };
    if (alert) rec.alert = true;
    // A field never overwrites the line's own keys: a caller's "level" cannot hide an error.
    if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = v;
    opts.sink(JSON.stringify(rec, jsonSafe) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    alert: (m, f) => emit('error', m, f, true),
    log: (level, m, f) => emit(level, m, f),
  };
}

/** JSON replacer: bigints as strings, errors as {name, message, code} (their stack stays out). */
export function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as Error & { code?: unknown }).code };
  }
  return value;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, alert() {}, log() {} };
