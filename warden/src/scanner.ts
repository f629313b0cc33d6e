// Scanning one path: never through a symlink, always by file descriptor.
//
// lstat decides what the path is; a regular file is opened with O_NOFOLLOW|O_NONBLOCK (a symlink
// or FIFO swapped in after the lstat cannot redirect or block us), fstat'ed, checked to still be
// inside the workspace (/proc/self/fd resolves what was really opened, so a directory swapped
// for a symlink halfway up the path is caught), then streamed to clamd while being hashed. A
// second fstat after the scan tells whether the file changed while it was read; the caller
// rescans in that case. The descriptor stays open for the caller (quarantine copies the very
// inode that was scanned, however the name is juggled meanwhile).

import * as fs from 'fs';
import * as crypto from 'crypto';
import { ClamdClient } from './clamdClient';
import { Verdict } from './clamdProtocol';
import { isWithin } from './paths';
import { ensureAncestorsAccess, ensureOwnerAccess } from './access';

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
}

export function identityOf(st: fs.BigIntStats): FileIdentity {
  return {
    dev: st.dev,
    ino: st.ino,
    size: st.size,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    nlink: Number(st.nlink),
  };
}

/** Same inode and same content state (size, mtime and ctime to the nanosecond). */
export function sameContent(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

export function sameInode(a: { dev: bigint; ino: bigint }, b: { dev: bigint; ino: bigint }): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export type ScanOutcome =
  | { kind: 'gone' }
  | { kind: 'symlink'; target: Buffer | null }
  | { kind: 'directory' }
  | { kind: 'special'; type: string }
  | { kind: 'raced'; why: string }
  | { kind: 'too-large'; ident: FileIdentity }
  | { kind: 'unreadable'; error: string; ident: FileIdentity | null }
  | {
      kind: 'scanned';
      verdict: Verdict;
      /** open read-only descriptor on the scanned inode; the caller must close it */
      fd: number;
      before: FileIdentity;
      after: FileIdentity;
      /** the file changed while it was being read */
      changed: boolean;
      sha256: string;
      bytes: number;
    };

export interface ScannerOptions {
  /** the workspace, resolved (realpath); opened files must resolve inside it */
  root: Buffer;
  maxFileSize: number;
  chunkSize: number;
  scanTimeoutMs: number;
  /** test hook: runs after the bytes were streamed, before the file is looked at again */
  afterRead?: (path: Buffer) => Promise<void> | void;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

export class Scanner {
  constructor(private readonly clamd: ClamdClient, private readonly opts: ScannerOptions) {}

  /** Throws ClamdUnavailableError when clamd cannot be reached; everything else is an outcome. */
  async scan(path: Buffer): Promise<ScanOutcome> {
    // Metadata calls and the first read are synchronous: on a local filesystem each takes a few
    // microseconds, while an asynchronous one costs two thread hand-offs (a wake-up of a libuv
    // pool thread and of the main thread), which on a machine busy with clamd's own threads was
    // most of the time a small file spent in the warden. None of them can block: a FIFO or device
    // is never opened (lstat), and is opened O_NONBLOCK if swapped in after the lstat.
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(path, { bigint: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a directory on the way was chmod'ed 000 by its owner (the prisoner's uid = ours)
      if (!((code === 'EACCES' || code === 'EPERM') && (await ensureAncestorsAccess(this.opts.root, path)))) return errnoOutcome(e);
      try {
        st = fs.lstatSync(path, { bigint: true });
      } catch (e2) {
        return errnoOutcome(e2);
      }
    }
    if (st.isSymbolicLink()) {
      let target: Buffer | null = null;
      try {
        target = await fs.promises.readlink(path, { encoding: 'buffer' });
      } catch {
        /* gone meanwhile */
      }
      return { kind: 'symlink', target };
    }
    if (st.isDirectory()) return { kind: 'directory' };
    if (!st.isFile()) return { kind: 'special', type: fileType(st) };
    const ident0 = identityOf(st);
    if (st.size > BigInt(this.opts.maxFileSize)) return { kind: 'too-large', ident: ident0 };

    const opened = await openNoFollow(path, ident0);
    if ('outcome' in opened) return opened.outcome;
    const fd = opened.fd;
    let keep = false;
    try {
      const before = identityOf(fs.fstatSync(fd, { bigint: true }));
      if (!sameInode(before, ident0)) return { kind: 'raced', why: 'replaced between lstat and open' };
      if (!isRegular(before.mode)) return { kind: 'raced', why: 'not a regular file any more' };
      const where = openedPath(fd);
      if (where && !isWithin(this.opts.root, where)) return { kind: 'raced', why: 'resolved outside the workspace' };

      const hash = crypto.createHash('sha256');
      let bytes = 0;
      let overflow = false;
      let eof = false;
      const limit = this.opts.maxFileSize;
      const chunkSize = this.opts.chunkSize;
      const expected = Number(before.size);
      async function* chunks(): AsyncGenerator<Buffer> {
        let pos = 0;
        for (;;) {
          // size the buffer to what is left (+1 to see EOF in the same read): small files take
          // small (pooled) buffers instead of a fresh 64 KiB each, which keeps RSS flat in a flood
          const buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(1024, expected - pos + 1)));
          // synchronously: one chunk from the page cache takes microseconds, a trip through the
          // pool costs more than that; the loop is never held longer than one chunk
          const n = fs.readSync(fd, buf, 0, buf.length, pos);
          if (n === 0) {
            eof = true;
            return;
          }
          const chunk = buf.subarray(0, n);
          hash.update(chunk);
          bytes += n;
          pos += n;
          if (bytes > limit) {
            overflow = true;
            return;
          }
          yield chunk;
        }
      }
      const verdict = await this.clamd.instream(chunks(), this.opts.scanTimeoutMs);
      if (this.opts.afterRead) await this.opts.afterRead(path);
      const after = identityOf(fs.fstatSync(fd, { bigint: true }));
      // Grew past the limit while being read: too large, unless what was read is already malware.
      if (overflow && verdict.kind !== 'infected') return { kind: 'too-large', ident: after };
      // Read to the end: the byte count must match the size seen at open. Stopped early (clamd
      // answered before the end, e.g. a size limit): only the inode's state can tell.
      const changed = overflow || !sameContent(before, after) || (eof && BigInt(bytes) !== before.size);
      keep = true;
      return { kind: 'scanned', verdict, fd, before, after, changed, sha256: hash.digest('hex'), bytes };
    } catch (e) {
      if ((e as Error).name === 'SourceError') {
        return { kind: 'unreadable', error: (e as Error).message, ident: ident0 };
      }
      throw e;
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }
}

type OpenResult = { fd: number } | { outcome: ScanOutcome };

/**
 * Open without following a final symlink. If permission is denied on a file the warden owns
 * (the prisoner and the warden share uid 1000, and the prisoner can chmod 000), add the owner's
 * read bit and try again; see access.ts for why that is safe.
 */
async function openNoFollow(path: Buffer, ident: FileIdentity): Promise<OpenResult> {
  try {
    return { fd: fs.openSync(path, OPEN_FLAGS) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      if (await ensureOwnerAccess(path, 0o400, ident)) {
        try {
          return { fd: fs.openSync(path, OPEN_FLAGS) };
        } catch (e2) {
          return { outcome: errnoOutcome(e2, ident) };
        }
      }
    }
    return { outcome: errnoOutcome(e, ident) };
  }
}

function errnoOutcome(e: unknown, ident: FileIdentity | null = null): ScanOutcome {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'gone' };
  if (code === 'ELOOP') return { kind: 'raced', why: 'became a symlink' };
  if (code === 'ENXIO' || code === 'EWOULDBLOCK' || code === 'EAGAIN') return { kind: 'raced', why: code };
  return { kind: 'unreadable', error: `${code ?? ''} ${(e as Error).message}`.trim(), ident };
}

