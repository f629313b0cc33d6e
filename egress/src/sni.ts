// The server name of a TLS ClientHello. Pure: bytes in, a name or a reason out.
//
// The ClientHello may arrive in several TCP chunks and (rarely) in several TLS records; the
// reader accumulates until the handshake message is complete, and gives up past MAX_HELLO_BYTES.

/** Upper bound of bytes buffered while waiting for a complete ClientHello. */
export const MAX_HELLO_BYTES = 16 * 1024;

export type SniFailure = 'not-tls' | 'no-sni' | 'truncated';

export type SniResult =
  | { status: 'incomplete' }
  | { status: 'ok'; serverName: string }
  | { status: 'error'; reason: SniFailure; detail: string };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;

function fail(reason: SniFailure, detail: string): SniResult {
  return { status: 'error', reason, detail };
}

/**
 * Parse what has arrived so far. 'incomplete' = need more bytes (the caller enforces a timeout;
 * ClientHelloReader enforces the size cap).
 */
export function parseClientHello(buf: Buffer): SniResult {
  return new ClientHelloReader().push(buf);
}

function parseClientHelloBody(b: Buffer): SniResult {
  let off = 0;
  const need = (n: number): boolean => off + n <= b.length;
  const bad = (what: string): SniResult => fail('not-tls', `malformed ClientHello (${what})`);
  if (!need(2 + 32)) return bad('version/random');
  off += 2 + 32;
  if (!need(1)) return bad('session id');
  off += 1 + b[off];
  if (!need(2)) return bad('cipher suites');
  off += 2 + b.readUInt16BE(off);
  if (!need(1)) return bad('compression');
  off += 1 + b[off];
  if (off > b.length) return bad('compression');
  if (off === b.length) return fail('no-sni', 'the ClientHello has no extensions');
  if (!need(2)) return bad('extensions');
  const extEnd = off + 2 + b.readUInt16BE(off);
  off += 2;
  if (extEnd > b.length) return bad('extensions length');
  while (off + 4 <= extEnd) {
    const type = b.readUInt16BE(off);
    const len = b.readUInt16BE(off + 2);
    off += 4;
    if (off + len > extEnd) return bad('extension length');
    if (type === EXT_SERVER_NAME) return parseServerName(b.subarray(off, off + len));
    off += len;
  }
  return fail('no-sni', 'the ClientHello has no server_name extension');
}

function parseServerName(e: Buffer): SniResult {
  if (e.length < 2) return fail('not-tls', 'malformed server_name extension');
  const listEnd = 2 + e.readUInt16BE(0);
  if (listEnd > e.length) return fail('not-tls', 'malformed server_name list');
  let off = 2;
  while (off + 3 <= listEnd) {
    const nameType = e[off];
    const len = e.readUInt16BE(off + 1);
    off += 3;
    if (off + len > listEnd) return fail('not-tls', 'malformed server_name entry');
    if (nameType === 0) {
      const raw = e.subarray(off, off + len);
      if (len === 0 || !raw.every((c) => c > 0x20 && c < 0x7f)) return fail('no-sni', 'the server_name is not a printable ASCII host name');
      return { status: 'ok', serverName: raw.toString('ascii') };
    }
    off += len;
  }
  return fail('no-sni', 'the server_name extension has no host_name');
}

/**
 * Accumulates chunks until the ClientHello is complete; incremental (each byte is looked at a
 * bounded number of times, however the bytes are split); past MAX_HELLO_BYTES it is 'truncated'.
 */
export class ClientHelloReader {
  private buf = Buffer.alloc(0);
  private size = 0;
  /** Start of the first record not yet fully consumed. */
  private recordOff = 0;
  /** Handshake payload from complete records. */
  private payload: Buffer[] = [];
  private payloadLen = 0;
  private header: number[] = [];
  private decided: SniResult | undefined;

