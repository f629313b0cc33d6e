// Environment → one typed, validated GatewayConfig. Every setting is listed in SETTINGS, which is
// also the source of `--help`; a bad value fails with an error naming the variable.
import * as net from 'net';
import { isValidAltName } from './cert';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface GatewayLimits {
  /** Largest WebSocket message (either direction) and largest proxied HTTP request body, bytes. */
  maxPayload: number;
  /** Concurrent proxied WebSocket sessions; one more gets HTTP 503. */
  maxConnections: number;
  /** TLS handshake + request headers must complete within this, ms. */
  handshakeTimeoutMs: number;
  /** A session with no message in either direction for this long is closed (1000 "idle timeout"), ms. */
  idleTimeoutMs: number;
  /** Connecting to the upstream (TCP + WebSocket handshake), ms. */
  upstreamTimeoutMs: number;
  /** Sustained new TLS connections per client address per minute. */
  ratePerMinute: number;
  /** Burst of new TLS connections per client address. */
  rateBurst: number;
}

export interface GatewayConfig {
  listen: ListenAddress;
  /** The login origin: the gateway's own pages, never OpenClaw's. */
  loginListen: ListenAddress;
  /** Ports as browsers see them when published under other numbers; unset: the bound ones. */
  publicPorts: { dashboard?: number; login?: number };
  /** True when the bind address is not loopback: an explicit choice the policy pack flags. */
  listenIsPublic: boolean;
  /** OpenClaw's WebSocket URL (ws:); HTTP requests go to the same host:port over http:. */
  upstream: URL;
  certFile?: string;
  keyFile?: string;
  /** Where cert.pem/key.pem are created at first start when GATEWAY_CERT/GATEWAY_KEY are unset. */
  stateDir?: string;
  certNames: string[];
  certDays: number;
  tokenFile: string;
  upstreamTokenFile?: string;
  /** Lifetime of the browser session cookie set by the login form, seconds. */
  sessionTtlSeconds: number;
  limits: GatewayLimits;
}

type Env = Record<string, string | undefined>;

export interface Setting {
  env: string;
  default?: string;
  description: string;
}

export const SETTINGS: Setting[] = [
  { env: 'GATEWAY_LISTEN', default: '127.0.0.1:8443', description: 'host:port to serve HTTPS/WSS on ([::1]:8443 for IPv6). Anything but loopback is an explicit exposure choice.' },
  { env: 'GATEWAY_LOGIN_LISTEN', default: '', description: "host:port of the login origin, the gateway's own pages (login, logout) and nothing of OpenClaw's, so the dashboard (the prisoner's code) can never script the page that takes the token. Default: GATEWAY_LISTEN's host and the next port (port 0 stays 0)." },
  { env: 'GATEWAY_PUBLIC_PORT', default: '', description: "The dashboard's port as browsers reach it, when it is published under another number (the login page links back to it). Default: the port bound." },
  { env: 'GATEWAY_LOGIN_PUBLIC_PORT', default: '', description: "The login origin's port as browsers reach it (the dashboard redirects there). Default: the port bound." },
  { env: 'GATEWAY_UPSTREAM', default: 'ws://127.0.0.1:18789', description: "OpenClaw's gateway WebSocket URL (ws:// only; its dashboard is proxied from the same host:port)." },
  { env: 'GATEWAY_CERT', description: 'PEM certificate file. Set together with GATEWAY_KEY; both must exist.' },
  { env: 'GATEWAY_KEY', description: 'PEM private key file (keep it 0600). Never logged.' },
  { env: 'GATEWAY_STATE_DIR', description: 'Directory (a volume only the gateway mounts) where cert.pem/key.pem are created at first start when GATEWAY_CERT/GATEWAY_KEY are unset.' },
  { env: 'GATEWAY_CERT_NAMES', default: '', description: 'Extra subjectAltNames (comma-separated DNS names or IPs) for a generated certificate; localhost, 127.0.0.1 and ::1 are always included.' },
  { env: 'GATEWAY_CERT_DAYS', default: '365', description: 'Validity of a generated certificate, days (1-3650).' },
  { env: 'GATEWAY_TOKEN_FILE', description: "Required. File holding the operator token (>= 32 characters, no whitespace). Clients send it as 'Authorization: Bearer', as the WebSocket subprotocol 'clawjail.bearer.<base64url>' or log in at /__clawjail/login. Never logged, never forwarded to OpenClaw." },
  { env: 'GATEWAY_UPSTREAM_TOKEN_FILE', description: "Optional. OpenClaw's own gateway token (OPENCLAW_GATEWAY_TOKEN). When set, the gateway adds it to a device-less 'connect' request that carries no credentials and sends it as 'Authorization: Bearer' on proxied HTTP requests, so the operator needs only the gateway token." },
  { env: 'GATEWAY_MAX_PAYLOAD', default: '26214400', description: "Largest WebSocket message, either direction, and largest proxied HTTP body, bytes (default 25 MiB = OpenClaw's own limit). Larger messages close the session with 1009." },
  { env: 'GATEWAY_MAX_CONNECTIONS', default: '100', description: 'Concurrent WebSocket sessions; beyond it new ones get HTTP 503.' },
  { env: 'GATEWAY_HANDSHAKE_TIMEOUT_MS', default: '10000', description: 'TLS handshake and HTTP request headers must complete within this many ms.' },
  { env: 'GATEWAY_IDLE_TIMEOUT_MS', default: '600000', description: 'Close a WebSocket session with no message in either direction for this many ms (close code 1000, reason "idle timeout"). 0 disables.' },
  { env: 'GATEWAY_UPSTREAM_TIMEOUT_MS', default: '5000', description: 'Connecting to the upstream must complete within this many ms (else HTTP 504).' },
  { env: 'GATEWAY_RATE_PER_MINUTE', default: '120', description: 'New TLS connections per client address per minute (sustained); beyond it HTTP 429.' },
  { env: 'GATEWAY_RATE_BURST', default: '30', description: 'New TLS connections per client address allowed in a burst.' },
  { env: 'GATEWAY_SESSION_TTL_SECONDS', default: '43200', description: 'Lifetime of the browser session cookie set by the login form, seconds.' },
  { env: 'GATEWAY_DEBUG', description: 'Set (to anything) to also log debug events such as failed TLS handshakes. Logs never contain tokens, keys or message contents.' },
];

