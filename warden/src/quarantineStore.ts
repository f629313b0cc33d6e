// The quarantine store's on-disk layout and the operator's actions on it (used by the warden to write and by
// `clawjail quarantine` to list, show, restore and purge).
//
//   <store>/audit.log                        append-only JSON lines
//   <store>/quarantine/<id>/content          the quarantined bytes, mode 0400
//   <store>/quarantine/<id>/record.json      metadata (QuarantineRecord), mode 0400
//   <store>/quarantine/.staging-<id>/        work in progress (recovered at warden start)

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { RecordedPath, pathFromRecord, printable, recordPath, joinPath, dirnameOf, basenameOf } from './paths';
import { QUARANTINE_ID, TOMBSTONE_HEADER } from './policy';
import { hashFd } from './scanner';

export const RECORD_VERSION = 1;

export interface QuarantineRecord {
  version: number;
  id: string;
  /** when it was quarantined (ISO 8601) */
  time: string;
  /** quarantined: normal; recovered: finished after a warden crash; held: kept although it rescanned clean (its name was taken) */
  status: 'quarantined' | 'recovered' | 'held';
  verdict: 'infected' | 'unscannable';
  /** signature name for infected files, null otherwise */
  signature: string | null;
  /** human-readable reason */
  reason: string;
  original: {
    /** absolute path as the warden saw it */
    path: RecordedPath;
    /** path relative to the workspace root */
    relative: RecordedPath;
    /** the workspace root as the warden saw it */
    workspace: string;
    uid: number | null;
    gid: number | null;
    /** permission bits, e.g. "0755" */
    mode: string | null;
    mtime: string | null;
    nlink: number | null;
  };
  /** sha256 and size of the stored content */
  sha256: string | null;
  size: number;
  /** sha256 of the bytes clamd judged, if different from what is stored a rescan decided */
  scannedSha256: string | null;
  method: 'rename' | 'copy' | 'recovered';
  tombstone: RecordedPath | null;
  notes: string[];
}

export function quarantineDir(store: string): string {
  return path.join(store, 'quarantine');
}

export function auditPath(store: string): string {
  return path.join(store, 'audit.log');
}

export function entryDir(store: string, id: string): string {
  if (!QUARANTINE_ID.test(id)) throw new StoreError(`not a quarantine id: ${JSON.stringify(id)}`);
  return path.join(quarantineDir(store), id);
}

export class StoreError extends Error {
  constructor(message: string, readonly code = 'EINVAL') {
    super(message);
    this.name = 'StoreError';
  }
}

// The CLI runs as root over a tree that uid 1000 (the warden, the prisoner's uid) owns: every
// directory below the quarantine store is opened without following a symlink, and everything below it is
// reached through that descriptor (/proc/self/fd/<fd>/<name>), so that no swap of a directory for
// a symlink, before or during an operation, can point root at anything outside the quarantine store.

/** A directory held open; `at(name)` names an entry of that very directory. */
export interface DirHandle {
  readonly fd: number;
  at(name: string | Buffer): Buffer;
  close(): void;
}

function handleOf(fd: number): DirHandle {
  const prefix = Buffer.from(`/proc/self/fd/${fd}/`);
  return { fd, at: (name) => Buffer.concat([prefix, typeof name === 'string' ? Buffer.from(name) : name]), close: () => fs.closeSync(fd) };
}

/** Opens a directory; a symlink as its last component is refused (ELOOP). */
export function openDirNoFollow(p: string | Buffer): DirHandle {
  return handleOf(fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW));
}

const RECORD_MAX_BYTES = 1 << 20;

/**
 * The stored bytes of an entry: a regular file with one link, owned like its entry directory (so
 * never a hard link to some other file on the quarantine store's filesystem, a root-only one say).
 */
function openContentIn(entry: DirHandle, id: string): number {
  const fd = openRegularIn(entry, 'content');
  const st = fs.fstatSync(fd);
  const dir = fs.fstatSync(entry.fd);
  if (st.nlink !== 1 || st.uid !== dir.uid) {
    fs.closeSync(fd);
    throw new StoreError(`the content of ${id} is not the warden's own file (links ${st.nlink}, owner ${st.uid}): refusing`, 'EBADTYPE');
  }
  return fd;
}