  /** Everything received so far (to forward upstream once allowed). */
  get buffered(): Buffer {
    return this.buf.subarray(0, this.size);
  }

  push(chunk: Buffer): SniResult {
    if (this.decided) return this.decided;
    if (this.size + chunk.length > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.size + chunk.length, Math.min(2 * this.buf.length + 512, MAX_HELLO_BYTES + 1024)));
      this.buf.copy(next, 0, 0, this.size);
      this.buf = next;
    }
    chunk.copy(this.buf, this.size);
    this.size += chunk.length;
    const r = this.step();
    if (r.status !== 'incomplete') this.decided = r;
    else if (this.size > MAX_HELLO_BYTES + 64) this.decided = fail('truncated', `no complete ClientHello in the first ${MAX_HELLO_BYTES} bytes`);
    return this.decided ?? r;
  }

  private need(): number | undefined {
    return this.header.length === 4 ? 4 + ((this.header[1] << 16) | (this.header[2] << 8) | this.header[3]) : undefined;
  }

  private step(): SniResult {
    const buf = this.buf;
    for (;;) {
      const need = this.need();
      if (need !== undefined) {
        if (need - 4 > MAX_HELLO_BYTES) return fail('truncated', `a ClientHello of ${need - 4} bytes is over the ${MAX_HELLO_BYTES}-byte limit`);
        // The message may end inside a record that is still arriving.
        const partialLen = this.partialRecordPayload();
        if (this.payloadLen + partialLen >= need) {
          const all = Buffer.concat([...this.payload, this.partialRecordBytes()]);
          return parseClientHelloBody(all.subarray(4, need));
        }
      }
      const off = this.recordOff;
      if (off >= this.size) return { status: 'incomplete' };
      if (buf[off] !== RECORD_HANDSHAKE) return fail('not-tls', 'the first bytes are not a TLS handshake record');
      if (off + 1 < this.size && buf[off + 1] !== 3) return fail('not-tls', 'not a TLS record version');
      if (off + 5 > this.size) {
        this.peekHeader();
        return { status: 'incomplete' };
      }
      const len = buf.readUInt16BE(off + 3);
      if (len === 0 || len > 16384 + 2048) return fail('not-tls', `a TLS record of ${len} bytes`);
      this.peekHeader();
      if (this.payloadLen === 0 && this.size > off + 5 && buf[off + 5] !== HANDSHAKE_CLIENT_HELLO) {
        return fail('not-tls', 'the first handshake message is not a ClientHello');
      }
      if (off + 5 + len > this.size) {
        const n = this.need();
        if (n !== undefined && (n - 4 > MAX_HELLO_BYTES || this.payloadLen + this.partialRecordPayload() >= n)) continue;
        return { status: 'incomplete' };
      }
      this.payload.push(buf.subarray(off + 5, off + 5 + len));
      this.payloadLen += len;
      this.recordOff = off + 5 + len;
    }
  }

  /** Bytes of the handshake payload in the record at recordOff that have arrived. */
  private partialRecordPayload(): number {
    return this.partialRecordBytes().length;
  }

  private partialRecordBytes(): Buffer {
    const off = this.recordOff;
    if (off + 5 > this.size) return Buffer.alloc(0);
    const len = this.buf.readUInt16BE(off + 3);
    return this.buf.subarray(off + 5, Math.min(this.size, off + 5 + len));
  }

  /** Fill the 4-byte handshake header from the payload seen so far. */
  private peekHeader(): void {
    if (this.header.length === 4) return;
    const seen = Buffer.concat([...this.payload, this.partialRecordBytes()]);
    for (let i = this.header.length; i < Math.min(4, seen.length); i++) this.header.push(seen[i]);
  }

  /** The stream ended (or timed out) before a decision. */
  end(): SniResult {
    if (this.decided) return this.decided;
    return this.size === 0 ? fail('not-tls', 'no bytes before the deadline') : fail('truncated', 'the ClientHello is incomplete');
  }
}
