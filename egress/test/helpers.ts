// Fixtures for the egress gate's integration tests. Everything listens on and talks to 127.0.0.1
// only: a fake DNS server (dgram, A records from a table), TLS/HTTP upstreams that answer with a
// nonce, a test CA made with openssl, the gate in-process (blocked list overridden so that
// 127.0.0.1 is reachable and 127.0.0.2 stands in for a blocked address), and small clients.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { BLOCKED_V4, type BlockedRange } from '../src/addresses';
import { adminRequest } from '../src/admin';
import type { EgressLimits } from '../src/config';
import type { Decision } from '../src/decisionLog';
import { createEgressGate, type EgressGate, type EgressGateOptions } from '../src/gate';
import type { Provider } from '../src/providers';

export const ROOT = path.resolve(__dirname, '..', '..');
export const EGRESS_DIR = path.join(ROOT, 'egress');

export function tmpDir(prefix = 'cje-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function nonce(): string {
  return crypto.randomBytes(12).toString('hex');
}

import { sleep, waitFor } from '../../test/helpers/wait';

export { sleep, waitFor };

/** The built-in list with loopback 127/8 replaced by 127.0.0.2/32 (a loopback stand-in for "blocked"). */
export const TEST_BLOCKED: BlockedRange[] = [
  ...BLOCKED_V4.filter((b) => b.cidr !== '127.0.0.0/8'),
  { cidr: '127.0.0.2/32', what: 'test stand-in for a blocked address' },
];

// ---- certificates (openssl) ---------------------------------------------------------------------

export interface TestPki {
  caPem: string;
  /** A leaf signed by the CA for `names`. */
  leaf(names: string[]): { certPem: string; keyPem: string };
  /** A self-signed certificate for `names` that no CA vouches for. */
  selfSigned(names: string[]): { certPem: string; keyPem: string };
}

export function makePki(dir: string): TestPki {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=clawjail egress test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  const ext = (names: string[]) => {
    const f = path.join(dir, `ext${n}.cnf`);
    fs.writeFileSync(f, `subjectAltName=${names.map((x) => `DNS:${x}`).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    return f;
  };
  return {
    caPem: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    leaf(names) {
      n++;
      run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `l${n}.key`, '-out', `l${n}.csr`, '-subj', `/CN=${names[0]}`]);
      run(['x509', '-req', '-in', `l${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `l${n}.pem`, '-days', '2', '-extfile', ext(names)]);
      return { certPem: fs.readFileSync(path.join(dir, `l${n}.pem`), 'utf8'), keyPem: fs.readFileSync(path.join(dir, `l${n}.key`), 'utf8') };
    },
    selfSigned(names) {
      n++;
      run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `s${n}.key`, '-out', `s${n}.pem`, '-days', '2', '-subj', `/CN=${names[0]}`,
        '-addext', `subjectAltName=${names.map((x) => `DNS:${x}`).join(',')}`]);
      return { certPem: fs.readFileSync(path.join(dir, `s${n}.pem`), 'utf8'), keyPem: fs.readFileSync(path.join(dir, `s${n}.key`), 'utf8') };
    },
  };
}

// ---- fake DNS ---------------------------------------------------------------------------------

export interface FakeDns {
  port: number;
  /** name (lower-case, no trailing dot) → IPv4 addresses; names not here get NXDOMAIN. */
  records: Map<string, string[]>;
  queries: string[];
  close(): Promise<void>;
}

export async function startFakeDns(records: Record<string, string[]> = {}): Promise<FakeDns> {
  const sock = dgram.createSocket('udp4');
  const dns: FakeDns = {
    port: 0,
    records: new Map(Object.entries(records)),
    queries: [],
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off];
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
      off += 1 + len;
    }
    const qEnd = off + 1 + 4;
    if (qEnd > msg.length) return;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    dns.queries.push(name);
    const addrs = dns.records.get(name);
    const answers = qtype === 1 && addrs ? addrs : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | (addrs ? 0 : 3), 2); // QR RD RA; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((p, i) => (rr[12 + i] = Number(p)));
      return rr;
    });
    sock.send(Buffer.concat([header, msg.subarray(12, qEnd), ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  dns.port = sock.address().port;
  return dns;
}

// ---- upstreams ----------------------------------------------------------------------------------

export interface TlsUpstream {
  port: number;
  nonce: string;
  tcpConnections: number;
  sockets: Set<tls.TLSSocket>;
  close(): Promise<void>;
}

/** A TLS server: on each connection it sends `nonce:<nonce>\n`, then echoes everything. */
export async function startTlsUpstream(cert: { certPem: string; keyPem: string }): Promise<TlsUpstream> {
  const up: TlsUpstream = { port: 0, nonce: nonce(), tcpConnections: 0, sockets: new Set(), close: async () => undefined };
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    up.sockets.add(s);
    s.on('close', () => up.sockets.delete(s));
    s.on('error', () => undefined);
    s.write(`nonce:${up.nonce}\n`);
    s.pipe(s);
  });
  server.on('connection', () => up.tcpConnections++);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up.port = (server.address() as net.AddressInfo).port;
  up.close = async () => {
    for (const s of up.sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return up;
}

export interface HttpUpstream {
  port: number;
  nonce: string;
  tcpConnections: number;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  server: http.Server | https.Server;
  close(): Promise<void>;
}

/** An HTTP(S) server answering JSON {nonce, method, url, headers} (and /sse: three events). */
export async function startHttpUpstream(tlsCert?: { certPem: string; keyPem: string }): Promise<HttpUpstream> {
  const up: HttpUpstream = { port: 0, nonce: nonce(), tcpConnections: 0, requests: [], server: undefined as unknown as http.Server, close: async () => undefined };
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      up.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if ((req.url ?? '').startsWith('/v1/sse')) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        for (let i = 0; i < 3; i++) {
          res.write(`data: ${up.nonce}-${i}\n\n`);
          await sleep(50);
        }
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': 'yes', Connection: 'keep-alive', 'Keep-Alive': 'timeout=99' });
      res.end(JSON.stringify({ nonce: up.nonce, method: req.method, url: req.url, headers: req.headers, body }));
    });
  };
  const server = tlsCert ? https.createServer({ cert: tlsCert.certPem, key: tlsCert.keyPem }, handler) : http.createServer(handler);
  up.server = server;
  server.on('connection', () => up.tcpConnections++);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  up.port = (server.address() as net.AddressInfo).port;
  up.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return up;
}

