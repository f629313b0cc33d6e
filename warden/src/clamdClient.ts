// A small clamd client: PING, VERSION, STATS and INSTREAM over TCP or a unix socket.
// Bytes are streamed to clamd, so clamd never needs to see the workspace (the `SCAN <path>`
// approach would). Errors are split in two: ClamdUnavailableError (could not talk to clamd:
// retry later, mark nothing) and verdicts (clean / infected / unscannable).

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
}

export class ClamdClient {
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;

  constructor(readonly endpoint: ClamdEndpoint, opts: ClamdClientOptions = {}) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 120000;
  }

  toString(): string {
    return endpointToString(this.endpoint);
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
    const sock = await this.connect();
    return new Promise<Verdict>((resolve, reject) => {
      let reply = '';
      let settled = false;
      let closed = false;
      let sent = 0;
      const wakers: (() => void)[] = [];
      const wake = () => wakers.splice(0).forEach((w) => w());
      const settle = (v: Verdict | null, err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        wake();
        if (err) reject(err);
        else resolve(v as Verdict);
      };
      const timer = setTimeout(
        () => settle({ kind: 'unscannable', reason: 'timeout', detail: `no verdict from ${this} within ${timeoutMs} ms` }),
        timeoutMs,
      );
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        reply += d;
        if (reply.includes('\0')) settle(parseScanReply(reply.slice(0, reply.indexOf('\0'))));
      });
      const onGone = (why: string, code?: string) => {
        if (closed || settled) return;
        closed = true;
        wake();
        if (reply) return settle(parseScanReply(reply));
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
      sock.on('end', () => onGone('closed without a reply'));
      sock.on('close', () => onGone('closed without a reply'));
      sock.on('error', (e: NodeJS.ErrnoException) => onGone(e.message, e.code));
      sock.on('drain', wake);

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
        if (!settled && !closed) sock.uncork();
      })().catch((e) => settle(null, e as Error));
    });
  }
}
