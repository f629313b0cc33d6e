// The vault's data path: an HTTPS server that authenticates every request BEFORE anything is
// opened towards OpenClaw, then pipes WebSocket messages (and dashboard HTTP requests) both ways.
import * as http from 'http';
import * as https from 'https';
import type * as net from 'net';
import type { Duplex } from 'stream';
import type * as tls from 'tls';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import {
  authenticate,
  clearSessionCookieHeader,
  downstreamResponseHeaders,
  injectUpstreamToken,
  makeSessionValue,
  MARKER_PROTOCOL,
  originMatchesHost,
  parseProtocols,
  sessionCookieHeader,
  tokensEqual,
  upstreamProtocols,
  upstreamRequestHeaders,
} from './auth';
import type { GatewayLimits, ListenAddress } from './config';
import { clientKey, RateLimiter } from './ratelimit';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** JSON lines on stderr. Callers never pass tokens, keys or message bodies. */
export const jsonLogger: Logger = (level, msg, fields) => {
  if (level === 'debug' && !process.env.GATEWAY_DEBUG) return;
  process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');
};

export interface GatewayOptions {
  listen: ListenAddress;
  /** OpenClaw's WebSocket base URL (ws://host:port[/base]); HTTP goes to http://host:port. */
  upstream: URL;
  certPem: string;
  keyPem: string;
  /** The operator token. */
  token: string;
  /** OpenClaw's own token, injected on behalf of the operator (see auth.injectUpstreamToken). */
  upstreamToken?: string;
  sessionTtlSeconds?: number;
  limits: GatewayLimits;
  log?: Logger;
}

export type RefusalKind =
  | 'unauthorized'
  | 'forbidden'
  | 'rateLimited'
  | 'maxConnections'
  | 'upstreamUnavailable'
  | 'upstreamTimeout'
  | 'upstreamRefused'
  | 'badRequest'
  | 'tooLarge';

export interface GatewayStats {
  sessions: number;
  pendingUpstream: number;
  sessionsTotal: number;
  httpProxied: number;
  tlsErrors: number;
  refused: Record<RefusalKind, number>;
}

/** Close codes that may be sent on the wire (RFC 6455 §7.4; ws's own check). */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * Mirrors a close seen on one side onto the other. 1005 (no code) becomes 1000; an abnormal
 * end (1006, 1015) becomes 1011 towards the client and 1001 towards the upstream.
 */
export function mapCloseCode(code: number, reason: string, towards: 'client' | 'upstream'): { code: number; reason: string } {
  if (code === 1005) return { code: 1000, reason: '' };
  if (code === 1006 || code === 1015 || !isSendableCloseCode(code)) {
    return towards === 'client'
      ? { code: 1011, reason: 'upstream connection lost' }
      : { code: 1001, reason: 'client connection lost' };
  }
  return { code, reason: truncateReason(reason) };
}

function truncateReason(reason: string): string {
  // A close reason is at most 123 bytes of UTF-8.
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

/** Close code for a ws protocol error raised while reading from a peer. */
export function closeCodeForError(err: Error & { code?: string }): number {
  switch (err.code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
      return 1009;
    case 'WS_ERR_INVALID_UTF8':
      return 1007;
    default:
      return err.code?.startsWith('WS_ERR_') ? 1002 : 1011;
  }
}

const STATUS_TEXT: Record<number, string> = http.STATUS_CODES as Record<number, string>;

/** Answers an upgrade request on the raw socket with a plain HTTP error and closes it. */
function rejectUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = message + '\n';
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
  // end() flushes then closes; destroy if the peer does not let go.
  setTimeout(() => socket.destroy(), 1000).unref();
}

