// clawjail connect [URL] [--stack NAME | --fingerprint FP] [--token-file F] [--send JSON]
//
// Opens a pinned (SHA-256 fingerprint), token-authenticated WebSocket session to the clawjail
// gateway and speaks OpenClaw's gateway protocol through it: wait for `connect.challenge`, send a
// `connect` request as a device-less CLI operator, then either one request (--send) or lines from
// stdin (interactive). `--raw` skips the OpenClaw handshake and exchanges plain messages.
// Verification is never switched off: a mismatched certificate ends the command (exit 3).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as readline from 'readline';
import type WebSocket from 'ws';
import { normalizeFingerprint } from '../../gateway/src/cert';
import { FingerprintMismatchError, GatewayRefusedError, openPinnedWebSocket, parseGatewayUrl } from '../../gateway/src/pinned';
import type { CliIO } from '../io';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';

export type CliIo = CliIO;

/** What `--stack NAME` resolves to (from the stack's outputs). */
export interface StackTarget {
  url: string;
  fingerprint: string;
  /** Where the operator token lives, when the stack knows it. */
  tokenFile?: string;
}
export type StackResolver = (stack: string) => Promise<StackTarget>;

export interface ConnectDeps {
  resolveStack?: StackResolver;
}

let defaultStackResolver: StackResolver | undefined;
/** Hook for the CLI entry point: how `--stack NAME` finds the gateway URL and fingerprint. */
export function setStackResolver(resolver: StackResolver | undefined): void {
  defaultStackResolver = resolver;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, fingerprintMismatch: 3, refused: 4 } as const;

const OPTIONS = {
  stack: { type: 'string', value: 'NAME', help: "take URL and fingerprint from the stack's outputs" },
  fingerprint: { type: 'string', value: 'FP', help: 'SHA-256 fingerprint the gateway certificate must have (AB:CD:...)' },
  'token-file': { type: 'string', value: 'FILE', help: 'operator token (or env CLAWJAIL_TOKEN_FILE)' },
  send: { type: 'string', value: 'JSON', help: 'send one message, print the first answer, exit (0 if ok)' },
  raw: { type: 'boolean', help: 'no OpenClaw handshake: plain WebSocket messages' },
  'upstream-token-file': { type: 'string', value: 'FILE', help: "OpenClaw's own token for the connect request (default: none, the\ngateway adds it when configured with GATEWAY_UPSTREAM_TOKEN_FILE)" },
  scopes: { type: 'string', value: 'LIST', help: 'operator scopes to request (default operator.read,operator.write)' },
  timeout: { type: 'string', value: 'MS', help: 'connect/answer timeout (default 15000)' },
  ...HELP_OPTION,
} satisfies OptionDefs;

export const USAGE = `usage: clawjail connect [URL] [--stack NAME | --fingerprint FP] [--token-file FILE]
                        [--send JSON] [--raw] [--upstream-token-file FILE] [--scopes LIST] [--timeout MS]

  URL   wss://host:port of the clawjail gateway (https:// and host:port accepted)

options:
${optionsHelp(OPTIONS)}
Interactive mode reads one message per line from stdin: a JSON frame, or "METHOD [JSON-params]"
(e.g. "health" or "status {}"); every frame received is printed as one JSON line.
Exit codes: 0 ok, 1 failed, 2 usage, 3 certificate fingerprint mismatch, 4 refused by the gateway.`;

interface Options {
  url?: string;
  stack?: string;
  fingerprint?: string;
  tokenFile?: string;
  upstreamTokenFile?: string;
  send?: string;
  raw: boolean;
  scopes: string[];
  timeoutMs: number;
  help: boolean;
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = {}): Options {
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length > 1) throw new UsageError(`expected at most one URL, got ${positionals.length}`);
  const o: Options = {
    raw: v.raw ?? false,
    scopes: v.scopes === undefined ? ['operator.read', 'operator.write'] : v.scopes.split(',').map((x) => x.trim()).filter(Boolean),
    timeoutMs: 15_000,
    help: v.help ?? false,
    url: positionals[0] ?? env.CLAWJAIL_URL,
    stack: v.stack,
    fingerprint: v.fingerprint ?? (v.stack ? undefined : env.CLAWJAIL_FINGERPRINT),
    tokenFile: v['token-file'] ?? env.CLAWJAIL_TOKEN_FILE,
    upstreamTokenFile: v['upstream-token-file'],
    send: v.send,
  };
  if (v.timeout !== undefined) {
    if (!/^\d+$/.test(v.timeout) || Number(v.timeout) < 100) throw new UsageError('--timeout must be a number of milliseconds >= 100');
    o.timeoutMs = Number(v.timeout);
  }
  // Given at all, in either spelling: the stack's own fingerprint must never silently replace it.
  if (v.stack !== undefined && v.fingerprint !== undefined) throw new UsageError('--stack and --fingerprint are exclusive');
  return o;
}