// ---- the gate -------------------------------------------------------------------------------------

export interface TestGate {
  gate: EgressGate;
  port: number;
  dir: string;
  policyFile: string;
  logFile: string;
  adminSocket: string;
  processLog: string[];
  decisions(): Decision[];
  admin(req: unknown): Promise<Record<string, unknown>>;
  writePolicy(allow: string[], deny?: string[]): void;
  close(): Promise<void>;
}

export async function startGate(opts: {
  dnsPort: number;
  allow?: string[];
  deny?: string[];
  /** Write no policy file at all. */
  noPolicy?: boolean;
  limits?: Partial<EgressLimits>;
  providers?: Provider[];
  providerCa?: string;
  /** false = the production blocked list (no override). */
  blocked?: BlockedRange[] | false;
  dir?: string;
  extra?: Partial<EgressGateOptions>;
}): Promise<TestGate> {
  const dir = opts.dir ?? tmpDir();
  const policyFile = path.join(dir, 'policy.json');
  const logFile = path.join(dir, 'decisions.jsonl');
  const adminSocket = path.join(dir, 'admin.sock');
  const processLog: string[] = [];
  const writePolicy = (allow: string[], deny: string[] = []) => {
    const tmp = policyFile + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify({ allow, deny }));
    fs.renameSync(tmp, policyFile);
  };
  if (!opts.noPolicy && !fs.existsSync(policyFile)) writePolicy(opts.allow ?? [], opts.deny ?? []);
  const blocked = opts.blocked === false ? undefined : (opts.blocked ?? TEST_BLOCKED);
  const gate = createEgressGate({
    listen: { host: '127.0.0.1', port: 0 },
    policyFile,
    resolver: { host: '127.0.0.1', port: opts.dnsPort },
    logFile,
    adminSocket,
    providers: opts.providers,
    limits: { maxConnections: 50, ...opts.limits },
    timeouts: { clientHelloMs: 2_000, connectMs: 2_000 },
    resolveTimeoutMs: 2_000,
    policyPollMs: 100,
    log: (level, msg, fields) => processLog.push(JSON.stringify({ level, msg, ...fields })),
    testOnly: { ...(blocked ? { blocked } : {}), ...(opts.providerCa ? { providerCa: opts.providerCa } : {}) },
    ...opts.extra,
  });
  const addr = await gate.start();
  return {
    gate,
    port: addr.port,
    dir,
    policyFile,
    logFile,
    adminSocket,
    processLog,
    decisions: () =>
      fs.existsSync(logFile)
        ? fs
            .readFileSync(logFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Decision)
        : [],
    admin: async (req) => (await adminRequest(adminSocket, req)) as Record<string, unknown>,
    writePolicy,
    close: () => gate.close(),
  };
}

// ---- clients --------------------------------------------------------------------------------------

export interface ProxyReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  socket: net.Socket;
}

/** Send a CONNECT and read the reply head (and a refusal's body). On 200 the socket is the tunnel. */
export function connectVia(proxyPort: number, target: string, extraHeaders = ''): Promise<ProxyReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no CONNECT reply'));
    }, 8_000);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const rest = buf.subarray(end + 4);
      if (status === 200) {
        socket.off('data', onData);
        clearTimeout(timer);
        socket.pause();
        if (rest.length) socket.unshift(rest);
        resolve({ status, headers, body: '', socket });
        return;
      }
      const len = Number(headers['content-length'] ?? 0);
      if (rest.length >= len) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status, headers, body: rest.subarray(0, len).toString('utf8'), socket });
      }
    };
    socket.on('data', onData);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before a reply: ${buf.toString('latin1')}`));
    });
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extraHeaders}\r\n`);
  });
}

/** TLS over an established tunnel; resolves with the upstream's first line (`nonce:...`). */
export function tlsThrough(socket: net.Socket, servername: string, ca: string): Promise<{ tls: tls.TLSSocket; firstLine: string }> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, servername, ca });
    let buf = '';
    const timer = setTimeout(() => {
      t.destroy();
      reject(new Error('no line from the upstream'));
    }, 8_000);
    t.on('data', function onData(d: Buffer) {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        t.off('data', onData);
        resolve({ tls: t, firstLine: buf.slice(0, i) });
      }
    });
    t.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    t.on('close', () => {
      clearTimeout(timer);
      reject(new Error('tunnel closed'));
    });
  });
}

/** Resolves when the socket closes (rejects after timeoutMs). */
export function closed(s: net.Socket, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A plain HTTP request to the proxy (absolute-form path, or origin-form for /providers/...). */
export function proxyRequest(
  proxyPort: number,
  pathOrUrl: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: opts.method ?? 'GET', path: pathOrUrl, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
