// The dashboard's HTTP requests, authenticated already, passed to OpenClaw and back.
import * as http from 'http';
import type * as net from 'net';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './auth';
import type { Logger } from './log';

export interface UpstreamHttp {
  host: string;
  port: number;
  /** The upstream URL's path, without a trailing slash, put before every request's path. */
  basePath: string;
}

export type HttpRefusal = 'tooLarge' | 'upstreamTimeout' | 'upstreamUnavailable';

export interface HttpProxyOptions {
  upstream: UpstreamHttp;
  maxPayload: number;
  upstreamTimeoutMs: number;
  /** OpenClaw's own token, sent when the client's request has no Authorization of its own. */
  upstreamToken(): string | undefined;
  refused(kind: HttpRefusal): void;
  log: Logger;
}

export class HttpProxy {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  /** Requests passed on, for stats. */
  proxied = 0;

  constructor(private readonly opts: HttpProxyOptions) {}

  destroy(): void {
    this.agent.destroy();
  }

  /** keepAuthorization: the request's Authorization is the dashboard's own (OpenClaw's token), not the operator's. */
  forward(req: http.IncomingMessage, res: http.ServerResponse, keepAuthorization: boolean): void {
    const { maxPayload } = this.opts;
    const fail = (kind: HttpRefusal, status: number, message: string, headers: Record<string, string> = {}) => {
      this.opts.refused(kind);
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'close', ...headers });
      res.end(message + '\n');
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxPayload) {
      req.resume();
      return fail('tooLarge', 413, `payload too large: limit ${maxPayload} bytes`);
    }
    const headers = upstreamRequestHeaders(req.headers, { keepAuthorization });
    const upstreamToken = this.opts.upstreamToken();
    if (upstreamToken && !keepAuthorization) headers.authorization = `Bearer ${upstreamToken}`;
    // A bodiless GET/HEAD that fails on a reused keep-alive socket (the upstream closed it at the
    // same moment) is retried once on a fresh one, as Node's docs advise (req.reusedSocket).
    const retriable = (req.method === 'GET' || req.method === 'HEAD') && !req.headers['content-length'] && !req.headers['transfer-encoding'];
    this.proxied++;
    let received = 0;
    let current: http.ClientRequest | undefined;
    res.on('close', () => {
      if (!res.writableFinished) current?.destroy();
    });
    const attempt = (retried: boolean) => {
      const upReq = http.request({
        host: this.opts.upstream.host,
        port: this.opts.upstream.port,
        method: req.method,
        path: this.opts.upstream.basePath + (req.url ?? '/'),
        headers,
        agent: this.agent,
      });
      current = upReq;
      // Only connecting is timed (OpenClaw's API calls may legitimately take long to answer);
      // no socket `timeout` option: with a keep-alive agent a stale timer could hit a reused socket.
      let connectTimer: NodeJS.Timeout | undefined;
      upReq.on('socket', (sock: net.Socket) => {
        if (!sock.connecting) return;
        connectTimer = setTimeout(
          () => upReq.destroy(Object.assign(new Error('upstream connect timed out'), { code: 'ETIMEDOUT' })),
          this.opts.upstreamTimeoutMs,
        );
        sock.once('connect', () => clearTimeout(connectTimer));
      });
      upReq.once('close', () => clearTimeout(connectTimer));
      upReq.on('error', (err: NodeJS.ErrnoException) => {
        if (received > maxPayload) return;
        if (res.destroyed || res.writableEnded) return; // the client went away first: nothing to report
        if (retriable && !retried && upReq.reusedSocket && !res.headersSent) return attempt(true);
        this.opts.log('warn', 'upstream http error', { error: err.code ?? err.message });
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
      if (received > maxPayload) {
        req.unpipe(first);
        first.destroy();
        fail('tooLarge', 413, `payload too large: limit ${maxPayload} bytes`);
        req.resume();
      }
    });
    req.pipe(first);
  }
}