function asUsage<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}

function readSecret(file: string, what: string): string {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const token = raw.trim();
  if (!token) throw new UsageError(`${what} ${file} is empty`);
  return token;
}

function write(stream: { write(s: string): unknown }, text: string): void {
  stream.write(text.endsWith('\n') ? text : text + '\n');
}

type Frame = Record<string, unknown>;

function newId(): string {
  return `clawjail-${crypto.randomBytes(6).toString('hex')}`;
}

/** Turns a user's line into a request frame: JSON as given (type/id filled in), or "METHOD [JSON]". */
export function toFrame(line: string): Frame {
  const text = line.trim();
  let frame: Frame;
  if (text.startsWith('{')) {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
    frame = parsed as Frame;
  } else {
    const m = /^([A-Za-z0-9_.:-]+)(?:\s+(.*))?$/s.exec(text);
    if (!m) throw new Error('expected a JSON frame or "METHOD [JSON-params]"');
    frame = { method: m[1], params: m[2] ? (JSON.parse(m[2]) as unknown) : {} };
  }
  if (frame.type === undefined && typeof frame.method === 'string') frame.type = 'req';
  if (frame.type === 'req' && frame.id === undefined) frame.id = newId();
  return frame;
}

/** A small frame reader over the socket: queued messages and waiters. */
class Inbox {
  private readonly queue: string[] = [];
  private waiter?: (m: string | undefined) => void;
  private closed = false;
  closeInfo?: { code: number; reason: string };
  onFrame?: (text: string) => boolean; // returns true if consumed

  constructor(ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('base64') : data.toString();
      if (this.onFrame && this.onFrame(text)) return;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(text);
      } else this.queue.push(text);
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.closeInfo = { code, reason: reason.toString() };
      const w = this.waiter;
      this.waiter = undefined;
      w?.(undefined);
    });
  }

  /** Next message, or undefined on close/timeout. */
  next(timeoutMs: number): Promise<string | undefined> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function parseFrame(text: string): Frame | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Frame) : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for the response frame with `id`, skipping events; undefined on close or timeout. */
async function awaitResponse(inbox: Inbox, id: string, timeoutMs: number): Promise<Frame | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    const text = await inbox.next(left);
    if (text === undefined) return undefined;
    const f = parseFrame(text);
    if (f && f.type === 'res' && f.id === id) return f;
  }
}

export function connectFrame(opts: { scopes: string[]; upstreamToken?: string; version?: string }): Frame {
  const version = opts.version ?? '0.1.0';
  return {
    type: 'req',
    id: newId(),
    method: 'connect',
    params: {
      minProtocol: 4,
      maxProtocol: 4,
      client: { id: 'cli', version, platform: process.platform, mode: 'cli' },
      role: 'operator',
      scopes: opts.scopes,
      caps: [],
      ...(opts.upstreamToken ? { auth: { token: opts.upstreamToken } } : {}),
      userAgent: `clawjail-cli/${version}`,
    },
  };
}

function describeError(f: Frame): string {
  const err = (f.error ?? {}) as Record<string, unknown>;
  const details = err.details as Record<string, unknown> | undefined;
  return `${String(err.code ?? 'ERROR')}: ${String(err.message ?? 'request failed')}${details?.code ? ` (${String(details.code)})` : ''}`;
}

