// Operator authentication. Pure: no I/O apart from readTokenFile.
//
// Three ways to present the operator token; a request is authenticated when any one is valid:
//   1. the `__Host-clawjail-session` cookie set by the login form at /__clawjail/login (the dashboard):
//      an HMAC of an expiry under the token, so it never contains the token and rotating the token
//      invalidates every session;
//   2. `Authorization: Bearer <token>`                     (CLI, scripts);
//   3. WebSocket subprotocol `clawjail.bearer.<base64url(token)>` (browser code, which cannot set headers).
// None of them is forwarded to OpenClaw: the prisoner never sees the operator's credentials. An
// Authorization header that is NOT the operator token, on a request authenticated by the cookie,
// belongs to the dashboard itself (OpenClaw's Control UI sends OpenClaw's token that way) and is
// passed on.
import * as crypto from 'crypto';
import * as fs from 'fs';
import type { IncomingHttpHeaders } from 'http';

export const BEARER_PROTOCOL_PREFIX = 'clawjail.bearer.';
/** Selected by the gateway when the client's only other offer was the bearer entry. */
export const MARKER_PROTOCOL = 'clawjail';
export const SESSION_COOKIE = '__Host-clawjail-session';
export const MIN_TOKEN_LENGTH = 32;
export const MAX_TOKEN_LENGTH = 4096;

function sha256(s: string | Buffer): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

/**
 * Constant-time comparison that does not leak the length either: both sides are hashed to
 * 32 bytes first, then compared with crypto.timingSafeEqual.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  return crypto.timingSafeEqual(sha256(presented), sha256(expected));
}

/** Validates token text; returns it trimmed of a trailing newline. Error messages never include it. */
export function validateToken(raw: string, label: string): string {
  const token = raw.replace(/\r?\n$/, '');
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`${label}: the token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -base64 32), got ${token.length}`);
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new Error(`${label}: the token is longer than ${MAX_TOKEN_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(`${label}: the token must be printable ASCII without spaces (one line)`);
  }
  return token;
}

export function readTokenFile(file: string, label = file): string {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${label}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return validateToken(raw, label);
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The name=value pairs of a Cookie header, in order, repeats included. */
function cookiePairs(header: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
  }
  return out;
}

/** Every value of the cookie `name` in a Cookie header, in order. */
export function cookieValues(header: string | undefined, name: string): string[] {
  return cookiePairs(header).filter(([k]) => k === name).map(([, v]) => v);
}

/**
 * Whether a Set-Cookie from upstream would set (or clear) our session cookie in some browser:
 * the name as a browser reads it (spaces and tabs around it trimmed, any case), or a nameless
 * cookie whose value is spelled like it.
 */
export function setsSessionCookie(setCookie: string): boolean {
  const pair = setCookie.split(';')[0];
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim().toLowerCase();
  const target = SESSION_COOKIE.toLowerCase();
  if (name === target) return true;
  return name === '' && pair.slice(eq + 1).trim().toLowerCase().startsWith(target);
}

/** The cookies of a Cookie header by name; the first of a repeated name. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, val] of cookiePairs(header)) if (!out.has(name)) out.set(name, val);
  return out;
}

export function parseProtocols(header: string | string[] | undefined): string[] {
  const s = headerString(header);
  if (!s) return [];
  return s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

export interface Credentials {
  bearer?: string;
  protocol?: string;
  /** Every session cookie the request carries: the dashboard's script can plant more of that name beside ours. */
  cookies?: string[];
  /** Something was presented but is unusable (e.g. `Authorization: Basic`, two bearer subprotocols). */
  malformed?: string;
}

export function extractCredentials(headers: IncomingHttpHeaders): Credentials {
  const out: Credentials = {};
  const authz = headers.authorization;
  if (authz !== undefined) {
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(authz);
    if (m) out.bearer = m[1];
    else out.malformed = 'Authorization header is not "Bearer <token>"';
  }
  const bearerProtocols = parseProtocols(headers['sec-websocket-protocol']).filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (bearerProtocols.length > 1) out.malformed = 'more than one bearer subprotocol';
  else if (bearerProtocols.length === 1) {
    const encoded = bearerProtocols[0].slice(BEARER_PROTOCOL_PREFIX.length);
    if (/^[A-Za-z0-9_-]+$/.test(encoded)) out.protocol = Buffer.from(encoded, 'base64url').toString('utf8');
    else out.malformed = 'bearer subprotocol is not base64url';
  }
  const cookies = cookieValues(headerString(headers.cookie), SESSION_COOKIE);
  if (cookies.length) out.cookies = cookies;
  return out;
}

/** The subprotocol entry a browser offers to present `token`. */
export function bearerProtocolFor(token: string): string {
  return BEARER_PROTOCOL_PREFIX + Buffer.from(token, 'utf8').toString('base64url');
}

// ---- browser session cookie -------------------------------------------------------------------

function sessionMac(token: string, expires: number, nonce: string): string {
  return crypto.createHmac('sha256', token).update(`clawjail-session|v1|${expires}|${nonce}`).digest('base64url');
}

/** Cookie value `v1.<expiresUnixSeconds>.<nonce>.<hmac>`; it does not contain the token. */
export function makeSessionValue(token: string, ttlSeconds: number, nowMs = Date.now()): string {
  const expires = Math.floor(nowMs / 1000) + ttlSeconds;
  const nonce = crypto.randomBytes(12).toString('base64url');
  return `v1.${expires}.${nonce}.${sessionMac(token, expires, nonce)}`;
}

export function verifySessionValue(value: string, token: string, nowMs = Date.now()): boolean {
  const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return false;
  const expires = Number(m[1]);
  const expected = sessionMac(token, expires, m[2]);
  const ok = crypto.timingSafeEqual(Buffer.from(m[3]), Buffer.from(expected));
  return ok && expires > Math.floor(nowMs / 1000);
}

export function sessionCookieHeader(value: string, ttlSeconds: number): string {
  // __Host- prefix: the browser only accepts it with Secure, Path=/ and no Domain.
  return `${SESSION_COOKIE}=${value}; Max-Age=${ttlSeconds}; Path=/; Secure; HttpOnly; SameSite=Strict`;
}

export function clearSessionCookieHeader(): string {
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict`;
}

