// Byte-exact paths. The workspace is written by an adversary: a file name is any byte string
// without '/' and NUL, and a JS string cannot carry invalid UTF-8 without losing bytes (Node
// decodes it to U+FFFD, and the lossy name then opens nothing). So every path the warden acts on
// is a Buffer, and everything it records keeps the bytes (base64) beside a printable form.

const SLASH = 0x2f;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function toBuffer(p: string | Buffer): Buffer {
  return Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8');
}

/** dir + '/' + name, without doubling a trailing slash of dir. */
export function joinPath(dir: Buffer, name: Buffer | string): Buffer {
  const n = toBuffer(name);
  if (dir.length > 0 && dir[dir.length - 1] === SLASH) return Buffer.concat([dir, n]);
  return Buffer.concat([dir, Buffer.from('/'), n]);
}

export function basenameOf(p: Buffer): Buffer {
  const i = p.lastIndexOf(SLASH);
  return i < 0 ? p : p.subarray(i + 1);
}

export function dirnameOf(p: Buffer): Buffer {
  const i = p.lastIndexOf(SLASH);
  if (i < 0) return Buffer.from('.');
  if (i === 0) return Buffer.from('/');
  return p.subarray(0, i);
}

/** True if the bytes are valid UTF-8, i.e. a JS string can stand for them losslessly. */
export function isUtf8(b: Buffer): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A map key that is a bijection of the bytes (latin1 maps each byte to one char). */
export function pathKey(p: Buffer): string {
  return p.toString('latin1');
}

/** True if p is root itself or below it (byte comparison, no resolution). */
export function isWithin(root: Buffer, p: Buffer): boolean {
  if (p.equals(root)) return true;
  const prefix = root[root.length - 1] === SLASH ? root : Buffer.concat([root, Buffer.from('/')]);
  return p.length > prefix.length && p.subarray(0, prefix.length).equals(prefix);
}

/** p relative to root ('' for root itself); p must be within root. */
export function relativeTo(root: Buffer, p: Buffer): Buffer {
  if (p.equals(root)) return Buffer.alloc(0);
  const skip = root[root.length - 1] === SLASH ? root.length : root.length + 1;
  return p.subarray(skip);
}

/**
 * A printable, single-line rendering: valid UTF-8 sequences stay as they are, control
 * characters and backslashes are escaped (\n, \t, \\, \xNN), and every byte that is not part of
 * valid UTF-8 becomes \xNN. Distinct byte strings give distinct renderings.
 */
export function printable(p: Buffer): string {
  let out = '';
  let i = 0;
  while (i < p.length) {
    const b = p[i];
    if (b < 0x80) {
      if (b === 0x5c) out += '\\\\';
      else if (b === 0x0a) out += '\\n';
      else if (b === 0x09) out += '\\t';
      else if (b === 0x0d) out += '\\r';
      else if (b < 0x20 || b === 0x7f) out += '\\x' + hex2(b);
      else out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    const len = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0;
    if (len > 0 && i + len <= p.length) {
      try {
        const ch = strictUtf8.decode(p.subarray(i, i + len));
        const cp = ch.codePointAt(0) ?? 0;
        // C1 controls and line/paragraph separators would still break a line of text.
        // Bidirectional overrides and isolates would reorder what the operator reads.
        if ((cp >= 0x80 && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
          for (let k = 0; k < len; k++) out += '\\x' + hex2(p[i + k]);
        } else {
          out += ch;
        }
        i += len;
        continue;
      } catch {
        // fall through: not a valid sequence
      }
    }
    out += '\\x' + hex2(b);
    i += 1;
  }
  return out;
}

/** A string from an untrusted record, rendered like a path: one line, no terminal controls. */
export function printableText(s: unknown): string {
  return printable(Buffer.from(String(s), 'utf8'));
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

/** The two forms every record carries for a path. */
export interface RecordedPath {
  /** printable rendering (see printable()); for humans, not for opening */
  text: string;
  /** the exact bytes, base64 */
  b64: string;
}

export function recordPath(p: Buffer): RecordedPath {
  return { text: printable(p), b64: p.toString('base64') };
}

export function pathFromRecord(r: RecordedPath): Buffer {
  return Buffer.from(r.b64, 'base64');
}
