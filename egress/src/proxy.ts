// The proxy's HTTP server: CONNECT tunnels (TLS only, SNI = CONNECT host), absolute-form plain
// HTTP, and `/providers/<name>/...` routes. Every destination is checked by name (policy), then
// resolved once, every address checked against the blocked list, and only a checked address is
// ever connected to. Limits per client connection: bytes, lifetime; and a cap on connections.
// Nothing here logs headers, bodies or keys.
import type { LogFn as Logger } from '@clawjail/log';
import * as http from 'http';
import * as https from 'https';
import type * as net from 'net';
import type { BlockList } from './addresses';
import type { EgressLimits } from './config';
import type { Decision, DecisionKind } from './decisionLog';
import { normalizeHost, type Verdict } from './policy';
import { forwardHeaders, parseProviderPath, providerPort, providerRequestHeaders, upstreamPath, type Provider } from './providers';
import type { ResolveFn } from './resolve';
import { ClientHelloReader, type SniResult } from './sni';
import {
  connectFirst,
  parseAuthority,
  refusalBody,
  refusalDetail,
  refusalHeaders,
  relay,
  sendJson,
  statusFor,
  writeRawResponse,
  type Reason,
} from './wire';

export type { LogLevel, LogFn as Logger } from '@clawjail/log';

export interface ProxyTimeouts {
  /** From the 200 to a complete ClientHello. */
  clientHelloMs: number;
  /** One TCP (and TLS, for providers) connect to a checked address. */
  connectMs: number;
  /** Request head must arrive within this. */
  headersMs: number;
}

export const DEFAULT_TIMEOUTS: ProxyTimeouts = { clientHelloMs: 10_000, connectMs: 10_000, headersMs: 20_000 };

export interface ProxyContext {
  limits: EgressLimits;
  timeouts: ProxyTimeouts;
  /** Policy + temporary allows for a host:port named by the cell. */
  decide(host: string, port: number): Verdict;
  /** For a provider route: only `no-policy` and deny entries refuse (the operator configured the route). */
  decideProvider(host: string, port: number): Verdict;
  resolve: ResolveFn;
  blocked: () => BlockList;
  providers: ReadonlyMap<string, Provider>;
  /** Replaces Node's CA set for provider TLS (tests only; production: system CAs + NODE_EXTRA_CA_CERTS). */
  providerCa?: string[];
  record(d: Omit<Decision, 'time'>): void;
  log: Logger;
  now(): number;
}

/** Something open through the gate, which a deny, a limit or shutdown can end. */
export interface Activity {
  kind: DecisionKind;
  host: string;
  port: number;
  end(reason: Reason | null): void;
}

interface ClientConn {
  socket: net.Socket;
  bytes: number;
  activity: Activity | undefined;
  timer: NodeJS.Timeout;
  kill(reason: Reason): void;
}

type Checked = { ok: true; addresses: string[] } | { ok: false; reason: Reason; detail: string; address: string | null };

export class EgressProxy {
  readonly server: http.Server;
  private readonly conns = new Map<net.Socket, ClientConn>();
  readonly activities = new Set<Activity>();

