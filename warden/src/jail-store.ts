// The jail's on-disk layout and the operator's actions on it (used by the warden to write and by
// `clawjail quarantine` to list, show, restore and purge).
//
//   <jail>/audit.log                        append-only JSON lines
//   <jail>/quarantine/<id>/content          the quarantined bytes, mode 0400
//   <jail>/quarantine/<id>/record.json      metadata (QuarantineRecord), mode 0400
//   <jail>/quarantine/.staging-<id>/        work in progress (recovered at warden start)

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

export function quarantineDir(jail: string): string {
  return path.join(jail, 'quarantine');
}

export function auditPath(jail: string): string {
  return path.join(jail, 'audit.log');
}

export function entryDir(jail: string, id: string): string {
  if (!QUARANTINE_ID.test(id)) throw new StoreError(`not a quarantine id: ${JSON.stringify(id)}`);
  return path.join(quarantineDir(jail), id);
}

export class StoreError extends Error {
  constructor(message: string, readonly code = 'EINVAL') {
    super(message);
    this.name = 'StoreError';
  }
}

// The CLI runs as root over a tree that uid 1000 (the warden, the prisoner's uid) owns: every
// directory below the jail is opened without following a symlink, and everything below it is
// reached through that descriptor (/proc/self/fd/<fd>/<name>), so that no swap of a directory for
// a symlink, before or during an operation, can point root at anything outside the jail.

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

function withEntry<T>(jail: string, id: string, fn: (entry: DirHandle) => T): T {
  const dir = entryDir(jail, id);
  let q: DirHandle;
  try {
    q = openDirNoFollow(quarantineDir(jail));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`no quarantine entry ${id} in ${quarantineDir(jail)}`, 'ENOENT');
    throw e;
  }
  let entry: DirHandle;
  try {
    entry = openDirNoFollow(q.at(path.basename(dir)));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError(`no quarantine entry ${id} in ${quarantineDir(jail)}`, 'ENOENT');
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
  try {
    if (fs.fstatSync(fd).size > RECORD_MAX_BYTES) throw new StoreError(`the record of ${id} is too large`, 'EBADTYPE');
    return JSON.parse(fs.readFileSync(fd, 'utf8')) as QuarantineRecord;
  } finally {
    fs.closeSync(fd);
  }
}

export function readRecord(jail: string, id: string): QuarantineRecord {
  return withEntry(jail, id, (entry) => readRecordIn(entry, id));
}

export function listRecords(jail: string): QuarantineRecord[] {
  let names: string[];
  try {
    const q = openDirNoFollow(quarantineDir(jail));
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
      out.push(readRecord(jail, n));
    } catch {
      /* an entry without a readable record is skipped; `show` reports it */
    }
  }
  return out;
}

/** Re-hash the stored content: does it still match the record? */
export async function verifyContent(jail: string, id: string): Promise<{ ok: boolean; sha256: string | null; size: number }> {
  const opened = withEntry(jail, id, (entry) => {
    const rec = readRecordIn(entry, id);
    try {
      return { rec, fd: openRegularIn(entry, 'content') };
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
 * Copy the content back without ever overwriting (O_EXCL), with the original permission bits
 * minus setuid/setgid/sticky. Either into `workspace` at the record's relative path, confined
 * to it and owned by the workspace's owner (never an owner the record names); or to `to`, a
 * place the operator chose, owned by whoever restores. The entry stays in the quarantine until
 * purged (restore loses nothing either). A tombstone the warden left there is removed.
 */
export async function restoreEntry(jail: string, id: string, dest: { workspace: string } | { to: Buffer }): Promise<RestoreResult> {
  const { rec, src } = withEntry(jail, id, (entry) => ({ rec: readRecordIn(entry, id), src: openRegularIn(entry, 'content') }));
  let dst: number | null = null;
  let dir: DirHandle | null = null;
  const mode = rec.original.mode ? parseInt(rec.original.mode, 8) & 0o777 : 0o644;
  const target = 'workspace' in dest ? restoreTarget(rec, dest.workspace) : dest.to;
  try {
    let owner: { uid: number; gid: number } | null = null;
    try {
      if ('workspace' in dest) {
        const root = Buffer.from(path.resolve(dest.workspace));
        dir = openConfinedDir(dirnameOf(target), root);
        const st = fs.statSync(root);
        owner = { uid: st.uid, gid: st.gid };
      }
      const at = dir ? dir.at(basenameOf(target)) : target;
      dst = fs.openSync(at, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new StoreError(`refusing to overwrite existing ${printablePath(target)}`, 'EEXIST');
      if (code === 'ENOENT') throw new StoreError(`the directory of ${printablePath(target)} does not exist`, 'ENOENT');
      throw e;
    }
    const h = crypto.createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const n = fs.readSync(src, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(dst, buf, off, n - off);
      pos += n;
    }
    const sha256 = h.digest('hex');
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
    const tombstoneRemoved = dir ? removeOwnTombstone(rec, dir) : false;
    return { target, sha256, tombstoneRemoved, ownerRestored };
  } finally {
    fs.closeSync(src);
    if (dst !== null) fs.closeSync(dst);
    dir?.close();
  }
}

/**
 * The directory `dir`, opened once and proved to lie inside `root`. A restore into a workspace
 * runs as root on the host, and every directory on the way is the prisoner's: any of them may be
 * a symlink to /etc. So the directory is opened, the kernel's name for what was opened is checked
 * against the workspace, and the file is created through /proc/self/fd/<fd>/: the check and the
 * use name the same directory, with no window for the prisoner to swap a symlink in between.
 */
export function openConfinedDir(dir: Buffer, root: Buffer): DirHandle {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new StoreError(`the directory ${printablePath(dir)} does not exist`, 'ENOENT');
    throw e;
  }
  try {
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`, { encoding: 'buffer' });
    const realRoot = fs.realpathSync(root, { encoding: 'buffer' });
    const inside = real.equals(realRoot) || (real.length > realRoot.length && real.subarray(0, realRoot.length + 1).equals(Buffer.concat([realRoot, Buffer.from('/')])));
    if (!inside) {
      throw new StoreError(
        `refusing to restore into ${printablePath(dir)}: it resolves to ${printablePath(real)}, outside the workspace ${printablePath(root)} (a directory on the way is a symlink)`,
        'EOUTSIDE',
      );
    }
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return handleOf(fd);
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

/** Removes `name` in `parent` and everything below it, only ever through descriptors. */
function removeTreeIn(parent: DirHandle, name: string): void {
  const st = fs.lstatSync(parent.at(name));
  if (!st.isDirectory()) {
    fs.unlinkSync(parent.at(name));
    return;
  }
  const dir = openDirNoFollow(parent.at(name));
  try {
    for (const child of fs.readdirSync(`/proc/self/fd/${dir.fd}`)) removeTreeIn(dir, child);
  } finally {
    dir.close();
  }
  fs.rmdirSync(parent.at(name));
}

/** Delete an entry for good (content and record). */
export function purgeEntry(jail: string, id: string): QuarantineRecord {
  const rec = readRecord(jail, id);
  const q = openDirNoFollow(quarantineDir(jail));
  try {
    // Rename first so a half-purged entry never looks like a live one.
    const doomed = `.purging-${id}`;
    fs.renameSync(q.at(path.basename(entryDir(jail, id))), q.at(doomed));
    removeTreeIn(q, doomed);
  } finally {
    q.close();
  }
  return rec;
}

function printablePath(p: Buffer): string {
  return recordPath(p).text;
}
