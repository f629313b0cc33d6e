// Client side of the vault: TLS pinned to a SHA-256 certificate fingerprint. Used by the CLI
// (connect, fingerprint), the tests and the benchmark.
//
// Why not `checkServerIdentity` alone: for a self-signed certificate Node's chain verification
// fails first (DEPTH_ZERO_SELF_SIGNED_CERT), and with `rejectUnauthorized: false` Node then skips
// checkServerIdentity entirely, so a fingerprint check placed there would never run. Instead:
//   1. open the TLS connection ourselves, trusting no CA at all (the chain result is ignored: no
//      CA vouches for this certificate, the pin is the only trust decision);
//   2. on `secureConnect`, before a single application byte is written, compare the SHA-256 of
//      the presented leaf certificate (`fingerprint256`) with the pin; on mismatch destroy the
//      socket and report both fingerprints;
//   3. only then hand the verified socket to ws (`createConnection`), which writes the HTTP
//      upgrade request carrying the token.
// The tests show a wrong certificate is refused and that an impostor receives zero bytes.
import * as tls from 'tls';
import * as net from 'net';
import type { IncomingMessage } from 'http';
import WebSocket from 'ws';
import { fingerprintsEqual, normalizeFingerprint } from './cert';

export class FingerprintMismatchError extends Error {
  readonly code = 'CLAWJAIL_FINGERPRINT_MISMATCH';
  constructor(
    readonly target: string,
    readonly expected: string,
    readonly presented: string,
  ) {
    super(
      `certificate fingerprint mismatch for ${target}: refusing to connect\n` +
        `  expected (pinned): ${expected}\n` +
        `  presented:         ${presented}\n` +
        'If the gateway certificate was rotated on purpose, check the new fingerprint out of band ' +
        '(stack output or gateway log) and update the pin; otherwise something else is answering on that address.',
    );
    this.name = 'FingerprintMismatchError';
  }
}

export class GatewayRefusedError extends Error {
  readonly code = 'CLAWJAIL_GATEWAY_REFUSED';
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`gateway refused the connection: HTTP ${status}${body ? ` ${body}` : ''}`);
    this.name = 'GatewayRefusedError';
  }
}

export interface GatewayUrl {
  /** wss:// URL for the WebSocket. */
  url: URL;
  host: string;
  port: number;
}

/** Accepts wss://, https:// (same endpoint) or bare host:port; refuses anything plaintext. */
export function parseGatewayUrl(input: string): GatewayUrl {
  let s = input.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) s = `wss://${s}`;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new Error(`not a gateway URL: "${input}" (expected wss://host:port)`);
  }
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'wss:') throw new Error(`refusing ${url.protocol}// : the gateway is only reachable over TLS (wss://)`);
  if (url.username || url.password) throw new Error('credentials do not belong in the URL; use --token-file');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return { url, host, port };
}

export interface TlsTarget {
  host: string;
  port: number;
  timeoutMs?: number;
}

function describe(t: TlsTarget): string {
  return net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function rawTls(target: TlsTarget): tls.TLSSocket {
  return tls.connect({
    host: target.host,
    port: target.port,
    servername: net.isIP(target.host) ? undefined : target.host,
    // No CA decides anything here; see the comment at the top. The pin check below is the decision.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
  });
}

function withHandshake<T>(target: TlsTarget, onSecure: (socket: tls.TLSSocket) => T): Promise<T> {
  const timeoutMs = target.timeoutMs ?? 10_000;
  return new Promise<T>((resolve, reject) => {
    const socket = rawTls(target);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS handshake with ${describe(target)} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach ${describe(target)}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      try {
        resolve(onSecure(socket));
      } catch (e) {
        socket.destroy();
        reject(e);
      }
    });
  });
}

export interface PresentedCertificate {
  fingerprint: string;
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  subjectAltName?: string;
  tlsVersion: string | null;
}

/** Reads the certificate a server presents, without sending any application data. */
export async function fetchPresentedCertificate(target: TlsTarget): Promise<PresentedCertificate> {
  return withHandshake(target, (socket) => {
    const cert = socket.getPeerCertificate();
    const tlsVersion = socket.getProtocol();
    socket.destroy();
    if (!cert || !cert.fingerprint256) throw new Error(`${describe(target)} presented no certificate`);
    const name = (o: unknown) =>
      Object.entries((o ?? {}) as Record<string, string | string[]>)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
        .join(', ');
    return {
      fingerprint: normalizeFingerprint(cert.fingerprint256),
      subject: name(cert.subject),
      issuer: name(cert.issuer),
      validFrom: cert.valid_from,
      validTo: cert.valid_to,
      subjectAltName: cert.subjectaltname,
      tlsVersion,
    };
  });
}

/** A TLS socket whose peer presented exactly the pinned certificate; nothing has been written on it. */
export async function pinnedTlsConnect(target: TlsTarget, pin: string): Promise<tls.TLSSocket> {
  const expected = normalizeFingerprint(pin);
  return withHandshake(target, (socket) => {
    const presented = socket.getPeerCertificate()?.fingerprint256;
    if (!presented || !fingerprintsEqual(presented, expected)) {
      socket.destroy();
      throw new FingerprintMismatchError(describe(target), expected, presented ? normalizeFingerprint(presented) : '(no certificate)');
    }
    return socket;
  });
}

export interface PinnedWebSocketOptions {
  fingerprint: string;
  /** Operator token, sent as `Authorization: Bearer`. */
  token?: string;
  protocols?: string[];
  headers?: Record<string, string>;
  maxPayload?: number;
  timeoutMs?: number;
  /**
   * Called synchronously with the WebSocket before it opens, so that message listeners are in
   * place before a server that speaks first (OpenClaw's connect.challenge) can deliver anything.
   */
  onCreate?: (ws: WebSocket) => void;
}

/** Opens a WebSocket over a pinned TLS connection. Rejects with FingerprintMismatchError or GatewayRefusedError. */
export async function openPinnedWebSocket(url: string | GatewayUrl, opts: PinnedWebSocketOptions): Promise<WebSocket> {
  const target = typeof url === 'string' ? parseGatewayUrl(url) : url;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const socket = await pinnedTlsConnect({ host: target.host, port: target.port, timeoutMs }, opts.fingerprint);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(target.url, opts.protocols ?? [], {
      createConnection: () => socket,
      headers,
      maxPayload: opts.maxPayload ?? 64 * 1024 * 1024,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      followRedirects: false,
    });
    opts.onCreate?.(ws);
    let settled = false;
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 2048) chunks.push(c);
        size += c.length;
      });
      const done = () => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(new GatewayRefusedError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8').slice(0, 2048).trim()));
      };
      res.once('end', done);
      res.once('error', done);
      res.once('close', done);
    });
    ws.once('open', () => {
      settled = true;
      resolve(ws);
    });
    ws.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
  });
}