// ---- the decision -----------------------------------------------------------------------------

export type AuthResult =
  | { ok: true; via: 'cookie' | 'bearer' | 'protocol'; /** the Authorization header is the operator token */ authorizationIsOperator: boolean }
  | { ok: false; reason: 'missing' | 'invalid' | 'malformed' | 'expired-or-invalid-session'; detail?: string };

/**
 * Every presented credential is checked (each in constant time); any valid one authenticates.
 * Precedence only decides what is reported: cookie, then bearer header, then subprotocol.
 */
export function authenticate(headers: IncomingHttpHeaders, expectedToken: string, nowMs = Date.now()): AuthResult {
  const c = extractCredentials(headers);
  // Any of them: a cookie the prisoner planted (a Partitioned one, say) sits beside ours, and
  // taking only the first would let it lock the operator out.
  const cookieOk = (c.cookies ?? []).some((v) => verifySessionValue(v, expectedToken, nowMs));
  const bearerOk = c.bearer !== undefined && tokensEqual(c.bearer, expectedToken);
  const protocolOk = c.protocol !== undefined && tokensEqual(c.protocol, expectedToken);
  if (cookieOk || bearerOk || protocolOk) {
    return { ok: true, via: cookieOk ? 'cookie' : bearerOk ? 'bearer' : 'protocol', authorizationIsOperator: bearerOk };
  }
  if (c.bearer !== undefined || c.protocol !== undefined) return { ok: false, reason: 'invalid' };
  if (c.malformed) return { ok: false, reason: 'malformed', detail: c.malformed };
  if (c.cookies) return { ok: false, reason: 'expired-or-invalid-session' };
  return { ok: false, reason: 'missing' };
}

/**
 * Same-origin check for cookie-authenticated requests (defence in depth on top of SameSite=Strict):
 * an Origin header, when present, must be https://<Host>.
 */
export function originMatchesHost(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  const host = headers.host;
  if (!host) return false;
  return origin.toLowerCase() === `https://${host.toLowerCase()}`;
}

// ---- what reaches OpenClaw ---------------------------------------------------------------------

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers whose presence would let a client forge its attribution: OpenClaw decides "local"
 * vs "proxied" vs "tailscale" from them. The gateway neither forwards nor invents them, so
 * OpenClaw sees one local client: the gateway (which has authenticated the operator).
 */