/** A regular file of an open directory, opened for reading: never a symlink, FIFO or device. */
function openRegularIn(dir: DirHandle, name: string): number {
  let fd: number;
  try {
    fd = fs.openSync(dir.at(name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new StoreError(`${name} is a symlink: refusing`, 'EBADTYPE');
    throw e;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new StoreError(`${name} is not a regular file`, 'EBADTYPE');
  }
  return fd;
}

function withEntry<T>(store: string, id: string, fn: (entry: DirHandle) => T): T {
  const dir = entryDir(store, id);
  let q: DirHandle;
  try {
    q = openDirNoFollow(quarantineDir(store));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`no quarantine entry ${id} in ${quarantineDir(store)}`, 'ENOENT');
    throw e;
  }
  let entry: DirHandle;
  try {
    entry = openDirNoFollow(q.at(path.basename(dir)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError(`no quarantine entry ${id} in ${quarantineDir(store)}`, 'ENOENT');
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new StoreError(`quarantine entry ${id} is not a directory (a symlink?): refusing`, 'EBADTYPE');
    throw e;
  } finally {
    q.close();
  }
  try {
    return fn(entry);
  } finally {
    entry.close();
  }
}

function readRecordIn(entry: DirHandle, id: string): QuarantineRecord {
  let fd: number;
  try {
    fd = openRegularIn(entry, 'record.json');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`quarantine entry ${id} has no record`, 'ENOENT');
    throw e;
  }
  let text: string;
  try {
    // Read at most the limit and one byte more, whatever fstat said a moment ago.
    const buf = Buffer.alloc(RECORD_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = fs.readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
      if (n > RECORD_MAX_BYTES) throw new StoreError(`the record of ${id} is too large`, 'EBADRECORD');
    }
    text = buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new StoreError(`the record of ${id} is not JSON`, 'EBADRECORD');
  }
  return parseRecord(raw, id);
}

/**
 * A record as the warden writes it, or an error naming the first field that is not. The warden
 * shares the prisoner's uid, so the root CLI takes nothing in a record on trust, not even its id.
 */
export function parseRecord(raw: unknown, id: string): QuarantineRecord {
  const bad = (field: string): never => {
    throw new StoreError(`the record of ${id} is malformed (${field}): refusing`, 'EBADRECORD');
  };
  const obj = (v: unknown, f: string) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(f));
  const str = (v: unknown, f: string) => (typeof v === 'string' && v.length <= 4096 ? v : bad(f));
  const strOrNull = (v: unknown, f: string) => (v === null ? null : str(v, f));
  const int = (v: unknown, f: string) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : bad(f));
  const intOrNull = (v: unknown, f: string) => (v === null || v === undefined ? null : int(v, f));
  const oneOf = <T extends string>(v: unknown, f: string, allowed: readonly T[]) => (allowed.includes(v as T) ? (v as T) : bad(f));
  const recorded = (v: unknown, f: string): RecordedPath => {
    const o = obj(v, f);
    const b64 = str(o.b64, `${f}.b64`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) bad(`${f}.b64`);
    return { text: str(o.text, `${f}.text`), b64 };
  };
  const r = obj(raw, 'record');
  if (r.id !== id) bad('id: not the name of its directory');
  const o = obj(r.original, 'original');
  const sha = strOrNull(r.sha256, 'sha256');
  if (sha !== null && !/^[0-9a-f]{64}$/.test(sha)) bad('sha256');
  const mode = strOrNull(o.mode, 'original.mode');
  if (mode !== null && !/^0?[0-7]{3,4}$/.test(mode)) bad('original.mode');
  if (!Array.isArray(r.notes) || r.notes.length > 100) bad('notes');
  return {
    version: int(r.version, 'version'),
    id,
    time: str(r.time, 'time'),
    status: oneOf(r.status, 'status', ['quarantined', 'recovered', 'held'] as const),
    verdict: oneOf(r.verdict, 'verdict', ['infected', 'unscannable'] as const),
    signature: strOrNull(r.signature, 'signature'),
    reason: str(r.reason, 'reason'),
    original: {
      path: recorded(o.path, 'original.path'),
      relative: recorded(o.relative, 'original.relative'),
      workspace: str(o.workspace, 'original.workspace'),
      uid: intOrNull(o.uid, 'original.uid'),
      gid: intOrNull(o.gid, 'original.gid'),
      mode,
      mtime: strOrNull(o.mtime ?? null, 'original.mtime'),
      nlink: intOrNull(o.nlink, 'original.nlink'),
    },
    sha256: sha,
    size: int(r.size, 'size'),
    scannedSha256: strOrNull(r.scannedSha256 ?? null, 'scannedSha256'),
    method: oneOf(r.method, 'method', ['rename', 'copy', 'recovered'] as const),
    tombstone: r.tombstone === null || r.tombstone === undefined ? null : recorded(r.tombstone, 'tombstone'),
    notes: (r.notes as unknown[]).map((n, i) => str(n, `notes[${i}]`)),
  };
}

