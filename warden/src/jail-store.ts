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
import { RecordedPath, pathFromRecord, recordPath, joinPath, dirnameOf, basenameOf } from './paths';
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

export function readRecord(jail: string, id: string): QuarantineRecord {
  const dir = entryDir(jail, id);
  let raw: string;
  try {
    raw = fs.readFileSync(path.join(dir, 'record.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError(`no quarantine entry ${id} in ${quarantineDir(jail)}`, 'ENOENT');
    throw e;
  }
  return JSON.parse(raw) as QuarantineRecord;
}

export function listRecords(jail: string): QuarantineRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(quarantineDir(jail));
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
  const rec = readRecord(jail, id);
  let fd: number;
  try {
    fd = fs.openSync(path.join(entryDir(jail, id), 'content'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return { ok: false, sha256: null, size: 0 };
  }
  try {
    const h = await hashFd(fd);
    return { ok: rec.sha256 === null || h.sha256 === rec.sha256, sha256: h.sha256, size: h.bytes };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Where a restore writes: the record's relative path under `workspace` if given (the workspace
 * as this process sees it, e.g. the host path of the volume), else the original absolute path.
 */
export function restoreTarget(rec: QuarantineRecord, workspace?: string): Buffer {
  if (workspace) return joinPath(Buffer.from(path.resolve(workspace)), pathFromRecord(rec.original.relative));
  return pathFromRecord(rec.original.path);
}

/** The workspace a restore to restoreTarget(rec, workspace) must stay inside. */
export function restoreRoot(rec: QuarantineRecord, workspace?: string): Buffer {
  if (workspace) return Buffer.from(path.resolve(workspace));
  const full = pathFromRecord(rec.original.path);
  const rel = pathFromRecord(rec.original.relative);
  // The original path is <workspace>/<relative>.
  return full.length > rel.length + 1 ? full.subarray(0, full.length - rel.length - 1) : dirnameOf(full);
}

export interface RestoreResult {
  target: Buffer;
  sha256: string;
  tombstoneRemoved: boolean;
  ownerRestored: boolean;
}

/**
 * Copy the content back to `target` without ever overwriting (O_EXCL), with the original
 * permission bits minus setuid/setgid, owned by the original uid/gid where this process may
 * chown. The entry stays in the quarantine until purged (restore loses nothing either).
 * A tombstone the warden left at the original place is removed.
 */
export async function restoreEntry(jail: string, id: string, target: Buffer, opts: { within?: Buffer } = {}): Promise<RestoreResult> {
  const rec = readRecord(jail, id);
  const src = fs.openSync(path.join(entryDir(jail, id), 'content'), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  let dst: number | null = null;
  let dir: ConfinedDir | null = null;
  const mode = rec.original.mode ? parseInt(rec.original.mode, 8) & 0o777 : 0o644;
  try {
    try {
      dir = opts.within ? openConfinedDir(dirnameOf(target), opts.within) : null;
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
    if (rec.original.uid !== null && rec.original.gid !== null) {
      try {
        fs.fchownSync(dst, rec.original.uid, rec.original.gid);
        ownerRestored = true;
      } catch {
        /* not permitted: stays owned by whoever restores */
      }
    }
    fs.fchmodSync(dst, mode);
    fs.fsyncSync(dst);
    const tombstoneRemoved = removeOwnTombstone(rec, dir ? dir.at(Buffer.alloc(0)) : dirnameOf(target));
    return { target, sha256, tombstoneRemoved, ownerRestored };
  } finally {
    fs.closeSync(src);
    if (dst !== null) fs.closeSync(dst);
    dir?.close();
  }
}

interface ConfinedDir {
  /** A path to `name` in that very directory, whatever happens to the path it was opened by. */
  at(name: Buffer): Buffer;
  close(): void;
}

/**
 * The directory `dir`, opened once and proved to lie inside `root`. A restore into a workspace
 * runs as root on the host, and every directory on the way is the prisoner's: any of them may be
 * a symlink to /etc. So the directory is opened, the kernel's name for what was opened is checked
 * against the workspace, and the file is created through /proc/self/fd/<fd>/: the check and the
 * use name the same directory, with no window for the prisoner to swap a symlink in between.
 */
export function openConfinedDir(dir: Buffer, root: Buffer): ConfinedDir {
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
  const prefix = Buffer.from(`/proc/self/fd/${fd}/`);
  return { at: (name) => Buffer.concat([prefix, name]), close: () => fs.closeSync(fd) };
}

/** Remove the tombstone next to the restored file if it is still the warden's (header check). */
function removeOwnTombstone(rec: QuarantineRecord, dir: Buffer): boolean {
  if (!rec.tombstone) return false;
  const p = joinPath(dir, basenameOf(pathFromRecord(rec.tombstone)));
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

/** Delete an entry for good (content and record). */
export function purgeEntry(jail: string, id: string): QuarantineRecord {
  const rec = readRecord(jail, id);
  const dir = entryDir(jail, id);
  // Rename first so a half-purged entry never looks like a live one.
  const doomed = path.join(quarantineDir(jail), `.purging-${id}`);
  fs.renameSync(dir, doomed);
  fs.rmSync(doomed, { recursive: true, force: true });
  return rec;
}

function printablePath(p: Buffer): string {
  return recordPath(p).text;
}