function isAttributionHeader(name: string): boolean {
  return (
    name === 'forwarded' ||
    name.startsWith('x-forwarded-') ||
    name === 'x-real-ip' ||
    name === 'x-client-ip' ||
    name === 'true-client-ip' ||
    name === 'cf-connecting-ip' ||
    name.startsWith('tailscale-')
  );
}

/** Headers named in `Connection:` are hop-by-hop for this one connection (RFC 9110 7.6.1). */
function connectionListedHeaders(headers: IncomingHttpHeaders): Set<string> {
  return new Set(
    (headerString(headers.connection) ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * Request headers for the upstream: hop-by-hop, attribution, Authorization (unless
 * `keepAuthorization`: the caller has checked it is not the operator token) and our session
 * cookie are removed (other cookies are kept). For WebSocket requests the ws client
 * writes its own handshake headers; pass `websocket: true` to drop the client's.
 */
export function upstreamRequestHeaders(
  headers: IncomingHttpHeaders,
  opts: { websocket?: boolean; keepAuthorization?: boolean } = {},
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionListed = connectionListedHeaders(headers);
  for (const [rawName, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || connectionListed.has(name) || isAttributionHeader(name)) continue;
    if (name === 'authorization' && !opts.keepAuthorization) continue;
    // On an upgrade the ws client writes its own; on plain HTTP they mean nothing upstream, and
    // Sec-WebSocket-Protocol may carry the operator's bearer token.
    if (name.startsWith('sec-websocket-')) continue;
    if (name === 'cookie') {
      const kept = [...parseCookies(headerString(v)).entries()]
        .filter(([k]) => k !== SESSION_COOKIE)
        .map(([k, val]) => `${k}=${val}`);
      if (kept.length) out.cookie = kept.join('; ');
      continue;
    }
    out[name] = v;
  }
  return out;
}

/** The client's offered subprotocols minus our bearer entry and marker. */
export function upstreamProtocols(header: string | string[] | undefined): string[] {
  return parseProtocols(header).filter((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX) && p !== MARKER_PROTOCOL);
}

/** Response headers from the upstream, minus hop-by-hop ones and any attempt to set our cookie. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionListed = connectionListedHeaders(headers);
  for (const [rawName, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    if (name === 'set-cookie') {
      const list = (Array.isArray(v) ? v : [v]).filter((c) => !setsSessionCookie(c));
      if (list.length) out[name] = list;
      continue;
    }
    // HSTS would make a self-signed vault unreachable for browsers; the prisoner does not get to set it.
    if (name === 'strict-transport-security') continue;
    // Nor to wipe the operator's cookies (a forced logout) or storage.
    if (name === 'clear-site-data') continue;
    // Nor to let a page be served from the browser's cache later without passing the gateway:
    // after a logout or an expiry a cached dashboard could draw a login form of its own.
    if (name === 'cache-control' || name === 'expires' || name === 'pragma') continue;
    out[name] = v;
  }
  out['cache-control'] = 'private, no-cache';
  return out;
}

// ---- OpenClaw's own token (optional injection) ----------------------------------------------

/** OpenClaw caps pre-connect frames at 64 KiB; a first frame larger than that is not touched. */
export const MAX_CONNECT_FRAME_BYTES = 64 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * If `text` is OpenClaw's `connect` request without device identity and without any credential,
 * returns it with `params.auth.token` set to OpenClaw's token; otherwise undefined (forward as is).
 * Device-signed connects are left alone: their signature covers the token, so such clients
 * (e.g. the browser Control UI) must present OpenClaw's token themselves.
 */
export function injectUpstreamToken(text: string, upstreamToken: string): string | undefined {
  if (Buffer.byteLength(text) > MAX_CONNECT_FRAME_BYTES) return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(msg) || msg.type !== 'req' || msg.method !== 'connect' || !isPlainObject(msg.params)) return undefined;
  const params = msg.params;
  if (params.device !== undefined && params.device !== null) return undefined;
  const auth = isPlainObject(params.auth) ? params.auth : {};
  if (auth.token || auth.password || auth.deviceToken || auth.bootstrapToken) return undefined;
  params.auth = { ...auth, token: upstreamToken };
  return JSON.stringify(msg);
}