const DEFAULTS: Record<string, string> = Object.fromEntries(
  SETTINGS.filter((s) => s.default !== undefined).map((s) => [s.env, s.default as string]),
);

function value(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return DEFAULTS[name] === '' ? undefined : DEFAULTS[name];
  return raw.trim();
}

function integer(env: Env, name: string, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) throw new ConfigError(name, 'is required');
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${raw}`);
  }
  return n;
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

export function parseListen(raw: string, name = 'GATEWAY_LISTEN'): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:\[\]]+):(\d+)$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected host:port such as 127.0.0.1:8443 or [::1]:8443, got "${raw}"`);
  const host = m[1];
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(name, `port must be 0-65535, got ${m[2]}`);
  }
  if (!net.isIP(host) && host !== 'localhost') {
    throw new ConfigError(name, `host must be an IP address (or localhost), got "${host}"`);
  }
  return { host, port };
}

export function parseUpstream(raw: string, name = 'GATEWAY_UPSTREAM'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected a ws:// URL such as ws://127.0.0.1:18789, got "${raw}"`);
  }
  if (url.protocol !== 'ws:') {
    throw new ConfigError(name, `only ws:// is supported (OpenClaw on a private link), got "${url.protocol}//"`);
  }
  if (url.username || url.password) throw new ConfigError(name, 'must not contain credentials');
  if (url.search || url.hash) throw new ConfigError(name, 'must not contain a query or fragment');
  if (!url.port) url.port = '80';
  return url;
}

