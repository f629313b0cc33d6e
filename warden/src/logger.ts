// Structured logs: one JSON object per line on stdout (or any sink, for tests).

import type { LogLevel } from './config';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** an alert: logged at error level with alert: true, for whoever watches the logs */
  alert(msg: string, fields?: LogFields): void;
}

export function createLogger(level: LogLevel = 'info', sink: LogSink = (l) => process.stdout.write(l), now: () => Date = () => new Date()): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields, alert = false) => {
    if (ORDER[lvl] < min) return;
    const rec: LogFields = { time: now().toISOString(), level: lvl, component: 'warden', msg };
    if (alert) rec.alert = true;
    if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = v;
    sink(JSON.stringify(rec, jsonSafe) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    alert: (m, f) => emit('error', m, f, true),
  };
}

/** JSON replacer: bigints as strings, errors as {name, message, code}. */
export function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as NodeJS.ErrnoException).code };
  }
  return value;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, alert() {} };