function rawByteLength(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function acceptsHtml(req: http.IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && /text\/html/i.test(req.headers.accept ?? '');
}

function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/__clawjail/')) return '/';
  return next;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const OWN_PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // not no-referrer: with it, browsers send "Origin: null" on the login POST, which the origin check refuses
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

function loginPage(next: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clawjail gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
input[type=password]{width:100%;padding:.5rem;font-family:monospace}button{margin-top:1rem;padding:.5rem 1rem}
.err{color:#b00}</style></head>
<body><h1>clawjail gateway</h1>
<p>Before typing the token, check that the certificate your browser shows for this page has the
SHA-256 fingerprint printed by <code>clawjail fingerprint</code> / the stack output.</p>
${error ? `<p class="err">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/__clawjail/login">
<label>Operator token<br><input type="password" name="token" autocomplete="current-password" autofocus required></label>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<br><button type="submit">Open the dashboard</button></form></body></html>
`;
}

interface Session {
  id: number;
  client: WebSocket;
  upstream: WebSocket;
  remote: string;
  lastActivity: number;
  closing: boolean;
  firstClientFrame: boolean;
  toUpstream: { pending: number };
  toClient: { pending: number };
}

/** Pause a sender whose peer has this many unflushed bytes; resume below LOW. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Sockets beyond the WebSocket limit that may still exist (handshaking, dashboard keep-alive). */
const EXTRA_SOCKETS = 64;

export class Gateway {
  readonly server: https.Server;
  private readonly wss: WebSocketServer;
  private readonly log: Logger;
  private readonly limits: GatewayLimits;
  private readonly upstreamBase: URL;
  private readonly upstreamHttp: { host: string; port: number; basePath: string };
  private readonly httpAgent: http.Agent;
  private readonly connLimiter: RateLimiter;
  private readonly authFailLimiter: RateLimiter;
  private readonly sessionTtl: number;
  private token: string;
  private upstreamToken?: string;
  private readonly sessions = new Set<Session>();
  private readonly sockets = new Set<net.Socket>();
  private readonly rateLimited = new WeakMap<net.Socket, number>();
  private readonly selectedProtocol = new WeakMap<http.IncomingMessage, string | false>();
  private pendingUpstream = 0;
  private nextId = 1;
  private sweeper?: NodeJS.Timeout;
  private closing = false;
  private readonly counters: GatewayStats = {
    sessions: 0,
    pendingUpstream: 0,
    sessionsTotal: 0,
    httpProxied: 0,
    tlsErrors: 0,
    refused: {
      unauthorized: 0,
      forbidden: 0,
      rateLimited: 0,
      maxConnections: 0,
      upstreamUnavailable: 0,
      upstreamTimeout: 0,
      upstreamRefused: 0,
      badRequest: 0,
      tooLarge: 0,
    },
  };

  constructor(private readonly opts: GatewayOptions) {
    this.log = opts.log ?? jsonLogger;
    this.limits = opts.limits;
    this.token = opts.token;
    this.upstreamToken = opts.upstreamToken;
    this.sessionTtl = opts.sessionTtlSeconds ?? 43_200;
    this.upstreamBase = new URL(opts.upstream.href);
    this.upstreamHttp = {
      host: this.upstreamBase.hostname.replace(/^\[|\]$/g, ''),
      port: Number(this.upstreamBase.port || 80),
      basePath: this.upstreamBase.pathname.replace(/\/$/, ''),
    };
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.connLimiter = new RateLimiter({ perMinute: this.limits.ratePerMinute, burst: this.limits.rateBurst });
    this.authFailLimiter = new RateLimiter({ perMinute: this.limits.ratePerMinute, burst: this.limits.rateBurst });

    const handshake = this.limits.handshakeTimeoutMs;
    this.server = https.createServer({
      cert: opts.certPem,
      key: opts.keyPem,
      minVersion: 'TLSv1.2',
      // TLS 1.3 is negotiated whenever the client offers it; TLS 1.2 only with forward-secret AEAD suites.
      ciphers: [
        'TLS_AES_256_GCM_SHA384',
        'TLS_CHACHA20_POLY1305_SHA256',
        'TLS_AES_128_GCM_SHA256',
        'ECDHE-ECDSA-AES256-GCM-SHA384',
        'ECDHE-RSA-AES256-GCM-SHA384',
        'ECDHE-ECDSA-CHACHA20-POLY1305',
        'ECDHE-RSA-CHACHA20-POLY1305',
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        'ECDHE-RSA-AES128-GCM-SHA256',
      ].join(':'),
      honorCipherOrder: true,
      handshakeTimeout: handshake,
      headersTimeout: handshake,
      requestTimeout: Math.max(60_000, handshake),
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(handshake / 4))),
    });
    this.server.maxConnections = this.limits.maxConnections + EXTRA_SOCKETS;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (_offered, req) => this.selectedProtocol.get(req) ?? false,
    });

    this.server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => this.onSecureConnection(socket));
    this.server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      this.counters.tlsErrors++;
      this.log('debug', 'tls handshake failed', { remote: socket.remoteAddress, error: err.code ?? err.message });
      socket.destroy();
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      rejectUpgrade(socket, status, status === 408 ? 'request timeout' : 'bad request');
    });
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  /** Starts listening; resolves with the bound address (port 0 → an ephemeral port). */
  async start(): Promise<ListenAddress> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    if (this.limits.idleTimeoutMs > 0) {
      const every = Math.max(50, Math.min(5_000, Math.floor(this.limits.idleTimeoutMs / 4)));
      this.sweeper = setInterval(() => this.sweepIdle(), every);
      this.sweeper.unref();
    }
    const addr = this.server.address() as net.AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  get address(): ListenAddress {
    const addr = this.server.address() as net.AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  stats(): GatewayStats {
    return {
      ...this.counters,
      refused: { ...this.counters.refused },
      sessions: this.sessions.size,
      pendingUpstream: this.pendingUpstream,
    };
  }

  /**
   * Rotation without a restart: a new certificate applies to new TLS handshakes; a new operator
   * token closes every open session (1008 "operator token rotated") and invalidates browser sessions.
   */
  reload(next: { certPem?: string; keyPem?: string; token?: string; upstreamToken?: string | null }): void {
    if (next.certPem && next.keyPem) {
      this.server.setSecureContext({ cert: next.certPem, key: next.keyPem });
      this.log('info', 'certificate reloaded');
    }
    if (next.upstreamToken !== undefined) this.upstreamToken = next.upstreamToken ?? undefined;
    if (next.token !== undefined && !tokensEqual(next.token, this.token)) {
      this.token = next.token;
      for (const s of this.sessions) this.closeSession(s, 1008, 'operator token rotated');
      this.log('info', 'operator token rotated; open sessions closed');
    }
  }

  /** Stops accepting, closes every session with 1001, and resolves once the server is closed. */
  async close(graceMs = 2_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) this.closeSession(s, 1001, 'gateway shutting down');
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const sock of this.sockets) sock.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    this.httpAgent.destroy();
    this.wss.close();
  }

  // ---- connection admission -------------------------------------------------------------------

  private onSecureConnection(socket: tls.TLSSocket): void {
    const decision = this.connLimiter.take(clientKey(socket.remoteAddress), Date.now());
    if (!decision.ok) this.rateLimited.set(socket, decision.retryAfterMs);
  }

  /** A refusal that applies before authentication: connection rate and failed-auth rate. */
  private admissionRefusal(req: http.IncomingMessage): { retryAfterMs: number } | undefined {
    const limited = this.rateLimited.get(req.socket);
    if (limited !== undefined) return { retryAfterMs: limited };
    if (!this.authFailLimiter.peek(clientKey(req.socket.remoteAddress), Date.now())) return { retryAfterMs: 1000 };
    return undefined;
  }

  private noteAuthFailure(req: http.IncomingMessage, reason: string, via: string): void {
    this.authFailLimiter.take(clientKey(req.socket.remoteAddress), Date.now());
    this.log('warn', 'unauthorized', { remote: req.socket.remoteAddress, reason, via, path: (req.url ?? '').split('?')[0].slice(0, 200) });
  }

  // ---- WebSocket ---------------------------------------------------------------------------

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refuse = (kind: RefusalKind, status: number, message: string, headers?: Record<string, string>) => {
      this.counters.refused[kind]++;
      rejectUpgrade(socket, status, message, headers);
    };
    if (this.closing) return refuse('upstreamUnavailable', 503, 'gateway shutting down');
    const limited = this.admissionRefusal(req);
    if (limited) {
      return refuse('rateLimited', 429, 'rate limited: too many new connections from this address', {
        'Retry-After': String(Math.max(1, Math.ceil(limited.retryAfterMs / 1000))),
      });
    }
    const url = req.url ?? '';
    if (!url.startsWith('/') || url.startsWith('//')) return refuse('badRequest', 400, 'bad request target');
    if (url.startsWith('/__clawjail/')) return refuse('badRequest', 404, 'not found');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse('badRequest', 400, 'only WebSocket upgrades are supported');

    // Authentication comes first: no upstream connection exists for an unauthenticated request.
    const auth = authenticate(req.headers, this.token);
    if (!auth.ok) {
      this.noteAuthFailure(req, auth.reason, 'websocket');
      return refuse('unauthorized', 401, `unauthorized: ${auth.reason === 'missing' ? 'operator token required' : 'invalid operator token'}`, {
        'WWW-Authenticate': 'Bearer realm="clawjail"',
      });
    }
    if (auth.via === 'cookie' && !originMatchesHost(req.headers)) {
      return refuse('forbidden', 403, 'forbidden: cross-origin request with a session cookie');
    }
    if (this.sessions.size + this.pendingUpstream >= this.limits.maxConnections) {
      this.log('warn', 'connection limit reached', { remote: req.socket.remoteAddress, limit: this.limits.maxConnections });
      return refuse('maxConnections', 503, 'too many connections: the gateway is at its connection limit', { 'Retry-After': '5' });
    }
    this.connectUpstream(req, socket, head, auth.via);
  }

  private connectUpstream(req: http.IncomingMessage, socket: Duplex, head: Buffer, via: string): void {
    this.pendingUpstream++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.pendingUpstream--;
      return true;
    };
    const target = new URL(this.upstreamBase.href);
    const [pathPart, query] = (req.url ?? '/').split(/\?(.*)/s, 2);
    target.pathname = this.upstreamHttp.basePath + pathPart;
    target.search = query ? `?${query}` : '';

    // The WebSocket upgrade carries no Authorization to OpenClaw (its auth is in the connect frame).
    const headers = upstreamRequestHeaders(req.headers, { websocket: true });
    const up = new WebSocket(target, upstreamProtocols(req.headers['sec-websocket-protocol']), {
      headers,
      maxPayload: this.limits.maxPayload,
      perMessageDeflate: false,
      handshakeTimeout: this.limits.upstreamTimeoutMs,
      followRedirects: false,
    });
    const onClientGone = () => {
      if (settle()) up.terminate();
    };
    socket.once('close', onClientGone);

    up.on('unexpected-response', (_upReq, upRes) => {
      upRes.resume();
      if (!settle()) return;
      socket.off('close', onClientGone);
      up.terminate();
      this.counters.refused.upstreamRefused++;
      this.log('warn', 'upstream refused the WebSocket handshake', { status: upRes.statusCode });
      rejectUpgrade(socket, 502, `bad gateway: upstream refused the WebSocket handshake (HTTP ${upRes.statusCode})`);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!settle()) return;
      socket.off('close', onClientGone);
      const timeout = /timed out/i.test(err.message);
      this.counters.refused[timeout ? 'upstreamTimeout' : 'upstreamUnavailable']++;
      this.log('warn', 'upstream unavailable', { error: err.code ?? err.message });
      if (timeout) rejectUpgrade(socket, 504, 'gateway timeout: upstream did not answer in time');
      else rejectUpgrade(socket, 503, 'service unavailable: upstream (OpenClaw) is not reachable', { 'Retry-After': '5' });
    });
    up.once('open', () => {
      if (!settle()) return up.close(1001, 'client went away');
      socket.off('close', onClientGone);
      if (socket.destroyed || this.closing) return up.close(1001, 'client went away');
      const offered = parseProtocols(req.headers['sec-websocket-protocol']);
      this.selectedProtocol.set(req, up.protocol ? up.protocol : offered.includes(MARKER_PROTOCOL) ? MARKER_PROTOCOL : false);
      this.wss.handleUpgrade(req, socket, head, (client) => this.bridge(client, up, req, via));
    });
  }

  private bridge(client: WebSocket, up: WebSocket, req: http.IncomingMessage, via: string): void {
    const s: Session = {
      id: this.nextId++,
      client,
      upstream: up,
      remote: req.socket.remoteAddress ?? 'unknown',
      lastActivity: Date.now(),
      closing: false,
      firstClientFrame: true,
      toUpstream: { pending: 0 },
      toClient: { pending: 0 },
    };
    this.sessions.add(s);
    this.counters.sessionsTotal++;
    this.log('info', 'session opened', { session: s.id, remote: s.remote, via, path: (req.url ?? '').split('?')[0].slice(0, 200) });

    client.on('message', (data, isBinary) => {
      s.lastActivity = Date.now();
      let out: RawData | string = data;
      if (s.firstClientFrame) {
        s.firstClientFrame = false;
        if (this.upstreamToken && !isBinary) {
          const injected = injectUpstreamToken(data.toString(), this.upstreamToken);
          if (injected !== undefined) out = injected;
        }
      }
      this.forward(client, up, out, isBinary, s.toUpstream);
    });
    up.on('message', (data, isBinary) => {
      s.lastActivity = Date.now();
      this.forward(up, client, data, isBinary, s.toClient);
    });

    client.on('error', (err: Error & { code?: string }) => {
      const code = closeCodeForError(err);
      this.log('info', 'client error', { session: s.id, error: err.code ?? err.message, closeCode: code });
      if (code === 1009) this.counters.refused.tooLarge++;
      this.closeSide(up, code === 1009 ? 1009 : 1001, code === 1009 ? 'client message too big' : 'client error');
    });
    up.on('error', (err: Error & { code?: string }) => {
      const code = closeCodeForError(err);
      this.log('warn', 'upstream error', { session: s.id, error: err.code ?? err.message });
      if (code === 1009) this.counters.refused.tooLarge++;
      this.closeSide(client, code === 1009 ? 1009 : 1011, code === 1009 ? 'upstream message too big' : 'upstream error');
    });
    client.on('close', (code, reason) => {
      this.sessions.delete(s);
      const mapped = mapCloseCode(code, reason.toString(), 'upstream');
      this.closeSide(up, mapped.code, mapped.reason);
      this.log('info', 'session closed', { session: s.id, code });
    });
    up.on('close', (code, reason) => {
      const mapped = mapCloseCode(code, reason.toString(), 'client');
      this.closeSide(client, mapped.code, mapped.reason);
    });
  }

  private forward(from: WebSocket, to: WebSocket, data: RawData | string, isBinary: boolean, counter: { pending: number }): void {
    if (to.readyState !== WebSocket.OPEN) return;
    const len = typeof data === 'string' ? Buffer.byteLength(data) : rawByteLength(data);
    counter.pending += len;
    to.send(data, { binary: isBinary }, () => {
      counter.pending -= len;
      if (from.isPaused && counter.pending <= LOW_WATER) from.resume();
    });
    if (counter.pending > HIGH_WATER && !from.isPaused) from.pause();
  }

  private closeSide(ws: WebSocket, code: number, reason: string): void {
    if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
    if (ws.isPaused) ws.resume();
    ws.close(code, truncateReason(reason));
  }

  private closeSession(s: Session, code: number, reason: string): void {
    if (s.closing) return;
    s.closing = true;
    this.closeSide(s.client, code, reason);
    this.closeSide(s.upstream, code === 1008 ? 1001 : code, reason);
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.limits.idleTimeoutMs;
    for (const s of this.sessions) {
      if (s.lastActivity < cutoff) {
        this.log('info', 'idle timeout', { session: s.id });
        this.closeSession(s, 1000, 'idle timeout');
      }
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (kind: RefusalKind | undefined, status: number, message: string, headers: Record<string, string> = {}) => {
      if (kind) this.counters.refused[kind]++;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(message + '\n');
    };
    const url = req.url ?? '';
    if (!url.startsWith('/') || url.startsWith('//')) return send('badRequest', 400, 'bad request target');
    const pathname = url.split('?')[0];
    if (pathname === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      // The count of open sessions is for `clawjail status`; OpenClaw (the prisoner) sees each of them anyway.
      return void res.end(JSON.stringify({ ok: true, service: 'clawjail-gateway', sessions: this.sessions.size }) + '\n');
    }
    const limited = this.admissionRefusal(req);
    if (limited) {
      return send('rateLimited', 429, 'rate limited: too many new connections from this address', {
        Connection: 'close',
        'Retry-After': String(Math.max(1, Math.ceil(limited.retryAfterMs / 1000))),
      });
    }
    if (pathname.startsWith('/__clawjail/')) return this.ownRoute(req, res, pathname, url);

    const auth = authenticate(req.headers, this.token);
    if (!auth.ok) {
      this.noteAuthFailure(req, auth.reason, 'http');
      this.counters.refused.unauthorized++;
      if (acceptsHtml(req)) {
        res.writeHead(303, { Location: `/__clawjail/login?next=${encodeURIComponent(url)}`, 'Cache-Control': 'no-store' });
        return void res.end();
      }
      return send(undefined, 401, `unauthorized: ${auth.reason === 'missing' ? 'operator token required' : 'invalid operator token'}`, {
        'WWW-Authenticate': 'Bearer realm="clawjail"',
      });
    }
    if (auth.via === 'cookie' && !originMatchesHost(req.headers)) {
      return send('forbidden', 403, 'forbidden: cross-origin request with a session cookie');
    }
    // An Authorization header that is not the operator token belongs to the dashboard (OpenClaw's
    // Control UI sends OpenClaw's token that way) and is passed on; the operator token never is.
    this.proxyHttp(req, res, req.headers.authorization !== undefined && !auth.authorizationIsOperator);
  }

  private ownRoute(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, url: string): void {
    const page = (status: number, html: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', ...OWN_PAGE_HEADERS, ...headers });
      res.end(html);
    };
    if (pathname === '/__clawjail/login' && req.method === 'GET') {
      const next = new URL(url, 'https://gateway.invalid').searchParams.get('next');
      return page(200, loginPage(safeNext(next)));
    }
    if (pathname === '/__clawjail/login' && req.method === 'POST') {
      if (!originMatchesHost(req.headers)) {
        this.counters.refused.forbidden++;
        return page(403, loginPage('/', 'Cross-origin login refused.'));
      }
      readSmallBody(req, 8192, (err, body) => {
        if (err || body === undefined) {
          this.counters.refused.tooLarge++;
          return page(413, loginPage('/', 'Request too large.'));
        }
        const form = new URLSearchParams(body);
        const next = safeNext(form.get('next'));
        const presented = form.get('token') ?? '';
        if (!presented || !tokensEqual(presented, this.token)) {
          this.noteAuthFailure(req, presented ? 'invalid' : 'missing', 'login');
          this.counters.refused.unauthorized++;
          return page(401, loginPage(next, 'Wrong token.'));
        }
        const value = makeSessionValue(this.token, this.sessionTtl);
        this.log('info', 'browser session opened', { remote: req.socket.remoteAddress });
        res.writeHead(303, { Location: next, 'Set-Cookie': sessionCookieHeader(value, this.sessionTtl), 'Cache-Control': 'no-store' });
        res.end();
      });
      return;
    }
    if (pathname === '/__clawjail/logout' && req.method === 'POST') {
      res.writeHead(303, { Location: '/__clawjail/login', 'Set-Cookie': clearSessionCookieHeader(), 'Cache-Control': 'no-store' });
      return void res.end();
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('not found\n');
  }

  private proxyHttp(req: http.IncomingMessage, res: http.ServerResponse, keepAuthorization: boolean): void {
    const fail = (kind: RefusalKind, status: number, message: string, headers: Record<string, string> = {}) => {
      this.counters.refused[kind]++;
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close', ...headers });
      res.end(message + '\n');
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.limits.maxPayload) {
      req.resume();
      return fail('tooLarge', 413, `payload too large: limit ${this.limits.maxPayload} bytes`);
    }
    const headers = upstreamRequestHeaders(req.headers, { keepAuthorization });
    if (this.upstreamToken && !keepAuthorization) headers.authorization = `Bearer ${this.upstreamToken}`;
    // A bodiless GET/HEAD that fails on a reused keep-alive socket (the upstream closed it at the
    // same moment) is retried once on a fresh one, as Node's docs advise (req.reusedSocket).
    const retriable = (req.method === 'GET' || req.method === 'HEAD') && !req.headers['content-length'] && !req.headers['transfer-encoding'];
    this.counters.httpProxied++;
    let received = 0;
    let current: http.ClientRequest | undefined;
    res.on('close', () => {
      if (!res.writableFinished) current?.destroy();
    });
    const attempt = (retried: boolean) => {
      const upReq = http.request({
        host: this.upstreamHttp.host,
        port: this.upstreamHttp.port,
        method: req.method,
        path: this.upstreamHttp.basePath + (req.url ?? '/'),
        headers,
        agent: this.httpAgent,
      });
      current = upReq;
      // Only connecting is timed (OpenClaw's API calls may legitimately take long to answer);
      // no socket `timeout` option: with a keep-alive agent a stale timer could hit a reused socket.
      let connectTimer: NodeJS.Timeout | undefined;
      upReq.on('socket', (sock: net.Socket) => {
        if (!sock.connecting) return;
        connectTimer = setTimeout(
          () => upReq.destroy(Object.assign(new Error('upstream connect timed out'), { code: 'ETIMEDOUT' })),
          this.limits.upstreamTimeoutMs,
        );
        sock.once('connect', () => clearTimeout(connectTimer));
      });
      upReq.once('close', () => clearTimeout(connectTimer));
      upReq.on('error', (err: NodeJS.ErrnoException) => {
        if (received > this.limits.maxPayload) return;
        if (res.destroyed || res.writableEnded) return; // the client went away first: nothing to report
        if (retriable && !retried && upReq.reusedSocket && !res.headersSent) return attempt(true);
        this.log('warn', 'upstream http error', { error: err.code ?? err.message });
        if (err.code === 'ETIMEDOUT') fail('upstreamTimeout', 504, 'gateway timeout: upstream did not answer in time');
        else fail('upstreamUnavailable', 503, 'service unavailable: upstream (OpenClaw) is not reachable', { 'Retry-After': '5' });
      });
      upReq.on('response', (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, downstreamResponseHeaders(upRes.headers));
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
      });
      if (retried) upReq.end();
    };
    attempt(false);
    const first = current!;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > this.limits.maxPayload) {
        req.unpipe(first);
        first.destroy();
        fail('tooLarge', 413, `payload too large: limit ${this.limits.maxPayload} bytes`);
        req.resume();
      }
    });
    req.pipe(first);
  }
}

function readSmallBody(req: http.IncomingMessage, limit: number, done: (err: Error | undefined, body?: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (c: Buffer) => {
    if (finished) return;
    size += c.length;
    if (size > limit) {
      finished = true;
      req.resume();
      return done(new Error('too large'));
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(undefined, Buffer.concat(chunks).toString('utf8'));
  });
  req.on('error', (e) => {
    if (finished) return;
    finished = true;
    done(e);
  });
}

export function createGateway(opts: GatewayOptions): Gateway {
  return new Gateway(opts);
}
