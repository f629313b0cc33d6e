// Small socket-level pieces shared by the proxy's routes: refusal responses, CONNECT targets,
// byte-counting relays, connecting to a checked address.
import type * as http from 'http';
import * as net from 'net';
import type { Readable, Writable } from 'stream';
import { suggestedEntry } from './policy';

export type Reason =
  | 'not-allowed'
  | 'denied'
  | 'blocked-address'
  | 'ip-literal'
  | 'sni-mismatch'
  | 'not-tls'
  | 'no-such-host'
  | 'resolver-failed'
  | 'too-many-connections'
  | 'header-too-large'
  | 'bad-request'
  | 'upstream-failed'
  | 'byte-limit'
  | 'time-limit'
  | 'no-policy';

export function statusFor(reason: Reason): number {
  switch (reason) {
    case 'too-many-connections':
      return 429;
    case 'header-too-large':
      return 431;
    case 'bad-request':
      return 400;
    case 'upstream-failed':
    case 'no-such-host':
    case 'resolver-failed':
      return 502;
    default:
      return 403;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
};

/** What the cell is told, by reason (the operator's hint where a decision would help). */
export function refusalDetail(reason: Reason, host: string | null, port: number | null, extra?: string): string {
  const dest = host !== null && port !== null ? `${host}:${port}` : 'the destination';
  const ask = host !== null && port !== null ? `; ask the operator: clawjail egress allow ${suggestedEntry(host, port)}` : '';
  if (reason === 'bad-request' && extra) return extra;
  const base = ((): string => {
    switch (reason) {
      case 'not-allowed':
        return `${dest} is not on the egress allow list${ask}`;
      case 'denied':
        return `${dest} is denied by the operator (rule ${extra ?? '?'})`;
      case 'blocked-address':
        return `${host ?? 'the host'} resolves to a blocked (private or special) address`;
      case 'ip-literal':
        return 'IP addresses are never allowed; use a host name';
      case 'sni-mismatch':
        return `the TLS server name must equal the CONNECT host ${host ?? ''}`;
      case 'not-tls':
        return 'a CONNECT tunnel must start with a TLS ClientHello';
      case 'no-such-host':
        return `${host ?? 'the host'} has no IPv4 address`;
      case 'resolver-failed':
        return 'the DNS lookup failed; try again';
      case 'too-many-connections':
        return 'too many open connections through the egress gate; try again later';
      case 'header-too-large':
        return 'the request head is too large';
      case 'bad-request':
        return 'not a proxy request this gate serves (CONNECT host:port, absolute-form http://, or /providers/<name>/...)';
      case 'upstream-failed':
        return `${dest} could not be reached`;
      case 'byte-limit':
        return 'the connection reached its byte limit';
      case 'time-limit':
        return 'the connection reached its time limit';
      case 'no-policy':
        return `the egress gate has no valid policy, so everything is denied${ask ? '; ask the operator to fix the policy file' : ''}`;
    }
  })();
  return extra && reason !== 'denied' ? `${base} (${extra})` : base;
}

export function refusalBody(reason: Reason, host: string | null, port: number | null, detail: string): string {
  return JSON.stringify({ error: 'egress denied', host, port, reason, detail });
}

export function refusalHeaders(reason: Reason, body: string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Clawjail-Egress': `denied; reason=${reason}`,
    'Cache-Control': 'no-store',
  };
}

/** A refusal written straight onto a socket (CONNECT, client errors), then the socket is ended. */
export function writeRawResponse(socket: net.Socket, status: number, headers: Record<string, string>, body: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const head = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''].join('\r\n');
  socket.end(head + body);
  setTimeout(() => socket.destroy(), 2_000).unref();
}

export function sendJson(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, headers);
  res.end(body);
}

/** `host:port` of a CONNECT request (authority-form); IPv6 comes back bracketed. */
export function parseAuthority(target: string | undefined): { host: string; port: number } | undefined {
  if (!target) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/?#@[\]\s]+):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/**
 * Copy from → to, counting every chunk through `account` (false = stop: the limit was hit and
 * the caller is tearing down). Backpressure: `from` pauses while `to` is full.
 */
export function relay(from: Readable, to: Writable, account: (n: number) => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (!account(chunk.length)) return;
    if (to.destroyed) {
      from.destroy();
      return;
    }
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.on('end', () => {
    if (!to.destroyed) to.end();
  });
}

/** Connect to the first of `addresses` that answers within timeoutMs each (all already checked). */
export async function connectFirst(addresses: readonly string[], port: number, timeoutMs: number): Promise<{ socket: net.Socket; address: string } | { error: string }> {
  let last = 'no address';
  for (const address of addresses) {
    const r = await new Promise<net.Socket | string>((resolve) => {
      const s = net.connect({ host: address, port });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(`connecting to ${address}:${port} timed out`);
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(`${address}:${port}: ${e.code ?? e.message}`);
      });
    });
    if (typeof r !== 'string') {
      r.setNoDelay(true);
      return { socket: r, address };
    }
    last = r;
  }
  return { error: last };
}
