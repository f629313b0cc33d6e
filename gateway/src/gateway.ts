// The vault's front: two HTTPS servers with one certificate. The dashboard origin authenticates
// every request BEFORE anything is opened towards OpenClaw, then proxies WebSocket and HTTP; the
// login origin (another port) serves only the gateway's own pages, so the prisoner's dashboard,
// which runs on the dashboard origin, can never script the page that takes the operator token.
import * as http from 'http';
import * as https from 'https';
import type * as net from 'net';
import type { Duplex } from 'stream';
import type * as tls from 'tls';
import { authenticate, originMatchesHost, tokensEqual } from './auth';
import { WebSocketBridge } from './bridge';
import type { GatewayLimits, ListenAddress } from './config';
import { HttpProxy } from './httpProxy';
import { jsonLogger, type Logger } from './log';
import { LOGIN_PATH, loginRedirect, OWN_PAGE_HEADERS, OWN_PREFIX, serveLoginOrigin } from './ownPages';
import { clientKey, RateLimiter } from './ratelimit';

export type { LogLevel, Logger } from './log';
export { jsonLogger } from './log';

export interface GatewayOptions {
  listen: ListenAddress;
  /** The login origin: the gateway's own pages, on another port of the same host. */
  loginListen: ListenAddress;
  /** Ports as browsers see them, when they are published under other numbers (default: the bound ports). */
  publicPorts?: { dashboard?: number; login?: number };
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

/** A short plain-text answer that no cache keeps. */
function sendPlain(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(message + '\n');
}

function boundAddress(server: https.Server): ListenAddress {
  const addr = server.address() as net.AddressInfo;
  return { host: addr.address, port: addr.port };
}

function acceptsHtml(req: http.IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && /text\/html/i.test(req.headers.accept ?? '');
}

/** Sockets beyond the WebSocket limit that may still exist (handshaking, dashboard keep-alive). */
const EXTRA_SOCKETS = 64;

const TLS_CIPHERS = [
  // TLS 1.3 is negotiated whenever the client offers it; TLS 1.2 only with forward-secret AEAD suites.
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

function listen(server: https.Server, at: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve(boundAddress(server));
    });
  });
}

