// A small clamd client: PING, VERSION, STATS and INSTREAM over TCP or a unix socket.
// Bytes are streamed to clamd, so clamd never needs to see the workspace (the `SCAN <path>`
// approach would). Errors are split in two: ClamdUnavailableError (could not talk to clamd:
// retry later, mark nothing) and verdicts (clean / infected / unscannable).
//
// With `sessions`, scans run in clamd sessions (IDSESSION) kept open between files, one scan at a
// time on each: a connection per file cost the warden and clamd more CPU than the scan of a small
// file (a connect, an accept, two closes; on 2 cores, half of what a burst of 4 KiB files could
// go through). A session is used again only after a whole, well-formed exchange (the stream
// ended, a clean or infected reply carrying this request's number and nothing after it); anything
// else (a timeout, an error reply, a size limit, a reply for another request, a failed source)
// drops the connection, so no reply can be read as another file's verdict.
//
// clamd ends a session whose client has sent nothing for its ReadTimeout, even while it scans
// (outside a session it stops watching a connection once the stream has ended), and then sends no
// verdict. So a scan uses a session only when its own timeout ends well before clamd's
// (`clamdReadTimeoutMs`), and a session is used again only while clamd's clock, which runs from
// the last byte it received, is far from its end.

import * as net from 'net';
import {
  ClamdEndpoint,
  ClamdStats,
  END_OF_STREAM,
  Verdict,
  chunkHeader,
  commandBytes,
  endpointToString,
  parseScanReply,
  parseStats,
  trimReply,
} from './clamdProtocol';

export class ClamdUnavailableError extends Error {
  /** midScan: the connection was up and the scan had started (clamd died or was stopped under us) */
  constructor(message: string, readonly code?: string, readonly midScan = false) {
    super(message);
    this.name = 'ClamdUnavailableError';
  }
}

/** The byte source failed (the file could not be read); not clamd's fault. */
export class SourceError extends Error {
  constructor(readonly sourceError: unknown) {
    super(`reading the file failed: ${(sourceError as Error)?.message ?? String(sourceError)}`);
    this.name = 'SourceError';
  }
}

export interface ClamdClientOptions {
  connectTimeoutMs?: number;
  /** timeout for a whole command or scan */
  timeoutMs?: number;
  /** scan in clamd sessions kept open between files (see the top of this file) */
  sessions?: boolean;
  /** how long an idle session may wait for its next scan (default SESSION_IDLE_MS) */
  sessionIdleMs?: number;
  /** clamd's ReadTimeout (default 120 s, clamd's own default); see the top of this file */
  clamdReadTimeoutMs?: number;
}

/**
 * An idle session is used again for this long at most (and less when clamd's ReadTimeout leaves
 * less): clamd never ends one as we start a scan on it, and idle ones do not pile up in clamd.
 */
export const SESSION_IDLE_MS = 5000;
/** What a scan's timeout, or a session's idle time, must leave before clamd's ReadTimeout. */
export const SESSION_MARGIN_MS = 5000;
/** Idle sessions kept (one per concurrent scan is all the warden needs). */
const MAX_IDLE_SESSIONS = 16;

interface Session {
  sock: net.Socket;
  /** clamd numbers the requests of a session from 1 and prefixes each reply with it */
  nextId: number;
  /** performance.now() when the last byte went out: clamd's ReadTimeout runs from its arrival */
  lastSentAt: number;
  /** while parked: drops the session when clamd closes it or sends anything, or when it has waited too long */
  onIdle: () => void;
  idleTimer: NodeJS.Timeout | null;
}

/** A session reply "N: text": the request number and the text, or null if it is not one. */
export function splitSessionReply(raw: string): { id: number; text: string } | null {
  const m = /^(\d{1,15}): ([\s\S]*)$/.exec(raw);
  return m ? { id: Number(m[1]), text: m[2] } : null;
}

export class ClamdClient {
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly sessions: boolean;
  readonly sessionIdleMs: number;
  readonly clamdReadTimeoutMs: number;
  private readonly idle: Session[] = [];
  private closed = false;
  /** sessions opened (for tests and the bench: reuse shows as few openings for many scans) */
  sessionsOpened = 0;

  constructor(readonly endpoint: ClamdEndpoint, opts: ClamdClientOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 120000;
    this.sessions = opts.sessions ?? false;
    this.clamdReadTimeoutMs = opts.clamdReadTimeoutMs ?? 120_000;
    this.sessionIdleMs = Math.max(0, Math.min(opts.sessionIdleMs ?? SESSION_IDLE_MS, SESSION_IDLE_MS, this.clamdReadTimeoutMs - SESSION_MARGIN_MS));
  }