function fileType(st: fs.BigIntStats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

export function isRegular(mode: number): boolean {
  return (mode & fs.constants.S_IFMT) === fs.constants.S_IFREG;
}

/** What a descriptor really refers to (Linux /proc); null where /proc is unavailable. */
export function openedPath(fd: number): Buffer | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' });
  } catch {
    return null;
  }
}

export function fsOpen(path: Buffer | string, flags: number, mode?: number): Promise<number> {
  return new Promise((res, rej) => fs.open(path, flags, mode, (e, fd) => (e ? rej(e) : res(fd))));
}

export function fstat(fd: number): Promise<fs.BigIntStats> {
  return new Promise((res, rej) => fs.fstat(fd, { bigint: true }, (e, st) => (e ? rej(e) : res(st))));
}

export function pread(fd: number, buf: Buffer, pos: number): Promise<number> {
  return new Promise((res, rej) => fs.read(fd, buf, 0, buf.length, pos, (e, n) => (e ? rej(e) : res(n))));
}

/** sha256 of a descriptor's whole content from offset 0 (the descriptor's own offset is untouched). */
export async function hashFd(fd: number, chunkSize = 1 << 20): Promise<{ sha256: string; bytes: number }> {
  const h = crypto.createHash('sha256');
  // sized to the file (+1 to see EOF in the same read): a small file takes a small pooled buffer
  // and one synchronous read, not a fresh 1 MiB buffer and two trips through the pool
  const size = Number(fs.fstatSync(fd).size);
  const buf = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(1024, size + 1)));
  let pos = 0;
  for (;;) {
    const n = pos === 0 || pos === size ? fs.readSync(fd, buf, 0, buf.length, pos) : await pread(fd, buf, pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return { sha256: h.digest('hex'), bytes: pos };
}

/** Stream a descriptor's content (for rescanning a quarantined copy). */
export async function* fdChunks(fd: number, chunkSize: number): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(chunkSize);
    const n = await pread(fd, buf, pos);
    if (n === 0) return;
    pos += n;
    yield buf.subarray(0, n);
  }
}