export class Gateway {
  /** The dashboard origin: OpenClaw behind authentication. */
  readonly server: https.Server;
  /** The login origin: the gateway's own pages only. */
  readonly loginServer: https.Server;
  private readonly log: Logger;
  private readonly limits: GatewayLimits;
  private readonly bridge: WebSocketBridge;
  private readonly http: HttpProxy;
  /** Per origin: the dashboard's script (the prisoner's, in the operator's browser) must not spend the login origin's allowance. */
  private readonly limiters: Record<'dashboard' | 'login', { conn: RateLimiter; authFail: RateLimiter }>;
  private readonly sessionTtl: number;
  private token: string;
  private upstreamToken?: string;
  private readonly sockets = new Set<net.Socket>();
  private readonly rateLimited = new WeakMap<net.Socket, number>();
  private readonly loginSockets = new WeakSet<net.Socket>();
  private closing = false;
  private ports = { dashboard: 0, login: 0 };
  private readonly counters: Omit<GatewayStats, 'sessions' | 'pendingUpstream' | 'sessionsTotal' | 'httpProxied'> = {
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
    const upstream = new URL(opts.upstream.href);
    const refused = (kind: RefusalKind) => void this.counters.refused[kind]++;
    this.bridge = new WebSocketBridge({
      upstream,
      maxPayload: this.limits.maxPayload,
      upstreamTimeoutMs: this.limits.upstreamTimeoutMs,
      idleTimeoutMs: this.limits.idleTimeoutMs,
      upstreamToken: () => this.upstreamToken,
      refused,
      reject: rejectUpgrade,
      isClosing: () => this.closing,
      log: this.log,
    });
    this.http = new HttpProxy({
      upstream: {
        host: upstream.hostname.replace(/^\[|\]$/g, ''),
        port: Number(upstream.port || 80),
        basePath: upstream.pathname.replace(/\/$/, ''),
      },
      maxPayload: this.limits.maxPayload,
      upstreamTimeoutMs: this.limits.upstreamTimeoutMs,
      upstreamToken: () => this.upstreamToken,
      refused,
      log: this.log,
    });
    const limiter = () => new RateLimiter({ perMinute: this.limits.ratePerMinute, burst: this.limits.rateBurst });
    this.limiters = { dashboard: { conn: limiter(), authFail: limiter() }, login: { conn: limiter(), authFail: limiter() } };

    this.server = this.tlsServer('dashboard');
    this.server.maxConnections = this.limits.maxConnections + EXTRA_SOCKETS;
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));

    this.loginServer = this.tlsServer('login');
    this.loginServer.maxConnections = EXTRA_SOCKETS;
    this.loginServer.on('request', (req, res) => this.onLoginRequest(req, res));
    this.loginServer.on('upgrade', (_req, socket: Duplex) => {
      socket.on('error', () => socket.destroy());
      this.counters.refused.badRequest++;
      rejectUpgrade(socket, 404, 'not found: this port serves only the gateway\'s login page');
    });
  }

  private tlsServer(origin: 'dashboard' | 'login'): https.Server {
    const handshake = this.limits.handshakeTimeoutMs;
    const server = https.createServer({
      cert: this.opts.certPem,
      key: this.opts.keyPem,
      minVersion: 'TLSv1.2',
      ciphers: TLS_CIPHERS,
      honorCipherOrder: true,
      handshakeTimeout: handshake,
      headersTimeout: handshake,
      requestTimeout: Math.max(60_000, handshake),
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(handshake / 4))),
    });
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      if (origin === 'login') this.loginSockets.add(socket);
      const decision = this.limiters[origin].conn.take(clientKey(socket.remoteAddress), Date.now());
      if (!decision.ok) this.rateLimited.set(socket, decision.retryAfterMs);
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      this.counters.tlsErrors++;
      this.log('debug', 'tls handshake failed', { remote: socket.remoteAddress, error: err.code ?? err.message });
      socket.destroy();
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      if (status === 431 && origin === 'login') {
        // Cookies ignore ports: the dashboard's script can fill the jar until every request is
        // too large. The login origin clears them (the session too), so the operator can log in.
        return rejectUpgrade(socket, 431, 'request headers too large: this host\'s cookies were cleared, reload to log in', { 'Clear-Site-Data': '"cookies"' });
      }
      rejectUpgrade(socket, status, status === 408 ? 'request timeout' : 'bad request');
    });
    return server;
  }

  /** Starts both origins; resolves with the dashboard's bound address (port 0 → an ephemeral port). */
  async start(): Promise<ListenAddress> {
    const dashboard = await listen(this.server, this.opts.listen);
    let login: ListenAddress;
    try {
      login = await listen(this.loginServer, this.opts.loginListen);
    } catch (e) {
      await new Promise<void>((r) => this.server.close(() => r()));
      throw Object.assign(e as Error, { message: `login origin ${this.opts.loginListen.host}:${this.opts.loginListen.port}: ${(e as Error).message}` });
    }
    this.ports = {
      dashboard: this.opts.publicPorts?.dashboard ?? dashboard.port,
      login: this.opts.publicPorts?.login ?? login.port,
    };
    return dashboard;
  }

  get address(): ListenAddress {
    return boundAddress(this.server);
  }

  get loginAddress(): ListenAddress {
    return boundAddress(this.loginServer);
  }

  stats(): GatewayStats {
    return {
      ...this.counters,
      refused: { ...this.counters.refused },
      sessions: this.bridge.open,
      pendingUpstream: this.bridge.pendingUpstream,
      sessionsTotal: this.bridge.sessionsTotal,
      httpProxied: this.http.proxied,
    };
  }

  /**
   * Rotation without a restart: a new certificate applies to new TLS handshakes on both origins; a
   * new operator token closes every open session (1008 "operator token rotated") and invalidates
   * browser sessions.
   */
  reload(next: { certPem?: string; keyPem?: string; token?: string; upstreamToken?: string | null }): void {
    if (next.certPem && next.keyPem) {
      for (const s of [this.server, this.loginServer]) s.setSecureContext({ cert: next.certPem, key: next.keyPem });
      this.log('info', 'certificate reloaded');
    }
    if (next.upstreamToken !== undefined) this.upstreamToken = next.upstreamToken ?? undefined;
    if (next.token !== undefined && !tokensEqual(next.token, this.token)) {
      this.token = next.token;
      this.bridge.closeAll(1008, 'operator token rotated');
      this.log('info', 'operator token rotated; open sessions closed');
    }
  }

  /** Stops accepting, closes every session with 1001, and resolves once both servers are closed. */
  async close(graceMs = 2_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = Promise.all(
      [this.server, this.loginServer].map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
    );
    this.bridge.closeAll(1001, 'gateway shutting down');
    this.server.closeIdleConnections();
    this.loginServer.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const sock of this.sockets) sock.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    this.http.destroy();
    this.bridge.stop();
  }

  // ---- admission ------------------------------------------------------------------------------

  /** A refusal that applies before authentication: connection rate and failed-auth rate. */
  private admissionRefusal(req: http.IncomingMessage): { retryAfterMs: number } | undefined {
    const limited = this.rateLimited.get(req.socket);
    if (limited !== undefined) return { retryAfterMs: limited };
    if (!this.limiters[this.originOf(req)].authFail.peek(clientKey(req.socket.remoteAddress), Date.now())) return { retryAfterMs: 1000 };
    return undefined;
  }

  private originOf(req: http.IncomingMessage): 'dashboard' | 'login' {
    return this.loginSockets.has(req.socket) ? 'login' : 'dashboard';
  }

  private noteAuthFailure(req: http.IncomingMessage, reason: string, via: string): void {
    this.limiters[this.originOf(req)].authFail.take(clientKey(req.socket.remoteAddress), Date.now());
    this.log('warn', 'unauthorized', { remote: req.socket.remoteAddress, reason, via, path: (req.url ?? '').split('?')[0].slice(0, 200) });
  }

  /** False after answering a malformed or rate-limited request; true when it may go on. */
  private preflight(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const send = (kind: RefusalKind, status: number, message: string, headers: Record<string, string> = {}) => {
      this.counters.refused[kind]++;
      sendPlain(res, status, message, headers);
      return false;
    };
    const url = req.url ?? '';
    if (!url.startsWith('/') || url.startsWith('//')) return send('badRequest', 400, 'bad request target');
    const limited = this.admissionRefusal(req);
    if (limited) {
      return send('rateLimited', 429, 'rate limited: too many new connections from this address', {
        Connection: 'close',
        'Retry-After': String(Math.max(1, Math.ceil(limited.retryAfterMs / 1000))),
      });
    }
    return true;
  }

  // ---- the login origin -----------------------------------------------------------------------

  private onLoginRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.preflight(req, res)) return;
    serveLoginOrigin(req, res, {
      token: () => this.token,
      sessionTtlSeconds: this.sessionTtl,
      dashboardPort: this.ports.dashboard,
      noteAuthFailure: (r, reason, via) => this.noteAuthFailure(r, reason, via),
      refused: (kind) => void this.counters.refused[kind]++,
      log: this.log,
    });
  }

  // ---- the dashboard origin -------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    const pathname = url.split('?')[0];
    if (pathname === '/healthz' && (req.method === 'GET' || req.method === 'HEAD') && url.startsWith('/')) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      // The count of open sessions is for `clawjail status`; OpenClaw (the prisoner) sees each of them anyway.
      return void res.end(JSON.stringify({ ok: true, service: 'clawjail-gateway', sessions: this.bridge.open }) + '\n');
    }
    if (!this.preflight(req, res)) return;
    if (req.headers['service-worker'] !== undefined || req.headers['sec-fetch-dest'] === 'serviceworker') {
      // A service worker of the dashboard's origin would outlive the session: it could answer
      // the next visit with a login form of its own instead of the gateway's redirect.
      req.resume();
      this.counters.refused.forbidden++;
      return sendPlain(res, 403, 'forbidden: no service workers on the dashboard origin');
    }
    const plain = (kind: RefusalKind | undefined, status: number, message: string, headers: Record<string, string> = {}) => {
      if (kind) this.counters.refused[kind]++;
      sendPlain(res, status, message, headers);
    };
    const toLogin = (next: string) => {
      const location = loginRedirect(req.headers.host, this.ports.login, next);
      if (!location) return plain('badRequest', 400, 'bad request: missing or malformed Host header');
      res.writeHead(303, { Location: location, 'Cache-Control': 'no-store' });
      res.end();
    };
    if (pathname.startsWith(OWN_PREFIX)) {
      req.resume();
      if (pathname === LOGIN_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
        return toLogin(new URL(url, 'https://gateway.invalid').searchParams.get('next') ?? '/');
      }
      // No token is ever taken here: the form and the logout live on the login origin only.
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...OWN_PAGE_HEADERS });
      return void res.end(`not found: the gateway's own pages are on its login port (${this.ports.login})\n`);
    }

    const auth = authenticate(req.headers, this.token);
    if (!auth.ok) {
      this.noteAuthFailure(req, auth.reason, 'http');
      this.counters.refused.unauthorized++;
      req.resume();
      if (acceptsHtml(req)) return toLogin(url);
      return plain(undefined, 401, `unauthorized: ${auth.reason === 'missing' ? 'operator token required' : 'invalid operator token'}`, {
        'WWW-Authenticate': 'Bearer realm="clawjail"',
      });
    }
    if (auth.via === 'cookie' && !originMatchesHost(req.headers)) {
      req.resume();
      return plain('forbidden', 403, 'forbidden: cross-origin request with a session cookie');
    }
    // An Authorization header that is not the operator token belongs to the dashboard (OpenClaw's
    // Control UI sends OpenClaw's token that way) and is passed on; the operator token never is.
    this.http.forward(req, res, req.headers.authorization !== undefined && !auth.authorizationIsOperator);
  }

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
    if (url.startsWith(OWN_PREFIX)) return refuse('badRequest', 404, 'not found');
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
    if (this.bridge.load >= this.limits.maxConnections) {
      this.log('warn', 'connection limit reached', { remote: req.socket.remoteAddress, limit: this.limits.maxConnections });
      return refuse('maxConnections', 503, 'too many connections: the gateway is at its connection limit', { 'Retry-After': '5' });
    }
    this.bridge.connect(req, socket, head, auth.via);
  }
}

export function createGateway(opts: GatewayOptions): Gateway {
  return new Gateway(opts);
}
