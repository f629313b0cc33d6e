// Environment → one typed, validated EgressConfig. Every setting is listed in SETTINGS, which is
// also the source of `--help`; a bad value fails with an error naming the variable.
import * as net from 'net';
import { parseCidr } from './addresses';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export interface EgressLimits {
  /** Open client connections at once; one more gets 429. */
  maxConnections: number;
  /** Bytes per client connection, both directions together. */
  maxBytes: number;
  /** Lifetime of one client connection, seconds. */
  maxSeconds: number;
  /** Request head size (request line + headers), bytes; over it: 431. */
  maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: EgressLimits = {
  maxConnections: 256,
  maxBytes: 4 * 1024 * 1024 * 1024,
  maxSeconds: 3600,
  maxHeaderBytes: 16384,
};

export interface EgressConfig {
  listen: HostPort;
  policyFile: string;
  resolver: HostPort;
  logFile: string;
  providersFile?: string;
  adminSocket: string;
  extraBlocked: string[];
  limits: EgressLimits;
}

type Env = Record<string, string | undefined>;

export interface Setting {
  env: string;
  required: boolean;
  default?: string;
  description: string;
}

export const SETTINGS: Setting[] = [
  { env: 'EGRESS_LISTEN', required: true, description: 'host:port the proxy listens on (an IP address, e.g. 172.29.79.2:3128; [::1]:3128 for IPv6).' },
  { env: 'EGRESS_POLICY_FILE', required: true, description: 'JSON {"allow": [...], "deny": [...]}; re-read when it changes. Missing or invalid = deny everything (reason no-policy).' },
  { env: 'EGRESS_RESOLVER', required: true, description: 'ip:port of the DNS server the proxy asks for A records (e.g. 127.0.0.11:53); never the system resolver.' },
  { env: 'EGRESS_LOG', required: true, description: 'Path of the JSON-lines decision log, rotated at 16 MiB into <path>.1.' },
  { env: 'EGRESS_ADMIN_SOCKET', required: true, description: 'Unix socket (mode 0600) for live changes: status, pending, allow, deny.' },
  { env: 'EGRESS_PROVIDERS_FILE', required: false, description: 'JSON {"providers":[{"name","baseUrl","header","prefix","key"}]}: routes /providers/<name>/... that add the key outside the cell. Read once at start; keys are never logged.' },
  { env: 'EGRESS_EXTRA_BLOCKED', required: false, default: '', description: 'Comma-separated IPv4 CIDRs refused besides the built-in list.' },
  { env: 'EGRESS_MAX_CONNECTIONS', required: false, default: String(DEFAULT_LIMITS.maxConnections), description: 'Open client connections at once; over it: 429 (JSON body).' },
  { env: 'EGRESS_MAX_BYTES', required: false, default: String(DEFAULT_LIMITS.maxBytes), description: 'Bytes per connection, both directions together (default 4 GiB); then the connection is ended (reason byte-limit).' },
  { env: 'EGRESS_MAX_SECONDS', required: false, default: String(DEFAULT_LIMITS.maxSeconds), description: 'Lifetime of one connection, seconds; then it is ended (reason time-limit).' },
  { env: 'EGRESS_MAX_HEADER_BYTES', required: false, default: String(DEFAULT_LIMITS.maxHeaderBytes), description: 'Request head size, bytes; over it: 431.' },
];

const DEFAULTS: Record<string, string> = Object.fromEntries(
  SETTINGS.filter((s) => s.default !== undefined).map((s) => [s.env, s.default as string]),
);

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return DEFAULTS[name] === '' ? undefined : DEFAULTS[name];
  return raw.trim();
}

function required(env: Env, name: string): string {
  const v = value(env, name);
  if (v === undefined) throw new ConfigError(name, 'is required (see --help)');
  return v;
}

function integer(env: Env, name: string, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) throw new ConfigError(name, 'is required');
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${raw}`);
  return n;
}

/** `ip:port` or `[ipv6]:port`; the host must be an IP address. */
export function parseHostPort(raw: string, name: string, allowPortZero: boolean): HostPort {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(raw) ?? /^([^:[\]]+):(\d{1,5})$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected ip:port such as 127.0.0.1:3128 or [::1]:3128, got "${raw}"`);
  const port = Number(m[2]);
  if (port > 65535 || (port === 0 && !allowPortZero)) throw new ConfigError(name, `port must be ${allowPortZero ? 0 : 1}-65535, got ${m[2]}`);
  if (!net.isIP(m[1])) throw new ConfigError(name, `host must be an IP address, got "${m[1]}"`);
  return { host: m[1], port };
}

export function parseExtraBlocked(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((c) => {
      try {
        return parseCidr(c).cidr;
      } catch (e) {
        throw new ConfigError('EGRESS_EXTRA_BLOCKED', (e as Error).message);
      }
    });
}

function filePath(env: Env, name: string): string {
  const v = required(env, name);
  if (v.includes('\0')) throw new ConfigError(name, 'must be a path');
  return v;
}

export function loadConfig(env: Env): EgressConfig {
  const listen = parseHostPort(required(env, 'EGRESS_LISTEN'), 'EGRESS_LISTEN', true);
  const policyFile = filePath(env, 'EGRESS_POLICY_FILE');
  const resolver = parseHostPort(required(env, 'EGRESS_RESOLVER'), 'EGRESS_RESOLVER', false);
  const logFile = filePath(env, 'EGRESS_LOG');
  const adminSocket = filePath(env, 'EGRESS_ADMIN_SOCKET');
  if (Buffer.byteLength(adminSocket) > 100) throw new ConfigError('EGRESS_ADMIN_SOCKET', 'a unix socket path must be at most 100 bytes');
  const providersFile = value(env, 'EGRESS_PROVIDERS_FILE');
  return {
    listen,
    policyFile,
    resolver,
    logFile,
    adminSocket,
    providersFile,
    extraBlocked: parseExtraBlocked(value(env, 'EGRESS_EXTRA_BLOCKED')),
    limits: {
      maxConnections: integer(env, 'EGRESS_MAX_CONNECTIONS', 1, 100_000),
      maxBytes: integer(env, 'EGRESS_MAX_BYTES', 1024, Number.MAX_SAFE_INTEGER),
      maxSeconds: integer(env, 'EGRESS_MAX_SECONDS', 1, 30 * 86_400),
      maxHeaderBytes: integer(env, 'EGRESS_MAX_HEADER_BYTES', 1024, 1024 * 1024),
    },
  };
}

export function helpText(): string {
  const lines = [
    "clawjail-egress: the cell's egress gate (allowlisting HTTP CONNECT / HTTP proxy with provider routes)",
    '',
    'usage: node dist/main.js [--help] [--version] [--healthcheck]',
    '',
    '  --help         this text',
    '  --version      print the version',
    '  --healthcheck  ask the running proxy for its status over EGRESS_ADMIN_SOCKET; exit 0 if it answers ok',
    '',
    'Configured by environment variables:',
    '',
  ];
  for (const s of SETTINGS) {
    const tag = s.required ? ' (required)' : s.default !== undefined && s.default !== '' ? ` (default ${s.default})` : '';
    lines.push(`  ${s.env}${tag}`);
    lines.push(`      ${s.description}`);
  }
  lines.push(
    '',
    'Policy entries: host or *.suffix, optionally :port (allow without a port = 443 only; deny without a port = every port; deny wins).',
    'Signals: SIGTERM/SIGINT close the listener and every open connection, then exit.',
  );
  return lines.join('\n') + '\n';
}
