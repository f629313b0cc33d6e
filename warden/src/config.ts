// Configuration from the environment: one table of settings is the single source for parsing,
// defaults and the --help text. Parsing is pure (env in, config or a list of problems out); the
// checks that need the filesystem live in main.ts.

import * as path from 'path';
import { LOG_LEVELS, type LogLevel } from '@clawjail/log';
import { ClamdEndpoint, parseEndpoint } from './clamdProtocol';

export type UnscannablePolicy = 'quarantine' | 'allow';

export interface WardenConfig {
  /** the prisoner's workspace, watched recursively */
  watch: string;
  /** the quarantine store: quarantine/ + audit.log; mounted in the warden only */
  quarantine: string;
  clamd: ClamdEndpoint;
  poll: boolean;
  pollIntervalMs: number;
  debounceMs: number;
  tmpGraceMs: number;
  unscannable: UnscannablePolicy;
  maxFileSize: number;
  /** scans in flight; 'auto' = clamd's MaxThreads as reported by STATS */
  concurrency: number | 'auto';
  queueMax: number;
  connectTimeoutMs: number;
  scanTimeoutMs: number;
  /** clamd's ReadTimeout, in seconds: whether scans can run in sessions (clamdClient.ts) */
  clamdReadTimeoutS: number;
  chunkSize: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  maxRescans: number;
  rescanIntervalS: number;
  degradedRescanS: number;
  healthPort: number | null;
  healthHost: string;
  healthFile: string | null;
  auditClean: boolean;
  logLevel: LogLevel;
}