export function readRecord(store: string, id: string): QuarantineRecord {
  return withEntry(store, id, (entry) => readRecordIn(entry, id));
}

export function listRecords(store: string): QuarantineRecord[] {
  let names: string[];
  try {
    const q = openDirNoFollow(quarantineDir(store));
    try {
      names = fs.readdirSync(`/proc/self/fd/${q.fd}`);
    } finally {
      q.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: QuarantineRecord[] = [];
  for (const n of names.filter((n) => QUARANTINE_ID.test(n)).sort()) {
    try {
      out.push(readRecord(store, n));
    } catch {
      /* an entry without a readable record is skipped; `show` reports it */
    }
  }
  return out;
}

/** Re-hash the stored content: does it still match the record? */
export async function verifyContent(store: string, id: string): Promise<{ ok: boolean; sha256: string | null; size: number }> {
  const opened = withEntry(store, id, (entry) => {
    const rec = readRecordIn(entry, id);
    try {
      return { rec, fd: openContentIn(entry, id) };
    } catch {
      return { rec, fd: null };
    }
  });
  if (opened.fd === null) return { ok: false, sha256: null, size: 0 };
  try {
    const h = await hashFd(opened.fd);
    return { ok: opened.rec.sha256 === null || h.sha256 === opened.rec.sha256, sha256: h.sha256, size: h.bytes };
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * The record's relative path, checked: the record was written by the warden, which shares the
 * prisoner's uid, so it is not trusted to name a place; only a plain relative path is accepted.
 */
export function recordRelativePath(rec: QuarantineRecord): Buffer {
  const rel = pathFromRecord(rec.original.relative);
  const parts = rel.toString('latin1').split('/');
  if (rel.length === 0 || rel[0] === 0x2f || parts.some((x) => x === '' || x === '.' || x === '..') || rel.includes(0)) {
    throw new StoreError(`the record's relative path ${JSON.stringify(printable(rel))} is not a plain path inside the workspace: refusing`, 'EBADPATH');
  }
  return rel;
}

/** Where a restore into `workspace` (the workspace as this process sees it) writes. */
export function restoreTarget(rec: QuarantineRecord, workspace: string): Buffer {
  return joinPath(Buffer.from(path.resolve(workspace)), recordRelativePath(rec));
}

export interface RestoreResult {
  target: Buffer;
  sha256: string;
  tombstoneRemoved: boolean;
  ownerRestored: boolean;
}

/**
 * The directory of `rel` (a plain relative path, see recordRelativePath) under `root`, walked one
 * component at a time, each opened through the previous one's descriptor without following a
 * symlink: a restore runs as root, and every directory below the workspace root is the
 * prisoner's, any of which may be a symlink (to /etc, or into another mount namespace).
 */
export function openWorkspaceDir(root: string, rel: Buffer): DirHandle {
  let dir = handleOf(fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
  const parent = dirnameOf(rel);
  const parts = parent.equals(Buffer.from('.')) ? [] : splitPath(parent);
  try {
    for (const part of parts) {
      let next: DirHandle;
      try {
        next = openDirNoFollow(dir.at(part));
      } catch (e) {
        // With O_DIRECTORY, a symlink is reported as ENOTDIR rather than ELOOP: tell them apart.
        const isLink = (() => {
          try {
            return fs.lstatSync(dir.at(part)).isSymbolicLink();
          } catch {
            return false;
          }
        })();
        if (isLink) throw Object.assign(new Error('symlink'), { code: 'ELOOP' });
        throw e;
      }
      dir.close();
      dir = next;
    }
  } catch (e) {
    dir.close();
    const code = (e as NodeJS.ErrnoException).code;
    const where = printablePath(joinPath(Buffer.from(root), parent));
    if (code === 'ELOOP') throw new StoreError(`refusing to restore into ${where}: a directory on the way is a symlink`, 'EOUTSIDE');
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new StoreError(`the directory ${where} does not exist`, 'ENOENT');
    throw e;
  }
  return dir;
}

function splitPath(p: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    if (i === p.length || p[i] === 0x2f) {
      if (i > start) out.push(p.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * Copy the content of `rec` (as the caller read and showed it) back without ever overwriting,
 * and only if it is still what the record says: the bytes go to a temporary name in the target
 * directory, are checked against the record's size and sha256, and are then linked into place
 * (link(2) fails rather than replace anything). Either into `workspace` at the record's relative
 * path, confined to it, owned by the workspace's owner (never an owner the record names), mode at
 * most 0755; or to `to`, a place the operator chose, mode 0600, owned by whoever restores. The
 * entry stays in the quarantine until purged. A tombstone the warden left there is removed.
 */
export async function restoreEntry(store: string, rec: QuarantineRecord, dest: { workspace: string } | { to: Buffer }): Promise<RestoreResult> {
  const src = withEntry(store, rec.id, (entry) => openContentIn(entry, rec.id));
  let dir: DirHandle | null = null;
  let tmp: Buffer | null = null;
  let dst: number | null = null;
  const target = 'workspace' in dest ? restoreTarget(rec, dest.workspace) : dest.to;
  try {
    let owner: { uid: number; gid: number } | null = null;
    let mode = 0o600;
    try {
      if ('workspace' in dest) {
        dir = openWorkspaceDir(path.resolve(dest.workspace), recordRelativePath(rec));
        const st = fs.statSync(path.resolve(dest.workspace));
        owner = { uid: st.uid, gid: st.gid };
        mode = (rec.original.mode ? parseInt(rec.original.mode, 8) : 0o644) & 0o755;
      } else {
        dir = handleOf(fs.openSync(dirnameOf(dest.to), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
      }
      tmp = Buffer.from(`.clawjail-restore.${crypto.randomBytes(8).toString('hex')}`);
      dst = fs.openSync(dir.at(tmp), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`the directory of ${printablePath(target)} does not exist`, 'ENOENT');
      throw e;
    }
    const h = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(src, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      if (pos > rec.size) break; // more than the record says: refused below, not copied on
      h.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(dst, buf, off, n - off);
    }
    const sha256 = h.digest('hex');
    if (pos !== rec.size || (rec.sha256 !== null && sha256 !== rec.sha256)) {
      throw new StoreError(
        `the stored content of ${rec.id} does not match its record (${pos > rec.size ? `over ${rec.size}` : pos} bytes, record ${rec.size}; ` +
          `sha256 ${pos > rec.size ? 'not computed' : sha256}, record ${rec.sha256}): refusing to restore it; it stays in the quarantine for inspection`,
        'EMISMATCH',
      );
    }
    let ownerRestored = false;
    if (owner) {
      try {
        fs.fchownSync(dst, owner.uid, owner.gid);
        ownerRestored = true;
      } catch {
        /* not permitted: stays owned by whoever restores */
      }
    }
    fs.fchmodSync(dst, mode);
    fs.fsyncSync(dst);
    try {
      fs.linkSync(dir.at(tmp), dir.at(basenameOf(target)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError(`refusing to overwrite existing ${printablePath(target)}`, 'EEXIST');
      throw e;
    }
    const tombstoneRemoved = 'workspace' in dest ? removeOwnTombstone(rec, dir) : false;
    return { target, sha256, tombstoneRemoved, ownerRestored };
  } finally {
    fs.closeSync(src);
    if (dst !== null) fs.closeSync(dst);
    if (dir && tmp) {
      try {
        fs.unlinkSync(dir.at(tmp));
      } catch {
        /* never created */
      }
    }
    dir?.close();
  }
}

/** Remove the tombstone beside the restored file if it is still the warden's (header check). */
function removeOwnTombstone(rec: QuarantineRecord, dir: DirHandle): boolean {
  if (!rec.tombstone) return false;
  const name = basenameOf(pathFromRecord(rec.tombstone));
  if (name.length === 0 || name.includes(0x2f)) return false;
  const p = dir.at(name);
  try {
    const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > 64 * 1024) return false;
      const head = Buffer.alloc(TOMBSTONE_HEADER.length);
      fs.readSync(fd, head, 0, head.length, 0);
      if (head.toString('utf8') !== TOMBSTONE_HEADER || !fs.readFileSync(fd, 'utf8').includes(rec.id)) return false;
    } finally {
      fs.closeSync(fd);
    }
    fs.unlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The warden writes flat entries; deeper than this is not one of its entries. */
const PURGE_MAX_DEPTH = 16;

function checkDepthIn(parent: DirHandle, name: Buffer, depth = 0): void {
  if (!fs.lstatSync(parent.at(name)).isDirectory()) return;
  if (depth >= PURGE_MAX_DEPTH) throw new StoreError('the entry is nested deeper than the warden ever writes: refusing', 'EBADTYPE');
  const dir = openDirNoFollow(parent.at(name));
  try {
    for (const child of fs.readdirSync(`/proc/self/fd/${dir.fd}`, { encoding: 'buffer' })) checkDepthIn(dir, child, depth + 1);
  } finally {
    dir.close();
  }
}

/** Removes `name` in `parent` and everything below it, only ever through descriptors. */
function removeTreeIn(parent: DirHandle, name: Buffer, depth = 0): void {
  const st = fs.lstatSync(parent.at(name));
  if (!st.isDirectory()) {
    fs.unlinkSync(parent.at(name));
    return;
  }
  if (depth >= PURGE_MAX_DEPTH) throw new StoreError('the entry is nested deeper than the warden ever writes: refusing', 'EBADTYPE');
  const dir = openDirNoFollow(parent.at(name));
  try {
    for (const child of fs.readdirSync(`/proc/self/fd/${dir.fd}`, { encoding: 'buffer' })) removeTreeIn(dir, child, depth + 1);
  } finally {
    dir.close();
  }
  fs.rmdirSync(parent.at(name));
}

/** Delete an entry for good (content and record). */
export function purgeEntry(store: string, id: string): QuarantineRecord {
  const rec = readRecord(store, id);
  const q = openDirNoFollow(quarantineDir(store));
  const live = path.basename(entryDir(store, id));
  // Renamed first so a half-purged entry never looks like a live one.
  const doomed = `.purging-${id}`;
  try {
    fs.renameSync(q.at(live), q.at(doomed));
    try {
      // Refuse before deleting anything, so that a refused entry keeps its record.
      checkDepthIn(q, Buffer.from(doomed));
      removeTreeIn(q, Buffer.from(doomed));
    } catch (e) {
      // Put what is left back where `list` shows it, and say why it stays.
      try {
        fs.renameSync(q.at(doomed), q.at(live));
      } catch {
        /* gone after all, or the name is taken again */
      }
      if (e instanceof StoreError) throw e;
      throw new StoreError(`could not purge ${id}: ${(e as Error).message}`, 'EPURGE');
    }
  } finally {
    q.close();
  }
  return rec;
}

function printablePath(p: Buffer): string {
  return recordPath(p).text;
}