  constructor(private readonly ctx: ProxyContext) {
    this.server = http.createServer({
      maxHeaderSize: ctx.limits.maxHeaderBytes,
      requestTimeout: 0,
      headersTimeout: ctx.timeouts.headersMs,
      keepAliveTimeout: 5_000,
    });
    this.server.on('connection', (s: net.Socket) => this.onConnection(s));
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      this.onConnect(req, socket, head).catch((e: Error) => {
        ctx.log('error', 'CONNECT handler failed', { error: e.message });
        socket.destroy();
      });
    });
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.onRequest(req, res).catch((e: Error) => {
        ctx.log('error', 'request handler failed', { error: e.message });
        res.destroy();
      });
    });
    this.server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
      this.refuseRaw(socket, 'http', null, null, 'bad-request', Date.now(), 'protocol upgrades are not proxied; use CONNECT');
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
  }

  /** Open client connections. */
  get openConnections(): number {
    return this.conns.size;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const conn: ClientConn = {
      socket,
      bytes: 0,
      activity: undefined,
      timer: setTimeout(() => conn.kill('time-limit'), this.ctx.limits.maxSeconds * 1000),
      kill: (reason) => {
        if (conn.activity) conn.activity.end(reason);
        socket.destroy();
      },
    };
    this.conns.set(socket, conn);
    socket.once('close', () => {
      clearTimeout(conn.timer);
      this.conns.delete(socket);
    });
  }

  /** Count n bytes on a client connection; false once over the limit (the connection is being ended). */
  private account(conn: ClientConn, n: number): boolean {
    conn.bytes += n;
    if (conn.bytes > this.ctx.limits.maxBytes) {
      conn.kill('byte-limit');
      return false;
    }
    return true;
  }

  private overCap(): boolean {
    return this.conns.size > this.ctx.limits.maxConnections;
  }

  private deny(kind: DecisionKind, host: string | null, port: number | null, reason: Reason, started: number, address: string | null = null, rule: string | null = null, provider?: string): void {
    this.ctx.record({
      kind,
      host,
      port,
      address,
      decision: 'deny',
      rule,
      reason,
      bytesUp: 0,
      bytesDown: 0,
      durationMs: Math.max(0, this.ctx.now() - started),
      ...(provider ? { provider } : {}),
    });
  }

  private refuseRaw(socket: net.Socket, kind: DecisionKind, host: string | null, port: number | null, reason: Reason, started: number, extra?: string, rule?: string | null): void {
    this.deny(kind, host, port, reason, started, null, rule ?? null);
    const body = refusalBody(reason, host, port, refusalDetail(reason, host, port, extra ?? rule ?? undefined));
    writeRawResponse(socket, statusFor(reason), refusalHeaders(reason, body), body);
  }

  private refuseRes(res: http.ServerResponse, kind: DecisionKind, host: string | null, port: number | null, reason: Reason, started: number, extra?: string, opts: { address?: string | null; rule?: string | null; provider?: string } = {}): void {
    this.deny(kind, host, port, reason, started, opts.address ?? null, opts.rule ?? null, opts.provider);
    const body = refusalBody(reason, host, port, refusalDetail(reason, host, port, extra ?? opts.rule ?? undefined));
    const headers = refusalHeaders(reason, body);
    if (reason === 'too-many-connections') headers.Connection = 'close';
    sendJson(res, statusFor(reason), headers, body);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const reason: Reason = err.code === 'HPE_HEADER_OVERFLOW' ? 'header-too-large' : 'bad-request';
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') {
      socket.destroy();
      return;
    }
    this.refuseRaw(socket, 'http', null, null, reason, Date.now(), reason === 'bad-request' ? 'malformed request' : undefined);
  }

  /** Resolve `host` and check every address; a single blocked one refuses the destination. */
  private async resolveChecked(host: string): Promise<Checked> {
    const r = await this.ctx.resolve(host);
    if (!r.ok) return { ok: false, reason: r.reason, detail: r.detail, address: null };
    const list = this.ctx.blocked();
    for (const a of r.addresses) {
      const hit = list.find(a);
      if (hit) return { ok: false, reason: 'blocked-address', detail: hit.what, address: a };
    }
    return { ok: true, addresses: r.addresses };
  }

  // ---- CONNECT ---------------------------------------------------------------------------------

  private async onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const started = this.ctx.now();
    const conn = this.conns.get(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    const target = parseAuthority(req.url);
    const host = target ? normalizeHost(target.host) : null;
    const port = target?.port ?? null;
    if (this.overCap()) return this.refuseRaw(socket, 'connect', host, port, 'too-many-connections', started);
    if (!target || host === null || port === null) return this.refuseRaw(socket, 'connect', null, null, 'bad-request', started, 'CONNECT needs host:port');
    const verdict = this.ctx.decide(host, port);
    if (verdict.decision === 'deny') return this.refuseRaw(socket, 'connect', host, port, verdict.reason, started, undefined, verdict.rule);
    const checked = await this.resolveChecked(host);
    if (socket.destroyed) return;
    if (!checked.ok) {
      this.deny('connect', host, port, checked.reason, started, checked.address, verdict.rule);
      const body = refusalBody(checked.reason, host, port, refusalDetail(checked.reason, host, port, checked.reason === 'blocked-address' ? undefined : checked.detail));
      writeRawResponse(socket, statusFor(checked.reason), refusalHeaders(checked.reason, body), body);
      return;
    }

    // The tunnel is "open" from here: a deny or a limit can end it.
    let ended: Reason | null | undefined;
    let upstream: net.Socket | undefined;
    let bytesUp = 0;
    let bytesDown = 0;
    let address: string | null = null;
    let logged = false;
    const activity: Activity = {
      kind: 'connect',
      host,
      port,
      end: (reason) => {
        if (ended === undefined) ended = reason;
        socket.destroy();
        upstream?.destroy();
      },
    };
    this.activities.add(activity);
    conn.activity = activity;
    const finish = (decision: 'allow' | 'deny', reason: Reason | null): void => {
      if (logged) return;
      logged = true;
      this.activities.delete(activity);
      if (conn.activity === activity) conn.activity = undefined;
      this.ctx.record({
        kind: 'connect',
        host,
        port,
        address,
        decision,
        rule: verdict.rule,
        reason,
        bytesUp,
        bytesDown,
        durationMs: Math.max(0, this.ctx.now() - started),
      });
    };

    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const hello = await readClientHello(socket, head, this.ctx.timeouts.clientHelloMs);
    if (ended !== undefined || socket.destroyed) {
      if (ended !== undefined) finish('allow', ended);
      else this.activities.delete(activity);
      socket.destroy();
      return;
    }
    if (hello.result.status !== 'ok') {
      const reason: Reason = hello.result.status === 'error' && hello.result.reason === 'no-sni' ? 'sni-mismatch' : 'not-tls';
      finish('deny', reason);
      socket.destroy();
      return;
    }
    if (normalizeHost(hello.result.serverName) !== host) {
      finish('deny', 'sni-mismatch');
      socket.destroy();
      return;
    }
    const up = await connectFirst(checked.addresses, port, this.ctx.timeouts.connectMs);
    if ('error' in up) {
      finish('allow', 'upstream-failed');
      socket.destroy();
      return;
    }
    upstream = up.socket;
    address = up.address;
    if (ended !== undefined || socket.destroyed) {
      upstream.destroy();
      finish('allow', ended ?? null);
      return;
    }
    const u = upstream;
    let closed = 0;
    const onClose = (other: net.Socket) => (hadError: boolean) => {
      if (hadError) other.destroy();
      else if (!other.destroyed) {
        other.end();
        setTimeout(() => other.destroy(), 5_000).unref();
      }
      if (++closed === 2) finish('allow', ended ?? null);
    };
    u.on('error', () => undefined);
    u.once('close', onClose(socket));
    socket.once('close', onClose(u));
    if (hello.buffered.length > 0) {
      if (!this.account(conn, hello.buffered.length)) return;
      bytesUp += hello.buffered.length;
      u.write(hello.buffered);
    }
    relay(socket, u, (n) => {
      if (!this.account(conn, n)) return false;
      bytesUp += n;
      return true;
    });
    relay(u, socket, (n) => {
      if (!this.account(conn, n)) return false;
      bytesDown += n;
      return true;
    });
    socket.resume();
  }

  // ---- origin-form and absolute-form requests ----------------------------------------------------

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = this.ctx.now();
    const conn = this.conns.get(req.socket);
    const url = req.url ?? '';
    if (!conn) {
      res.destroy();
      return;
    }
    if (url.startsWith('/providers/')) return this.onProvider(req, res, conn, started);
    if (!/^http:\/\//i.test(url)) {
      req.resume();
      const extra = /^https:\/\//i.test(url) ? 'use CONNECT for https://' : undefined;
      return this.refuseRes(res, 'http', null, null, 'bad-request', started, extra);
    }
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      req.resume();
      return this.refuseRes(res, 'http', null, null, 'bad-request', started, 'not a URL');
    }
    const host = normalizeHost(target.hostname);
    const port = target.port ? Number(target.port) : 80;
    if (this.overCap()) {
      req.resume();
      return this.refuseRes(res, 'http', host, port, 'too-many-connections', started);
    }
    if (target.username || target.password) {
      req.resume();
      return this.refuseRes(res, 'http', host, port, 'bad-request', started, 'no credentials in the URL');
    }
    const verdict = this.ctx.decide(host, port);
    if (verdict.decision === 'deny') {
      req.resume();
      return this.refuseRes(res, 'http', host, port, verdict.reason, started, undefined, { rule: verdict.rule });
    }
    const checked = await this.resolveChecked(host);
    if (!checked.ok) {
      req.resume();
      return this.refuseRes(res, 'http', host, port, checked.reason, started, checked.reason === 'blocked-address' ? undefined : checked.detail, {
        address: checked.address,
        rule: verdict.rule,
      });
    }
    const headers = forwardHeaders(req.headers);
    headers.host = target.host;
    this.forward(req, res, conn, {
      kind: 'http',
      host,
      port,
      rule: verdict.rule,
      started,
      addresses: checked.addresses,
      open: (address) => http.request({ host: address, port, method: req.method, path: target.pathname + target.search, headers, agent: false }),
    });
  }

  private async onProvider(req: http.IncomingMessage, res: http.ServerResponse, conn: ClientConn, started: number): Promise<void> {
    const route = parseProviderPath(req.url ?? '');
    const provider = route ? this.ctx.providers.get(route.name) : undefined;
    if (!route || !provider) {
      req.resume();
      const body = JSON.stringify({ error: 'unknown provider', provider: route?.name ?? null, providers: [...this.ctx.providers.keys()].sort() });
      sendJson(res, 404, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }, body);
      return;
    }
    const host = provider.baseUrl.hostname;
    const port = providerPort(provider);
    const meta = { provider: provider.name };
    if (this.overCap()) {
      req.resume();
      return this.refuseRes(res, 'provider', host, port, 'too-many-connections', started, undefined, meta);
    }
    const path = upstreamPath(provider, route.rest);
    if (path === undefined) {
      req.resume();
      return this.refuseRes(res, 'provider', host, port, 'bad-request', started, 'dot segments and encoded slashes are not allowed', meta);
    }
    const verdict = this.ctx.decideProvider(host, port);
    if (verdict.decision === 'deny') {
      req.resume();
      return this.refuseRes(res, 'provider', host, port, verdict.reason, started, undefined, { ...meta, rule: verdict.rule });
    }
    const checked = await this.resolveChecked(host);
    if (!checked.ok) {
      req.resume();
      return this.refuseRes(res, 'provider', host, port, checked.reason, started, checked.reason === 'blocked-address' ? undefined : checked.detail, {
        ...meta,
        address: checked.address,
      });
    }
    const headers = providerRequestHeaders(provider, req.headers);
    this.forward(req, res, conn, {
      kind: 'provider',
      host,
      port,
      rule: null,
      started,
      provider: provider.name,
      secret: provider.key,
      addresses: checked.addresses,
      open: (address) =>
        https.request({
          host: address,
          port,
          servername: host,
          method: req.method,
          path,
          headers,
          agent: false,
          ...(this.ctx.providerCa ? { ca: this.ctx.providerCa } : {}),
        }),
    });
  }

  /** Send the request to the first checked address that connects, stream the response back. */
  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    conn: ClientConn,
    t: {
      kind: DecisionKind;
      host: string;
      port: number;
      rule: string | null;
      started: number;
      provider?: string;
      /** Scrubbed from any error detail (belt and braces: Node's messages do not carry headers). */
      secret?: string;
      addresses: string[];
      open: (address: string) => http.ClientRequest;
    },
  ): void {
    let ended: Reason | null | undefined;
    let bytesUp = 0;
    let bytesDown = 0;
    let logged = false;
    let upReq: http.ClientRequest | undefined;
    const address = t.addresses[0];
    const activity: Activity = {
      kind: t.kind,
      host: t.host,
      port: t.port,
      end: (reason) => {
        if (ended === undefined) ended = reason;
        upReq?.destroy();
        res.destroy();
      },
    };
    this.activities.add(activity);
    conn.activity = activity;
    const finish = (reason: Reason | null): void => {
      if (logged) return;
      logged = true;
      this.activities.delete(activity);
      if (conn.activity === activity) conn.activity = undefined;
      this.ctx.record({
        kind: t.kind,
        host: t.host,
        port: t.port,
        address,
        decision: 'allow',
        rule: t.rule,
        reason,
        bytesUp,
        bytesDown,
        durationMs: Math.max(0, this.ctx.now() - t.started),
        ...(t.provider ? { provider: t.provider } : {}),
      });
    };
    const scrub = (text: string): string => (t.secret ? text.split(t.secret).join('[key]') : text);
    upReq = t.open(address);
    const r = upReq;
    let connected = false;
    const connectTimer = setTimeout(() => {
      if (!connected) r.destroy(new Error(`connecting to ${address}:${t.port} timed out`));
    }, this.ctx.timeouts.connectMs);
    r.on('socket', (s: net.Socket) => {
      s.once(t.kind === 'provider' ? 'secureConnect' : 'connect', () => {
        connected = true;
        clearTimeout(connectTimer);
      });
    });
    r.on('error', (e: Error) => {
      clearTimeout(connectTimer);
      if (ended !== undefined) return finish(ended);
      if (!res.headersSent) {
        const reason: Reason = 'upstream-failed';
        const detail = scrub(e.message);
        const body = refusalBody(reason, t.host, t.port, refusalDetail(reason, t.host, t.port, detail));
        sendJson(res, 502, refusalHeaders(reason, body), body);
        ended = reason;
      } else {
        res.destroy();
      }
      finish(ended ?? 'upstream-failed');
    });
    r.on('response', (upRes: http.IncomingMessage) => {
      clearTimeout(connectTimer);
      const headers = forwardHeaders(upRes.headers);
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
      res.flushHeaders();
      relay(upRes, res, (n) => {
        if (!this.account(conn, n)) return false;
        bytesDown += n;
        return true;
      });
      upRes.on('error', () => res.destroy());
    });
    res.on('close', () => {
      clearTimeout(connectTimer);
      if (!res.writableFinished) r.destroy();
      finish(ended ?? null);
    });
    relay(req, r, (n) => {
      if (!this.account(conn, n)) return false;
      bytesUp += n;
      return true;
    });
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stop accepting, end everything open (logged as they close), wait for the server. */
  async close(): Promise<void> {
    const closing = new Promise<void>((r) => this.server.close(() => r()));
    for (const a of [...this.activities]) a.end(null);
    for (const s of this.conns.keys()) s.destroy();
    this.server.closeAllConnections();
    await closing;
  }
}

/** Wait for a complete ClientHello (or a reason it is not one); the socket is paused after. */
function readClientHello(socket: net.Socket, head: Buffer, timeoutMs: number): Promise<{ result: SniResult; buffered: Buffer }> {
  const reader = new ClientHelloReader();
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: SniResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve({ result, buffered: reader.buffered });
    };
    const onData = (chunk: Buffer): void => {
      const r = reader.push(chunk);
      if (r.status !== 'incomplete') finish(r);
    };
    const onEnd = (): void => finish(reader.end());
    const timer = setTimeout(onEnd, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    if (head.length > 0) onData(head);
  });
}