interface Setting {
  env: string;
  key: keyof WardenConfig;
  /** undefined = required */
  def: string | undefined;
  help: string;
  parse: (raw: string) => unknown;
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super('invalid configuration:\n' + problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const absDir = (raw: string): string => {
  if (!path.isAbsolute(raw)) throw new Error(`must be an absolute path, got ${JSON.stringify(raw)}`);
  return path.resolve(raw);
};

const int = (min: number, max: number) => (raw: string): number => {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`expected an integer ${min}..${max}, got ${JSON.stringify(raw)}`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new Error(`expected an integer ${min}..${max}, got ${n}`);
  return n;
};

const bool = (raw: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
};

const oneOf = <T extends string>(...allowed: T[]) => (raw: string): T => {
  const v = raw.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new Error(`expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return v;
};

/** "1048576", "512K", "100M", "2G" (binary units) → bytes */
export function parseSize(raw: string): number {
  const m = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(raw);
  if (!m) throw new Error(`expected a size like 100M (bytes, K, M or G), got ${JSON.stringify(raw)}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Number(m[1]) * mult;
  if (n < 1 || n > 4 * 1024 ** 3) throw new Error(`expected a size between 1 byte and 4G, got ${JSON.stringify(raw)}`);
  return n;
}

const endpoint = (raw: string): ClamdEndpoint => parseEndpoint(raw);
const optionalPort = (raw: string): number | null => (raw.trim() === '' || raw.trim() === '0' ? null : int(1, 65535)(raw));
const optionalFile = (raw: string): string | null => (raw.trim() === '' ? null : absDir(raw.trim()));
const concurrency = (raw: string): number | 'auto' => (raw.trim().toLowerCase() === 'auto' ? 'auto' : int(1, 64)(raw));

export const SETTINGS: readonly Setting[] = [
  { env: 'WARDEN_WATCH', key: 'watch', def: undefined, parse: absDir, help: "workspace directory to watch (the prisoner's sandbox_data); required" },
  { env: 'WARDEN_QUARANTINE', key: 'quarantine', def: undefined, parse: absDir, help: 'quarantine store: quarantine/ and audit.log; must not be inside the workspace, never mounted in the prisoner; required' },
  { env: 'WARDEN_CLAMD', key: 'clamd', def: 'tcp://127.0.0.1:3310', parse: endpoint, help: 'clamd address: tcp://host:port or unix:/path/to/clamd.sock' },
  { env: 'WARDEN_POLL', key: 'poll', def: 'false', parse: bool, help: 'poll the filesystem instead of inotify (network/overlay filesystems without inotify)' },
  { env: 'WARDEN_POLL_INTERVAL_MS', key: 'pollIntervalMs', def: '1000', parse: int(50, 600000), help: 'polling interval when WARDEN_POLL is on' },
  { env: 'WARDEN_DEBOUNCE_MS', key: 'debounceMs', def: '0', parse: int(0, 60000), help: 'delay before scanning a new or changed file (a file that changes during its scan is rescanned anyway; a delay only saves scans of half-written files, at the cost of latency)' },
  { env: 'WARDEN_TMP_GRACE_MS', key: 'tmpGraceMs', def: '2000', parse: int(0, 600000), help: "OpenClaw atomic-write temp files (.fs-safe-replace.<pid>.<uuid>.tmp) are deferred this long after the start of a run of temp-file activity, then scanned if still there; every other *.tmp is scanned at once; 0 = no deferral (always 0 with WARDEN_POLL)" },
  { env: 'WARDEN_UNSCANNABLE', key: 'unscannable', def: 'quarantine', parse: oneOf('quarantine', 'allow'), help: "what to do with a file clamd cannot give a definite verdict on (too big, error, timeout, keeps changing): quarantine (fail-closed) or allow (leave it, raise an alert)" },
  { env: 'WARDEN_MAX_FILE_SIZE', key: 'maxFileSize', def: '100M', parse: parseSize, help: "files larger than this are unscannable without being sent; keep it <= clamd's StreamMaxLength" },
  { env: 'WARDEN_CONCURRENCY', key: 'concurrency', def: 'auto', parse: concurrency, help: "scans in flight: 'auto' = clamd's MaxThreads (from STATS), or 1..64" },
  { env: 'WARDEN_QUEUE_MAX', key: 'queueMax', def: '10000', parse: int(10, 10000000), help: 'most paths held in the scan queue; beyond it events are dropped and a full rescan is scheduled (bounded memory under a flood)' },
  { env: 'WARDEN_CONNECT_TIMEOUT_MS', key: 'connectTimeoutMs', def: '5000', parse: int(100, 600000), help: 'timeout for connecting to clamd' },
  { env: 'WARDEN_CLAMD_READ_TIMEOUT_S', key: 'clamdReadTimeoutS', def: '120', parse: int(0, 86400), help: "clamd's ReadTimeout (120 is clamd's default): scans run in clamd sessions kept open between files when WARDEN_SCAN_TIMEOUT_MS ends at least 5 s before it (clamd ends a quiet session even mid-scan), otherwise on a connection each; 0 = never in sessions" },
  { env: 'WARDEN_SCAN_TIMEOUT_MS', key: 'scanTimeoutMs', def: '120000', parse: int(100, 3600000), help: 'timeout for one scan; a timeout while clamd still answers PING makes the file unscannable' },
  { env: 'WARDEN_CHUNK_SIZE', key: 'chunkSize', def: '64K', parse: parseSize, help: 'INSTREAM chunk size' },
  { env: 'WARDEN_BACKOFF_MIN_MS', key: 'backoffMinMs', def: '250', parse: int(10, 600000), help: 'first retry delay while clamd is unreachable (doubles up to the max)' },
  { env: 'WARDEN_BACKOFF_MAX_MS', key: 'backoffMaxMs', def: '10000', parse: int(10, 3600000), help: 'largest retry delay while clamd is unreachable' },
  { env: 'WARDEN_MAX_RESCANS', key: 'maxRescans', def: '60', parse: int(1, 1000), help: 'a file that changes during this many consecutive scans (retries back off to 5 s: 60 is about 4 minutes of continuous writing) is unscannable: it never holds still long enough' },
  { env: 'WARDEN_RESCAN_INTERVAL_S', key: 'rescanIntervalS', def: '21600', parse: int(0, 31536000), help: 'full rescan of the workspace every N seconds (new signatures, belt and braces); 0 = off' },
  { env: 'WARDEN_DEGRADED_RESCAN_S', key: 'degradedRescanS', def: '30', parse: int(1, 86400), help: 'full rescan interval while the watcher reports errors (e.g. inotify limits exhausted)' },
  { env: 'WARDEN_HEALTH_PORT', key: 'healthPort', def: '0', parse: optionalPort, help: 'serve GET /healthz on this TCP port (200 ok, 503 degraded); 0 = off' },
  { env: 'WARDEN_HEALTH_HOST', key: 'healthHost', def: '127.0.0.1', parse: (r) => r.trim(), help: 'address for the health endpoint' },
  { env: 'WARDEN_HEALTH_FILE', key: 'healthFile', def: '', parse: optionalFile, help: 'also write the health snapshot (JSON) to this file every second (the sentry reads it); empty = off' },
  { env: 'WARDEN_AUDIT_CLEAN', key: 'auditClean', def: 'true', parse: bool, help: 'record clean verdicts in the audit log too (not only quarantines and alerts)' },
  { env: 'WARDEN_LOG_LEVEL', key: 'logLevel', def: 'info', parse: oneOf(...LOG_LEVELS), help: 'stdout log level (JSON lines)' },
];

/** Variables of earlier versions: refused by name, so that an old setting is not silently ignored. */
const RENAMED: Readonly<Record<string, string>> = { WARDEN_JAIL: 'WARDEN_QUARANTINE' };

/** Parse the environment. Throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): WardenConfig {
  const problems: { variable: string; message: string }[] = [];
  for (const [old, now] of Object.entries(RENAMED)) {
    if (env[old] !== undefined) problems.push({ variable: old, message: `was renamed ${now}: set that instead` });
  }
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const raw = env[s.env];
    const value = raw === undefined || (raw === '' && s.def !== undefined) ? s.def : raw;
    if (value === undefined || (value === '' && s.def === undefined)) {
      problems.push({ variable: s.env, message: `is required (${s.help})` });
      continue;
    }
    try {
      out[s.key] = s.parse(value);
    } catch (e) {
      problems.push({ variable: s.env, message: (e as Error).message });
    }
  }
  const cfg = out as unknown as WardenConfig;
  if (problems.length === 0) {
    const inside = (a: string, b: string) => a === b || a.startsWith(b.endsWith('/') ? b : b + '/');
    if (inside(cfg.quarantine, cfg.watch) || inside(cfg.watch, cfg.quarantine)) {
      problems.push({ variable: 'WARDEN_QUARANTINE', message: `must not overlap WARDEN_WATCH (${cfg.quarantine} vs ${cfg.watch}): the prisoner would reach the quarantine` });
    }
    if (cfg.backoffMaxMs < cfg.backoffMinMs) {
      problems.push({ variable: 'WARDEN_BACKOFF_MAX_MS', message: `must be >= WARDEN_BACKOFF_MIN_MS (${cfg.backoffMinMs})` });
    }
    if (cfg.healthFile && (inside(cfg.healthFile, cfg.watch))) {
      problems.push({ variable: 'WARDEN_HEALTH_FILE', message: 'must not be inside WARDEN_WATCH' });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

export function helpText(): string {
  const lines = [
    'clawjail warden: scans every file written to the workspace with clamd and quarantines malware.',
    '',
    'usage: node dist/main.js            run (configured by environment variables)',
    '       node dist/main.js --help     this text',
    '       node dist/main.js --healthcheck   exit 0 if a running warden reports ok (WARDEN_HEALTH_PORT or _FILE)',
    '       node dist/main.js --sentry   the sentry that freezes the prisoner while the warden is down (--sentry --help)',
    '',
    'environment:',
  ];
  const width = Math.max(...SETTINGS.map((s) => s.env.length));
  for (const s of SETTINGS) {
    const def = s.def === undefined ? '(required)' : `(default: ${s.def === '' ? 'empty' : s.def})`;
    lines.push(`  ${s.env.padEnd(width)}  ${s.help} ${def}`);
  }
  lines.push('', 'Verdicts: only a definite clean reply from clamd counts as clean. Infected files are moved to',
    '$WARDEN_QUARANTINE/quarantine/<id>/ (mode 0400, with record.json) and replaced by <name>.quarantined.txt;',
    'every action is appended to $WARDEN_QUARANTINE/audit.log (JSON lines).');
  return lines.join('\n') + '\n';
}