export function loadConfig(env: Env): GatewayConfig {
  const listen = parseListen(value(env, 'GATEWAY_LISTEN')!);
  const loginRaw = value(env, 'GATEWAY_LOGIN_LISTEN');
  const loginListen = loginRaw
    ? parseListen(loginRaw, 'GATEWAY_LOGIN_LISTEN')
    : { host: listen.host, port: listen.port === 0 ? 0 : listen.port + 1 };
  if (loginListen.port > 65535) throw new ConfigError('GATEWAY_LOGIN_LISTEN', `GATEWAY_LISTEN's port is 65535: set a login port explicitly`);
  if (loginListen.port !== 0 && loginListen.port === listen.port) {
    throw new ConfigError('GATEWAY_LOGIN_LISTEN', `must be another port than GATEWAY_LISTEN's (${listen.port}): the login page may not share the dashboard's origin`);
  }
  const publicPort = (name: string) => {
    const raw = value(env, name);
    return raw === undefined ? undefined : integer(env, name, 1, 65535);
  };
  const publicPorts = { dashboard: publicPort('GATEWAY_PUBLIC_PORT'), login: publicPort('GATEWAY_LOGIN_PUBLIC_PORT') };
  // The ports browsers will use: published ones where given, else the bound ones.
  const seen = { dashboard: publicPorts.dashboard ?? listen.port, login: publicPorts.login ?? loginListen.port };
  if (seen.dashboard !== 0 && seen.dashboard === seen.login) {
    throw new ConfigError('GATEWAY_LOGIN_PUBLIC_PORT', 'must differ from GATEWAY_PUBLIC_PORT (each the port browsers use, else the bound one): the login page may not share the dashboard\'s origin');
  }
  const upstream = parseUpstream(value(env, 'GATEWAY_UPSTREAM')!);

  const certFile = value(env, 'GATEWAY_CERT');
  const keyFile = value(env, 'GATEWAY_KEY');
  const stateDir = value(env, 'GATEWAY_STATE_DIR');
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError(certFile ? 'GATEWAY_KEY' : 'GATEWAY_CERT', 'GATEWAY_CERT and GATEWAY_KEY must be set together');
  }
  if (!certFile && !stateDir) {
    throw new ConfigError('GATEWAY_CERT', 'set GATEWAY_CERT and GATEWAY_KEY, or GATEWAY_STATE_DIR to create a certificate at first start');
  }
  const certNames = (value(env, 'GATEWAY_CERT_NAMES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of certNames) {
    if (!isValidAltName(n)) throw new ConfigError('GATEWAY_CERT_NAMES', `"${n}" is neither a DNS name nor an IP address`);
  }
  const tokenFile = value(env, 'GATEWAY_TOKEN_FILE');
  if (!tokenFile) throw new ConfigError('GATEWAY_TOKEN_FILE', 'is required: the gateway never runs without operator authentication');

  const limits: GatewayLimits = {
    maxPayload: integer(env, 'GATEWAY_MAX_PAYLOAD', 1024, 256 * 1024 * 1024),
    maxConnections: integer(env, 'GATEWAY_MAX_CONNECTIONS', 1, 100_000),
    handshakeTimeoutMs: integer(env, 'GATEWAY_HANDSHAKE_TIMEOUT_MS', 100, 600_000),
    idleTimeoutMs: integer(env, 'GATEWAY_IDLE_TIMEOUT_MS', 0, 86_400_000),
    upstreamTimeoutMs: integer(env, 'GATEWAY_UPSTREAM_TIMEOUT_MS', 100, 600_000),
    ratePerMinute: integer(env, 'GATEWAY_RATE_PER_MINUTE', 1, 1_000_000),
    rateBurst: integer(env, 'GATEWAY_RATE_BURST', 1, 1_000_000),
  };
  if (limits.idleTimeoutMs !== 0 && limits.idleTimeoutMs < 100) {
    throw new ConfigError('GATEWAY_IDLE_TIMEOUT_MS', `expected 0 (off) or at least 100, got ${limits.idleTimeoutMs}`);
  }
  return {
    listen,
    loginListen,
    publicPorts,
    listenIsPublic: !isLoopbackHost(listen.host),
    upstream,
    certFile,
    keyFile,
    stateDir,
    certNames,
    certDays: integer(env, 'GATEWAY_CERT_DAYS', 1, 3650),
    tokenFile,
    upstreamTokenFile: value(env, 'GATEWAY_UPSTREAM_TOKEN_FILE'),
    sessionTtlSeconds: integer(env, 'GATEWAY_SESSION_TTL_SECONDS', 60, 30 * 86_400),
    limits,
  };
}

export function helpText(): string {
  const lines = [
    'clawjail-gateway: pinned-TLS, token-authenticated front for the OpenClaw gateway',
    '',
    'usage: node dist/main.js [--help] [--version] [--print-fingerprint] [--healthcheck]',
    '',
    '  --help               this text',
    '  --version            print the version',
    '  --print-fingerprint  load (or create) the certificate, print its SHA-256 fingerprint, exit',
    '  --healthcheck        GET /healthz of the running gateway, pinned to its own certificate; exit 0 if healthy',
    '',
    'Configured by environment variables:',
    '',
  ];
  for (const s of SETTINGS) {
    lines.push(`  ${s.env}${s.default !== undefined && s.default !== '' ? ` (default ${s.default})` : ''}`);
    lines.push(`      ${s.description}`);
  }
  lines.push(
    '',
    'Endpoints: on GATEWAY_LISTEN, GET /healthz (no auth) and everything else proxied to OpenClaw (WebSocket',
    'and HTTP) only after authentication; on GATEWAY_LOGIN_LISTEN, /__clawjail/login and /__clawjail/logout',
    '(the browser session) and nothing else.',
    'Signals: SIGHUP re-reads the token files and the certificate/key; SIGTERM/SIGINT close sessions (1001) and exit.',
  );
  return lines.join('\n') + '\n';
}