  toString(): string {
    return endpointToString(this.endpoint);
  }

  /** Sessions waiting for a scan. */
  get idleSessions(): number {
    return this.idle.length;
  }

  /** Whether a scan with this timeout may run in a session: it must end well before clamd's ReadTimeout. */
  sessionFor(timeoutMs: number): boolean {
    return this.sessions && !this.closed && timeoutMs + SESSION_MARGIN_MS <= this.clamdReadTimeoutMs;
  }

  /** End the idle sessions; scans in progress end theirs, and later scans open a connection each. */
  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) {
      this.unpark(s);
      this.endSession(s);
    }
  }

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const sock =
        this.endpoint.kind === 'tcp'
          ? net.connect({ host: this.endpoint.host, port: this.endpoint.port })
          : net.connect({ path: this.endpoint.path });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new ClamdUnavailableError(`connect to ${this} timed out`, 'ETIMEDOUT'));
      }, this.connectTimeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.setNoDelay(true);
        resolve(sock);
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new ClamdUnavailableError(`connect to ${this}: ${e.message}`, e.code));
      });
    });
  }

  /** A parked session that is still fresh, or a new one. */
  private async session(): Promise<Session> {
    const now = performance.now();
    for (let s = this.idle.pop(); s; s = this.idle.pop()) {
      this.unpark(s);
      if (!s.sock.destroyed && now - s.lastSentAt < this.sessionIdleMs) return s;
      this.endSession(s);
    }
    const sock = await this.connect();
    this.sessionsOpened++;
    // IDSESSION has no reply of its own; the first request of the session is number 1.
    sock.write(commandBytes('IDSESSION'));
    return { sock, nextId: 1, lastSentAt: performance.now(), onIdle: () => {}, idleTimer: null };
  }

  private park(s: Session): void {
    if (this.closed || this.idle.length >= MAX_IDLE_SESSIONS) return this.endSession(s);
    s.onIdle = () => {
      const i = this.idle.indexOf(s);
      if (i >= 0) this.idle.splice(i, 1);
      this.unpark(s);
      this.endSession(s);
    };
    for (const ev of ['data', 'end', 'close', 'error']) s.sock.on(ev, s.onIdle);
    // ended on time even if no scan comes to take it (clamd counts open connections)
    s.idleTimer = setTimeout(s.onIdle, Math.max(0, this.sessionIdleMs - (performance.now() - s.lastSentAt)));
    s.idleTimer.unref();
    s.sock.unref();
    this.idle.push(s);
  }

  private unpark(s: Session): void {
    for (const ev of ['data', 'end', 'close', 'error']) s.sock.off(ev, s.onIdle);
    if (s.idleTimer) clearTimeout(s.idleTimer);
    s.idleTimer = null;
    s.sock.ref();
  }

  private endSession(s: Session): void {
    s.sock.on('error', () => {});
    if (!s.sock.destroyed) s.sock.end(commandBytes('END'));
    s.sock.destroySoon();
  }

  /** Send a null-terminated command and return the trimmed reply. */
  async command(name: string, timeoutMs = Math.min(this.timeoutMs, 10000)): Promise<string> {
    const sock = await this.connect();
    return new Promise((resolve, reject) => {
      let buf = '';
      let done = false;
      const finish = (err: Error | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(trimReply(buf));
      };
      const timer = setTimeout(() => finish(new ClamdUnavailableError(`${name} to ${this} timed out`, 'ETIMEDOUT')), timeoutMs);
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        buf += d;
        if (buf.includes('\0')) finish(null);
      });
      sock.on('end', () => finish(buf ? null : new ClamdUnavailableError(`${name}: ${this} closed without a reply`)));
      sock.on('error', (e: NodeJS.ErrnoException) => finish(buf ? null : new ClamdUnavailableError(`${name}: ${e.message}`, e.code)));
      sock.write(commandBytes(name));
    });
  }

  async ping(timeoutMs?: number): Promise<void> {
    const r = await this.command('PING', timeoutMs);
    if (r !== 'PONG') throw new ClamdUnavailableError(`PING: unexpected reply ${JSON.stringify(r)}`);
  }

  version(): Promise<string> {
    return this.command('VERSION');
  }

  async stats(): Promise<ClamdStats | null> {
    return parseStats(await this.command('STATS'));
  }

  /**
   * Stream bytes to clamd and return its verdict. `source` yields the file's bytes; if it throws,
   * the scan rejects with SourceError. Connection failures before a reply reject with
   * ClamdUnavailableError. A reply that arrives early (size limit) ends the stream.
   */
  async instream(source: AsyncIterable<Buffer>, timeoutMs = this.timeoutMs): Promise<Verdict> {
    const session = this.sessionFor(timeoutMs) ? await this.session() : null;
    const sock = session ? session.sock : await this.connect();
    const id = session ? session.nextId++ : 0;
    return new Promise<Verdict>((resolve, reject) => {
      let reply = '';
      let settled = false;
      let closed = false;
      let sent = 0;
      let streamEnded = false;
      const wakers: (() => void)[] = [];
      const wake = () => wakers.splice(0).forEach((w) => w());
      /** The verdict in a reply (without its terminator); in a session, only one numbered for this request. */
      const verdictOf = (raw: string): Verdict | Error => {
        if (!session) return parseScanReply(raw);
        const trimmed = trimReply(raw);
        const r = splitSessionReply(trimmed);
        if (r && r.id === id) return parseScanReply(r.text);
        // clamd's own read timeout, unnumbered: no verdict for this file (scanJob asks PING, as after ours)
        if (/^COMMAND READ TIMED OUT/.test(trimmed)) return { kind: 'unscannable', reason: 'timeout', detail: `clamd ended the session (its ReadTimeout) during request ${id}` };
        return new ClamdUnavailableError(`INSTREAM to ${this}: the session answered ${JSON.stringify(raw.slice(0, 80))} to request ${id}`, 'EPROTO', true);
      };
      const onData = (d: string) => {
        reply += d;
        const end = reply.indexOf('\0');
        if (end < 0) return;
        const v = verdictOf(reply.slice(0, end));
        if (v instanceof Error) return settle(null, v);
        const whole = streamEnded && end === reply.length - 1 && (v.kind === 'clean' || v.kind === 'infected');
        settle(v, undefined, whole);
      };
      const onGone = (why: string, code?: string) => {
        if (closed || settled) return;
        closed = true;
        wake();
        if (reply) {
          const v = verdictOf(reply);
          return v instanceof Error ? settle(null, v) : settle(v);
        }
        if (sent === 0) return settle(null, new ClamdUnavailableError(`INSTREAM to ${this}: ${why}`, code, true));
        // Dropped mid-stream without a verdict. clamd closes the connection when a stream passes
        // its StreamMaxLength, and its reply can be lost to the reset (our write fails with EPIPE
        // first). Ask: if clamd still answers PING, it refused this stream: unscannable, never
        // clean. If not, clamd went away: retry later.
        const gone = new ClamdUnavailableError(`INSTREAM to ${this}: ${why}`, code, true);
        this.ping(Math.min(2000, this.connectTimeoutMs)).then(
          () => settle({ kind: 'unscannable', reason: 'clamd-error', detail: `clamd dropped the stream after ${sent} bytes without a verdict (over StreamMaxLength?): ${why}` }),
          () => settle(null, gone),
        );
      };
      const onEnd = () => onGone('closed without a reply');
      const onError = (e: NodeJS.ErrnoException) => onGone(e.message, e.code);
      const listeners: [string, Parameters<net.Socket['off']>[1]][] = [
        ['data', onData],
        ['end', onEnd],
        ['close', onEnd],
        ['error', onError],
        ['drain', wake],
      ];
      const settle = (v: Verdict | null, err?: Error, reusable = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const [ev, f] of listeners) sock.off(ev, f);
        if (session && reusable && !closed && !sock.destroyed) this.park(session);
        else {
          sock.on('error', () => {});
          sock.destroy();
        }
        wake();
        if (err) reject(err);
        else resolve(v as Verdict);
      };
      const timer = setTimeout(
        () => settle({ kind: 'unscannable', reason: 'timeout', detail: `no verdict from ${this} within ${timeoutMs} ms` }),
        timeoutMs,
      );
      sock.setEncoding('latin1');
      for (const [ev, f] of listeners) sock.on(ev, f);

      // Corked: a small file goes out as one writev (command, header, bytes, end marker); the
      // socket is uncorked whenever its buffer is full, and at the end.
      const send = async (b: Buffer): Promise<void> => {
        if (settled || closed) return;
        sent += b.length;
        if (!sock.write(b)) {
          sock.uncork();
          await new Promise<void>((r) => wakers.push(r));
          sock.cork();
        }
      };
      sock.cork();
      (async () => {
        await send(commandBytes('INSTREAM'));
        try {
          for await (const chunk of source) {
            if (settled || closed) break;
            if (chunk.length === 0) continue;
            await send(chunkHeader(chunk.length));
            await send(chunk);
          }
        } catch (e) {
          settle(null, new SourceError(e));
          return;
        }
        await send(END_OF_STREAM);
        if (!settled && !closed) {
          sock.uncork();
          streamEnded = true;
          if (session) session.lastSentAt = performance.now();
        }
      })().catch((e) => settle(null, e as Error));
    });
  }
}