/** OpenClaw handshake: challenge (if any), connect, hello-ok. Returns the hello payload or throws. */
async function handshake(ws: WebSocket, inbox: Inbox, o: Options, upstreamToken: string | undefined): Promise<Frame> {
  // The server speaks first (connect.challenge); a server that does not is given a short grace.
  const first = await inbox.next(Math.min(o.timeoutMs, 5_000));
  const firstFrame = first === undefined ? undefined : parseFrame(first);
  if (first === undefined && inbox.isClosed) throw new Error(`connection closed before the handshake (${inbox.closeInfo?.code} ${inbox.closeInfo?.reason ?? ''})`);
  if (firstFrame && !(firstFrame.type === 'event' && firstFrame.event === 'connect.challenge')) {
    throw new Error(`unexpected first frame from OpenClaw: ${first!.slice(0, 200)}`);
  }
  const req = connectFrame({ scopes: o.scopes, upstreamToken });
  ws.send(JSON.stringify(req));
  const res = await awaitResponse(inbox, req.id as string, o.timeoutMs);
  if (!res) {
    const c = inbox.closeInfo;
    throw new Error(c ? `connection closed during the handshake: ${c.code} ${c.reason}` : 'no answer to connect (timeout)');
  }
  if (res.ok !== true) throw new Error(`OpenClaw refused the connect request: ${describeError(res)}`);
  return (res.payload ?? {}) as Frame;
}

