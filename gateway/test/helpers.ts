// Shared fixtures for the gateway's integration tests: a real upstream (ws echo + HTTP echo) that
// counts TCP connections, an in-process gateway, a child-process gateway, and small utilities.
import { spawn, type ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import * as crypto from 'crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { generateCertificate, type GeneratedCertificate } from '../src/cert';
import type { GatewayLimits } from '../src/config';
import { createGateway, type Gateway, type LogLevel } from '../src/gateway';
import { openPinnedWebSocket } from '../src/pinned';

export const ROOT = path.resolve(__dirname, '..', '..');
export const GATEWAY_DIR = path.join(ROOT, 'gateway');

let cachedCert: GeneratedCertificate | undefined;
/** One RSA-2048 certificate per test file (key generation is the slow part). */
export function testCert(): GeneratedCertificate {
  cachedCert ??= generateCertificate({ altNames: ['clawjail.test'] });
  return cachedCert;
}

export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

export function tmpDir(prefix = 'cjg-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface UpstreamRequestRecord {
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface Upstream {
  port: number;
  url: string;
  /** TCP connections ever accepted (counted before any HTTP parsing). */
  tcpConnections: number;
  wsConnections: number;
  upgrades: UpstreamRequestRecord[];
  httpRequests: UpstreamRequestRecord[];
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  sockets: Set<WebSocket>;
  wss: WebSocketServer;
  server: http.Server;
  /** Custom per-connection behaviour; default echoes every message back. */
  onConnection?: (ws: WebSocket, req: http.IncomingMessage) => void;
  close(): Promise<void>;
}

/** A real ws server on 127.0.0.1 that echoes messages and serves an HTTP echo of the request. */
export async function startUpstream(opts: { maxPayload?: number; selectProtocol?: string } = {}): Promise<Upstream> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if ((req.url ?? '').startsWith('/slow')) await new Promise((r) => setTimeout(r, 400));
      up.httpRequests.push({ url: req.url ?? '', headers: req.headers });
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: Buffer.concat(chunks).length });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Set-Cookie': ['__Host-clawjail-session=forged; Path=/; Secure', 'upstream=1; Path=/'],
        'Strict-Transport-Security': 'max-age=31536000',
      });
      res.end(body);
    });
  });
  const wss = new WebSocketServer({
    server,
    maxPayload: opts.maxPayload ?? 64 * 1024 * 1024,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (opts.selectProtocol && protocols.has(opts.selectProtocol) ? opts.selectProtocol : false),
  });
  const up: Upstream = {
    port: 0,
    url: '',
    tcpConnections: 0,
    wsConnections: 0,
    upgrades: [],
    httpRequests: [],
    messages: [],
    sockets: new Set(),
    wss,
    server,
    async close() {
      for (const s of up.sockets) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', () => up.tcpConnections++);
  wss.on('connection', (ws, req) => {
    up.wsConnections++;
    up.upgrades.push({ url: req.url ?? '', headers: req.headers });
    up.sockets.add(ws);
    ws.on('close', () => up.sockets.delete(ws));
    ws.on('error', () => undefined);
    if (up.onConnection) return up.onConnection(ws, req);
    ws.on('message', (data, isBinary) => {
      up.messages.push({ data: data as Buffer, isBinary });
      ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up.port = (server.address() as net.AddressInfo).port;
  up.url = `ws://127.0.0.1:${up.port}`;
  return up;
}

export const TEST_LIMITS: GatewayLimits = {
  maxPayload: 64 * 1024,
  maxConnections: 50,
  handshakeTimeoutMs: 1_000,
  idleTimeoutMs: 0,
  upstreamTimeoutMs: 2_000,
  ratePerMinute: 6_000,
  rateBurst: 1_000,
};

export interface TestGateway {
  gateway: Gateway;
  port: number;
  /** The login origin's port. */
  loginPort: number;
  url: string;
  token: string;
  fingerprint: string;
  logs: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startGateway(opts: {
  upstreamUrl: string;
  limits?: Partial<GatewayLimits>;
  token?: string;
  upstreamToken?: string;
  port?: number;
  cert?: GeneratedCertificate;
}): Promise<TestGateway> {
  const cert = opts.cert ?? testCert();
  const token = opts.token ?? randomToken();
  const logs: TestGateway['logs'] = [];
  const gateway = createGateway({
    listen: { host: '127.0.0.1', port: opts.port ?? 0 },
    loginListen: { host: '127.0.0.1', port: 0 },
    upstream: new URL(opts.upstreamUrl),
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    token,
    upstreamToken: opts.upstreamToken,
    limits: { ...TEST_LIMITS, ...opts.limits },
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
  });
  const addr = await gateway.start();
  return {
    gateway,
    port: addr.port,
    loginPort: gateway.loginAddress.port,
    url: `wss://127.0.0.1:${addr.port}/`,
    token,
    fingerprint: cert.fingerprint,
    logs,
    close: () => gateway.close(500),
  };
}

export function connect(
  gw: { url: string; fingerprint: string; token: string },
  opts: { token?: string | null; protocols?: string[]; fingerprint?: string; path?: string; headers?: Record<string, string> } = {},
): Promise<WebSocket> {
  return openPinnedWebSocket(gw.url.replace(/\/$/, '') + (opts.path ?? '/'), {
    fingerprint: opts.fingerprint ?? gw.fingerprint,
    token: opts.token === null ? undefined : (opts.token ?? gw.token),
    protocols: opts.protocols,
    headers: opts.headers,
    timeoutMs: 5_000,
  });
}

export function nextMessage(ws: WebSocket, timeoutMs = 5_000): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      resolve({ data: data as Buffer, isBinary });
    });
  });
}

export function closed(ws: WebSocket, timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return reject(new Error('already closed'));
    const timer = setTimeout(() => reject(new Error('not closed in time')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

import { freePort, waitFor } from '../../test/helpers/wait';

export { freePort, waitFor };

/** An HTTPS request pinned with `ca` = the gateway certificate (test-side convenience). */
export function httpsRequest(
  port: number,
  certPem: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (require('https') as typeof import('https')).request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: opts.headers,
        ca: certPem,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An impostor: a TLS server with its own self-signed certificate that records every byte it receives. */
export async function startImpostor(
  port = 0,
): Promise<{ port: number; fingerprint: string; bytesReceived: () => number; tcpConnections: () => number; close(): Promise<void> }> {
  const own = generateCertificate({ commonName: 'clawjail-gateway' });
  let bytes = 0;
  let tcp = 0;
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: own.certPem, key: own.keyPem }, (socket) => {
    sockets.add(socket);
    socket.on('data', (d: Buffer) => (bytes += d.length));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connection', () => tcp++);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    fingerprint: own.fingerprint,
    bytesReceived: () => bytes,
    tcpConnections: () => tcp,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- child-process gateway ---------------------------------------------------------------------

let built = false;
/** Compiles gateway/src → gateway/dist once per test file (tsc with gateway/tsconfig.json). */
export function buildGateway(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(GATEWAY_DIR, 'tsconfig.json')], {
    stdio: 'pipe',
  });
  built = true;
}

export interface ChildGateway {
  child: ChildProcess;
  port: number;
  fingerprint: string;
  stderr: () => string;
  rssKiB: () => number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startChildGateway(env: Record<string, string>): Promise<ChildGateway> {
  buildGateway();
  const child = spawn(process.execPath, [path.join(GATEWAY_DIR, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', () => undefined);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const listening = await Promise.race([
    (async () => {
      await waitFor(() => /"msg":"listening"/.test(err), 15_000, 'gateway to listen');
      return true;
    })(),
    exited.then(() => false),
  ]);
  if (!listening) throw new Error(`gateway exited early: ${err}`);
  const line = err.split('\n').find((l) => l.includes('"msg":"listening"'))!;
  const info = JSON.parse(line) as { url: string; fingerprint: string };
  return {
    child,
    port: Number(new URL(info.url).port),
    fingerprint: info.fingerprint,
    stderr: () => err,
    rssKiB: () => {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
