// The WebSocket bridge: one upstream connection per authenticated client upgrade, messages piped
// both ways with backpressure, closes mirrored, idle sessions swept.
import type * as http from 'http';
import type { Duplex } from 'stream';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { injectUpstreamToken, MARKER_PROTOCOL, parseProtocols, upstreamProtocols, upstreamRequestHeaders } from './auth';
import { closeCodeForError, mapCloseCode, truncateReason } from './closeCodes';
import type { Logger } from './log';

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

export type BridgeRefusal = 'upstreamRefused' | 'upstreamTimeout' | 'upstreamUnavailable' | 'tooLarge';

export interface BridgeOptions {
  /** OpenClaw's WebSocket base URL; a client's path is appended to its path. */
  upstream: URL;
  maxPayload: number;
  upstreamTimeoutMs: number;
  idleTimeoutMs: number;
  upstreamToken(): string | undefined;
  refused(kind: BridgeRefusal): void;
  /** Answers the raw upgrade socket with an HTTP error. */
  reject(socket: Duplex, status: number, message: string, headers?: Record<string, string>): void;
  isClosing(): boolean;
  log: Logger;
}

function rawByteLength(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

export class WebSocketBridge {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session>();
  private readonly selectedProtocol = new WeakMap<http.IncomingMessage, string | false>();
  private readonly basePath: string;
  private pending = 0;
  private nextId = 1;
  private sweeper?: NodeJS.Timeout;
  sessionsTotal = 0;

  constructor(private readonly opts: BridgeOptions) {
    this.basePath = opts.upstream.pathname.replace(/\/$/, '');
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (_offered, req) => this.selectedProtocol.get(req) ?? false,
    });
    if (opts.idleTimeoutMs > 0) {
      const every = Math.max(50, Math.min(5_000, Math.floor(opts.idleTimeoutMs / 4)));
      this.sweeper = setInterval(() => this.sweepIdle(), every);
      this.sweeper.unref();
    }
  }

  /** Open sessions plus upgrades still waiting for the upstream. */
  get load(): number {
    return this.sessions.size + this.pending;
  }

  get open(): number {
    return this.sessions.size;
  }

  get pendingUpstream(): number {
    return this.pending;
  }

  closeAll(code: number, reason: string): void {
    for (const s of this.sessions) this.closeSession(s, code, reason);
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.wss.close();
  }

  /** An authenticated upgrade: nothing was opened towards OpenClaw before this. */
  connect(req: http.IncomingMessage, socket: Duplex, head: Buffer, via: string): void {
    this.pending++;
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.pending--;
      return true;
    };
    const target = new URL(this.opts.upstream.href);
    const [pathPart, query] = (req.url ?? '/').split(/\?(.*)/s, 2);
    target.pathname = this.basePath + pathPart;
    target.search = query ? `?${query}` : '';

    // The WebSocket upgrade carries no Authorization to OpenClaw (its auth is in the connect frame).
    const headers = upstreamRequestHeaders(req.headers, { websocket: true });
    const up = new WebSocket(target, upstreamProtocols(req.headers['sec-websocket-protocol']), {
      headers,
      maxPayload: this.opts.maxPayload,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.upstreamTimeoutMs,
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
      this.opts.refused('upstreamRefused');
      this.opts.log('warn', 'upstream refused the WebSocket handshake', { status: upRes.statusCode });
      this.opts.reject(socket, 502, `bad gateway: upstream refused the WebSocket handshake (HTTP ${upRes.statusCode})`);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (!settle()) return;
      socket.off('close', onClientGone);
      const timeout = /timed out/i.test(err.message);
      this.opts.refused(timeout ? 'upstreamTimeout' : 'upstreamUnavailable');
      this.opts.log('warn', 'upstream unavailable', { error: err.code ?? err.message });
      if (timeout) this.opts.reject(socket, 504, 'gateway timeout: upstream did not answer in time');
      else this.opts.reject(socket, 503, 'service unavailable: upstream (OpenClaw) is not reachable', { 'Retry-After': '5' });
    });
    up.once('open', () => {
      if (!settle()) return up.close(1001, 'client went away');
      socket.off('close', onClientGone);
      if (socket.destroyed || this.opts.isClosing()) return up.close(1001, 'client went away');
      const offered = parseProtocols(req.headers['sec-websocket-protocol']);
      this.selectedProtocol.set(req, up.protocol ? up.protocol : offered.includes(MARKER_PROTOCOL) ? MARKER_PROTOCOL : false);
      this.wss.handleUpgrade(req, socket, head, (client) => this.pipe(client, up, req, via));
    });
  }

  private pipe(client: WebSocket, up: WebSocket, req: http.IncomingMessage, via: string): void {
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
    this.sessionsTotal++;
    const log = this.opts.log;
    log('info', 'session opened', { session: s.id, remote: s.remote, via, path: (req.url ?? '').split('?')[0].slice(0, 200) });

    client.on('message', (data, isBinary) => {
      s.lastActivity = Date.now();
      let out: RawData | string = data;
      if (s.firstClientFrame) {
        s.firstClientFrame = false;
        const upstreamToken = this.opts.upstreamToken();
        if (upstreamToken && !isBinary) {
          const injected = injectUpstreamToken(data.toString(), upstreamToken);
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
      log('info', 'client error', { session: s.id, error: err.code ?? err.message, closeCode: code });
      if (code === 1009) this.opts.refused('tooLarge');
      this.closeSide(up, code === 1009 ? 1009 : 1001, code === 1009 ? 'client message too big' : 'client error');
    });
    up.on('error', (err: Error & { code?: string }) => {
      const code = closeCodeForError(err);
      log('warn', 'upstream error', { session: s.id, error: err.code ?? err.message });
      if (code === 1009) this.opts.refused('tooLarge');
      this.closeSide(client, code === 1009 ? 1009 : 1011, code === 1009 ? 'upstream message too big' : 'upstream error');
    });
    client.on('close', (code, reason) => {
      this.sessions.delete(s);
      const mapped = mapCloseCode(code, reason.toString(), 'upstream');
      this.closeSide(up, mapped.code, mapped.reason);
      log('info', 'session closed', { session: s.id, code });
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
    const cutoff = Date.now() - this.opts.idleTimeoutMs;
    for (const s of this.sessions) {
      if (s.lastActivity < cutoff) {
        this.opts.log('info', 'idle timeout', { session: s.id });
        this.closeSession(s, 1000, 'idle timeout');
      }
    }
  }
}