export async function run(argv: string[], io: CliIo, deps: ConnectDeps = {}): Promise<number> {
  const env = io.env ?? process.env;
  let o: Options;
  try {
    o = parseArgs(argv, env);
  } catch (e) {
    write(io.stderr, `clawjail connect: ${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (o.help) {
    write(io.stdout, USAGE);
    return EXIT.ok;
  }

  let ws: WebSocket;
  try {
    if (o.stack) {
      const resolver = deps.resolveStack ?? defaultStackResolver;
      if (!resolver) throw new UsageError('--stack is not available here (no stack resolver wired in)');
      const t = await resolver(o.stack);
      o.url = o.url ?? t.url;
      o.fingerprint = t.fingerprint;
      o.tokenFile = o.tokenFile ?? t.tokenFile;
    }
    if (!o.url) throw new UsageError('no gateway URL (give URL, --stack or CLAWJAIL_URL)');
    if (!o.fingerprint) {
      throw new UsageError('no fingerprint to pin (give --fingerprint or --stack); `clawjail fingerprint URL` shows what a server presents');
    }
    const fingerprint = asUsage(() => normalizeFingerprint(o.fingerprint!), '--fingerprint');
    const target = asUsage(() => parseGatewayUrl(o.url!), 'URL');
    if (!o.tokenFile) throw new UsageError('no operator token (give --token-file or CLAWJAIL_TOKEN_FILE)');
    const token = readSecret(o.tokenFile, 'token file');
    const upstreamToken = o.upstreamTokenFile ? readSecret(o.upstreamTokenFile, 'upstream token file') : undefined;
    if (o.send !== undefined && !o.raw) asUsage(() => toFrame(o.send!), '--send'); // validate before connecting
    let inbox!: Inbox;
    ws = await openPinnedWebSocket(target, {
      fingerprint,
      token,
      timeoutMs: o.timeoutMs,
      onCreate: (w) => {
        inbox = new Inbox(w);
      },
    });
    ws.on('error', () => undefined); // surfaced through close codes
    try {
      if (o.raw) return await rawSession(ws, inbox, o, io);
      const hello = await handshake(ws, inbox, o, upstreamToken);
      const server = (hello.server ?? {}) as Frame;
      write(io.stderr, `connected to OpenClaw ${String(server.version ?? '?')} (protocol ${String(hello.protocol ?? '?')}) via ${target.url.host}, certificate ${fingerprint.slice(0, 23)}... pinned`);
      if (o.send !== undefined) return await sendOne(ws, inbox, o, io);
      return await interactive(ws, inbox, o, io);
    } finally {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    }
  } catch (e) {
    if (e instanceof FingerprintMismatchError) {
      write(io.stderr, `clawjail connect: ${e.message}`);
      return EXIT.fingerprintMismatch;
    }
    if (e instanceof GatewayRefusedError) {
      write(io.stderr, `clawjail connect: ${e.message}`);
      return EXIT.refused;
    }
    if (e instanceof UsageError) {
      write(io.stderr, `clawjail connect: ${e.message}`);
      return EXIT.usage;
    }
    write(io.stderr, `clawjail connect: ${(e as Error).message}`);
    return EXIT.failed;
  }
}

async function rawSession(ws: WebSocket, inbox: Inbox, o: Options, io: CliIo): Promise<number> {
  if (o.send !== undefined) {
    ws.send(o.send);
    const answer = await inbox.next(o.timeoutMs);
    if (answer === undefined) {
      write(io.stderr, `clawjail connect: no answer${inbox.closeInfo ? ` (closed: ${inbox.closeInfo.code} ${inbox.closeInfo.reason})` : ' (timeout)'}`);
      return EXIT.failed;
    }
    write(io.stdout, answer);
    return EXIT.ok;
  }
  inbox.onFrame = (text) => {
    write(io.stdout, text);
    return true;
  };
  return lineLoop(ws, inbox, o, io, (line) => {
    ws.send(line);
    return undefined;
  }, () => true);
}

async function sendOne(ws: WebSocket, inbox: Inbox, o: Options, io: CliIo): Promise<number> {
  const frame = toFrame(o.send!);
  ws.send(JSON.stringify(frame));
  if (frame.type !== 'req') {
    // Not a request: the first frame that arrives is the answer.
    const text = await inbox.next(o.timeoutMs);
    if (text === undefined) return EXIT.failed;
    write(io.stdout, text);
    return EXIT.ok;
  }
  const res = await awaitResponse(inbox, frame.id as string, o.timeoutMs);
  if (!res) {
    const c = inbox.closeInfo;
    write(io.stderr, `clawjail connect: no answer to ${String(frame.method)}${c ? ` (closed: ${c.code} ${c.reason})` : ' (timeout)'}`);
    return EXIT.failed;
  }
  write(io.stdout, JSON.stringify(res));
  if (res.ok !== true) {
    write(io.stderr, `clawjail connect: ${String(frame.method)} failed: ${describeError(res)}`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

async function interactive(ws: WebSocket, inbox: Inbox, o: Options, io: CliIo): Promise<number> {
  const pending = new Set<string>();
  inbox.onFrame = (text) => {
    write(io.stdout, text);
    const f = parseFrame(text);
    if (f && f.type === 'res' && typeof f.id === 'string') pending.delete(f.id);
    return true;
  };
  return lineLoop(ws, inbox, o, io, (line) => {
    const frame = toFrame(line);
    if (frame.type === 'req' && typeof frame.id === 'string') pending.add(frame.id);
    ws.send(JSON.stringify(frame));
    return undefined;
  }, () => pending.size === 0);
}

/** Reads stdin line by line until EOF, then waits (bounded) for outstanding answers and closes. */
function lineLoop(
  ws: WebSocket,
  inbox: Inbox,
  o: Options,
  io: CliIo,
  onLine: (line: string) => void,
  settled: () => boolean = () => false,
): Promise<number> {
  return new Promise<number>((resolve) => {
    const rl = readline.createInterface({ input: io.stdin, terminal: false });
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(code);
    };
    ws.on('close', (code, reason) => {
      if (done) return;
      write(io.stderr, `connection closed by the gateway: ${code}${reason.length ? ` ${reason.toString()}` : ''}`);
      finish(code === 1000 ? EXIT.ok : EXIT.failed);
    });
    rl.on('line', (line) => {
      if (!line.trim() || done) return;
      try {
        onLine(line);
      } catch (e) {
        write(io.stderr, `not sent: ${(e as Error).message}`);
      }
    });
    rl.on('close', () => {
      if (done) return;
      // stdin ended: give outstanding answers a bounded time, then close normally.
      const deadline = Date.now() + o.timeoutMs;
      const grace = Date.now() + 300;
      const tick = () => {
        if (done) return;
        const now = Date.now();
        if (inbox.isClosed || (settled() && now >= grace) || now >= deadline) {
          ws.close(1000);
          return finish(EXIT.ok);
        }
        setTimeout(tick, 50);
      };
      tick();
    });
  });
}
