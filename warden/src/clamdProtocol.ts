// The clamd wire protocol, as pure functions: addresses, command framing, INSTREAM chunk framing
// and reply parsing. Only a definite "stream: OK" is clean; everything else that is not a
// signature match is unscannable (fail-closed), never clean.

export type ClamdEndpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export type Verdict =
  | { kind: 'clean' }
  | { kind: 'infected'; signature: string }
  | { kind: 'unscannable'; reason: UnscannableReason; detail: string };

export type UnscannableReason =
  | 'size-limit' // clamd: INSTREAM size limit exceeded
  | 'limits-exceeded' // clamd: Heuristics.Limits.Exceeded.* (AlertExceedsMax)
  | 'too-large' // larger than WARDEN_MAX_FILE_SIZE, not sent
  | 'clamd-error' // clamd answered ... ERROR
  | 'unexpected-reply'
  | 'timeout'
  | 'unreadable' // the warden could not read the file
  | 'unstable'; // kept changing during every scan

export function endpointToString(e: ClamdEndpoint): string {
  return e.kind === 'tcp' ? `tcp://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}` : `unix:${e.path}`;
}

/** "tcp://host:port" | "tcp://[v6]:port" | "unix:/path" | "unix:///path" */
export function parseEndpoint(raw: string): ClamdEndpoint {
  const s = raw.trim();
  if (s.startsWith('unix:')) {
    let p = s.slice('unix:'.length);
    if (p.startsWith('//')) p = p.slice(2);
    if (!p.startsWith('/')) throw new Error(`unix socket path must be absolute, got ${JSON.stringify(raw)}`);
    return { kind: 'unix', path: p };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})\/?$/.exec(s);
  if (!m) throw new Error(`expected tcp://host:port or unix:/path, got ${JSON.stringify(raw)}`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`port out of range in ${JSON.stringify(raw)}`);
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  return { kind: 'tcp', host, port };
}

/** A null-terminated command ("z" prefix): zPING\0, zVERSION\0, zINSTREAM\0 ... */
export function commandBytes(name: string): Buffer {
  return Buffer.from(`z${name}\0`, 'latin1');
}

/** One INSTREAM chunk: 4-byte big-endian length, then the bytes. */
export function chunkHeader(length: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(length, 0);
  return h;
}

/** The zero-length chunk that ends a stream. */
export const END_OF_STREAM: Buffer = Buffer.alloc(4);

/** Strip the terminator(s) clamd puts after a reply. */
export function trimReply(raw: string): string {
  return raw.replace(/[\0\r\n]+$/g, '').replace(/^[\0\r\n]+/, '');
}

export function parseScanReply(raw: string): Verdict {
  const reply = trimReply(raw);
  if (reply === 'stream: OK') return { kind: 'clean' };
  if (/size limit exceeded/i.test(reply)) return { kind: 'unscannable', reason: 'size-limit', detail: reply };
  const found = /^stream: (.+) FOUND$/.exec(reply);
  if (found) {
    const signature = found[1];
    if (/^Heuristics\.Limits\.Exceeded/.test(signature)) {
      return { kind: 'unscannable', reason: 'limits-exceeded', detail: signature };
    }
    return { kind: 'infected', signature };
  }
  if (/ERROR$/.test(reply)) return { kind: 'unscannable', reason: 'clamd-error', detail: reply };
  return { kind: 'unscannable', reason: 'unexpected-reply', detail: reply.slice(0, 200) };
}

export interface ClamdStats {
  threadsLive: number;
  threadsIdle: number;
  threadsMax: number;
  queueItems: number;
}

/** Parse the reply to zSTATS ("THREADS: live 1  idle 0 max 12 idle-timeout 30", "QUEUE: 0 items"). */
export function parseStats(raw: string): ClamdStats | null {
  const t = /THREADS:\s*live\s+(\d+)\s+idle\s+(\d+)\s+max\s+(\d+)/.exec(raw);
  if (!t) return null;
  const q = /QUEUE:\s*(\d+)\s+items/.exec(raw);
  return { threadsLive: +t[1], threadsIdle: +t[2], threadsMax: +t[3], queueItems: q ? +q[1] : 0 };
}
