// Moving a file into the quarantine store without losing anything, whatever the prisoner does meanwhile.
//
// Two methods:
//  - rename, when the workspace and the quarantine store share a filesystem and the file has one link: the
//    name leaves the workspace atomically; the moved inode is then hashed and, if it is not what
//    was scanned (rewritten between scan and move, or swapped), rescanned: if clean it goes back.
//  - copy, across filesystems (the production case: two Docker volumes) or for a hardlinked file
//    (renaming would drag the other links' inode into the quarantine store and chmod it for them): the inode
//    that was scanned is copied from the scan's own descriptor into a new warden-owned file,
//    fsync'ed, checked (hash, rescan if different), and only then is the workspace name unlinked,
//    and only if it still names that inode. If the inode changed between copy and unlink (the
//    prisoner writing through an open descriptor), it is copied again: after the unlink only the
//    prisoner's descriptors and ours reach it.
//
// Every step happens in <store>/quarantine/.staging-<id>/ with an intent.json written first; the
// directory is renamed to <id> once content and record are durable. A warden that dies midway
// finishes or discards staging entries at the next start (recover()).

import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { Verdict } from './clamdProtocol';
import { FileIdentity, identityOf, sameInode, fstat, fsOpen, pread, hashFd, isRegular } from './scanner';
import { QuarantineRecord, RECORD_VERSION, quarantineDir } from './quarantineStore';
import { basenameOf, dirnameOf, joinPath, printable, recordPath, relativeTo } from './paths';
import { describeVerdict, quarantineId, tombstoneName, tombstoneText } from './policy';
import { ensureOwnerAccess } from './access';
import type { Logger } from '@clawjail/log';

export interface QuarantineInput {
  path: Buffer;
  /** read-only descriptor on the inode that was scanned, if there is one (not closed here) */
  fd: number | null;
  ident: FileIdentity | null;
  scannedSha256: string | null;
  verdict: Exclude<Verdict, { kind: 'clean' }>;
}

export type QuarantineResult =
  | { kind: 'quarantined'; record: QuarantineRecord }
  /** the content changed to something clean before it could be moved: rescan the path */
  | { kind: 'not-needed'; why: string }
  /** the name no longer refers to what was scanned: rescan the path */
  | { kind: 'raced'; why: string }
  | { kind: 'failed'; error: string };

export interface QuarantineOptions {
  /** the workspace root (realpath) */
  root: Buffer;
  /** the quarantine store (realpath) */
  store: string;
  /** rescan a descriptor's content; may throw ClamdUnavailableError */
  rescan: (fd: number) => Promise<Verdict>;
  logger: Logger;
  now?: () => Date;
  /** force the copy method (tests) */
  forceCopy?: boolean;
}

const RW_NEW = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const RO = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

export class Quarantine {
  readonly dir: string;
  private storeDev: bigint | null = null;
  private readonly now: () => Date;

  constructor(private readonly opts: QuarantineOptions) {
    this.dir = quarantineDir(opts.store);
    this.now = opts.now ?? (() => new Date());
  }

  async init(): Promise<QuarantineRecord[]> {
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await fs.promises.chmod(this.dir, 0o700);
    this.storeDev = (await fs.promises.stat(this.dir, { bigint: true })).dev;
    return this.recover();
  }

  async quarantine(input: QuarantineInput): Promise<QuarantineResult> {
    const id = quarantineId(this.now(), crypto.randomBytes(4));
    const staging = path.join(this.dir, `.staging-${id}`);
    const content = path.join(staging, 'content');
    let ownFd: number | null = null;
    let fd = input.fd;
    try {
      if (fd === null) {
        try {
          ownFd = await this.openForQuarantine(input.path);
        } catch {
          return { kind: 'raced', why: 'gone before it could be moved' };
        }
        fd = ownFd;
      }
      const st = fd !== null ? identityOf(await fstat(fd)) : input.ident;
      if (fd !== null && st && !isRegular(st.mode)) return { kind: 'raced', why: 'not a regular file' };
      await fs.promises.mkdir(staging, { mode: 0o700 });
      await writeJson(path.join(staging, 'intent.json'), this.intent(id, input, st), 0o600);

      const sameFs = !this.opts.forceCopy && st !== null && this.storeDev !== null && st.dev === this.storeDev && st.nlink <= 1;
      let moved: Moved | { kind: 'exdev' } | Exclude<QuarantineResult, { kind: 'quarantined' }>;
      if (sameFs || fd === null) {
        moved = await this.byRename(input, content);
        if (moved.kind === 'exdev' && fd !== null) moved = await this.byCopy(input, fd, st as FileIdentity, content);
      } else {
        moved = await this.byCopy(input, fd, st as FileIdentity, content);
      }
      if (moved.kind === 'exdev') moved = { kind: 'failed', error: 'cannot move across filesystems and cannot read the file to copy it' };
      if (moved.kind !== 'moved') {
        await fs.promises.rm(staging, { recursive: true, force: true });
        return moved;
      }
      // byRename/byCopy made the content durable in the quarantine store (its bytes, its name in staging,
      // staging's name in quarantine/) before the name left the workspace or, at the latest,
      // before here: only now does the tombstone say it was moved.
      const verdict = moved.verdict;
      const tombstone = moved.status === 'held' ? null : await this.writeTombstone(input.path, id, verdict, moved.sha256, moved.size);
      const record: QuarantineRecord = {
        version: RECORD_VERSION,
        id,
        time: this.now().toISOString(),
        status: moved.status,
        verdict: verdict.kind === 'infected' ? 'infected' : 'unscannable',
        signature: verdict.kind === 'infected' ? verdict.signature : null,
        reason: describeVerdict(verdict),
        original: this.originalFacts(input.path, st),
        sha256: moved.sha256,
        size: moved.size,
        scannedSha256: input.scannedSha256,
        method: moved.method,
        tombstone: tombstone ? recordPath(tombstone) : null,
        notes: moved.notes,
      };
      await writeJson(path.join(staging, 'record.json'), record, 0o400);
      await fs.promises.unlink(path.join(staging, 'intent.json'));
      await fsyncDir(staging);
      await fs.promises.rename(staging, path.join(this.dir, id));
      await fsyncDir(this.dir);
      return { kind: 'quarantined', record };
    } catch (e) {
      this.opts.logger.error('quarantine failed', { path: printable(input.path), error: e });
      // Leave a staging dir that holds content for recover(); drop an empty one.
      if (!(await exists(content))) await fs.promises.rm(staging, { recursive: true, force: true }).catch(() => {});
      return { kind: 'failed', error: (e as Error).message };
    } finally {
      if (ownFd !== null) fs.close(ownFd, () => {});
    }
  }

  private async openForQuarantine(p: Buffer): Promise<number | null> {
    try {
      return await fsOpen(p, RO);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'EACCES' || code === 'EPERM') && (await ensureOwnerAccess(p, 0o400))) {
        try {
          return await fsOpen(p, RO);
        } catch {
          return null;
        }
      }
      if (code === 'ENOENT') throw Object.assign(new Error('gone'), { code });
      return null;
    }
  }

  /** rename(2) the name into staging, then check what was actually moved. */
  private async byRename(input: QuarantineInput, content: string): Promise<Moved | { kind: 'exdev' } | Exclude<QuarantineResult, { kind: 'quarantined' }>> {
    const parent = dirnameOf(input.path);
    // A directory on the path swapped for a symlink would make rename() move something else.
    const real = await fs.promises.realpath(parent, { encoding: 'buffer' }).catch(() => null);
    if (!real || !real.equals(parent)) return { kind: 'raced', why: 'the directory changed (symlink or gone)' };
    try {
      await renameWithAccess(input.path, content, parent);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EXDEV') return { kind: 'exdev' };
      if (code === 'ENOENT') return { kind: 'raced', why: 'gone before it could be moved' };
      throw e;
    }
    const notes: string[] = [];
    const lst = await fs.promises.lstat(content, { bigint: true });
    if (!lst.isFile()) {
      // Swapped for a directory/symlink/fifo at the last moment: put it back where it was.
      await putBack(content, input.path, lst.isDirectory());
      return { kind: 'raced', why: `a ${lst.isDirectory() ? 'directory' : 'non-regular file'} took its place` };
    }
    let mfd: number;
    try {
      mfd = await fsOpen(content, RO);
    } catch {
      await fs.promises.chmod(content, 0o600);
      mfd = await fsOpen(content, RO);
    }
    try {
      const mst = identityOf(await fstat(mfd));
      const h = await hashFd(mfd);
      let verdict: QuarantineInput['verdict'] = input.verdict;
      let status: QuarantineRecord['status'] = 'quarantined';
      const swapped = input.ident !== null && !sameInode(mst, input.ident);
      const rewritten = input.scannedSha256 !== null && h.sha256 !== input.scannedSha256;
      if (swapped || rewritten) {
        const v = await this.rescanOrKeep(mfd, notes);
        if (v.kind === 'clean') {
          if (await linkBack(content, input.path)) return { kind: 'not-needed', why: 'rewritten to clean content before the move; put back' };
          status = 'held';
          notes.push('rewritten to clean content before the move, but its name was taken meanwhile: held for the operator');
        } else {
          verdict = v;
        }
      }
      await fchmod(mfd, 0o400).catch(() => fs.promises.chmod(content, 0o400));
      // The rename is durable before the tombstone is written.
      await this.syncStaging(content);
      return { kind: 'moved', method: 'rename', sha256: h.sha256, size: h.bytes, verdict, status, notes };
    } finally {
      fs.closeSync(mfd);
    }
  }

  private async byCopy(input: QuarantineInput, fd: number, st: FileIdentity, content: string): Promise<Moved | Exclude<QuarantineResult, { kind: 'quarantined' }>> {
    const notes: string[] = [];
    if (st.nlink > 1) notes.push(`had ${st.nlink} hard links: copied, the other links' inode was left untouched`);
    const cfd = await fsOpen(content, RW_NEW, 0o600);
    try {
      let copy = await copyFd(fd, cfd);
      const atCopy = identityOf(await fstat(fd));
      let verdict: QuarantineInput['verdict'] = input.verdict;
      if (copy.sha256 !== input.scannedSha256 && input.scannedSha256 !== null) {
        const v = await this.rescanOrKeep(cfd, notes);
        if (v.kind === 'clean') return { kind: 'not-needed', why: 'rewritten to clean content before the move' };
        verdict = v;
      }
      // Remove the workspace name only if it still names the inode we copied.
      let cur: fs.BigIntStats;
      try {
        cur = await fs.promises.lstat(input.path, { bigint: true });
      } catch {
        return { kind: 'raced', why: 'gone before it could be removed' };
      }
      if (!sameInode(identityOf(cur), atCopy)) return { kind: 'raced', why: 'replaced before it could be removed' };
      // The copy (bytes: fdatasync'ed by copyFd; its name and staging's) is durable in the quarantine store
      // before the workspace name is removed: across two filesystems nothing orders the two.
      await this.syncStaging(content);
      await unlinkWithAccess(input.path, dirnameOf(input.path));
      // Written between our copy and the unlink (through a descriptor the prisoner holds)? Compare
      // content, not timestamps: the unlink itself changes ctime, and mtime is coarse.
      if ((await hashFd(fd)).sha256 !== copy.sha256) {
        await ftruncate(cfd, 0);
        copy = await copyFd(fd, cfd);
        notes.push('modified while being quarantined: re-copied after its name was removed');
      }
      await fchmod(cfd, 0o400);
      await fdatasync(cfd);
      return { kind: 'moved', method: 'copy', sha256: copy.sha256, size: copy.bytes, verdict, status: 'quarantined', notes };
    } finally {
      fs.closeSync(cfd);
    }
  }

  /** fsync the staging directory (the content's name) and quarantine/ (staging's name), together. */
  private async syncStaging(content: string): Promise<void> {
    await Promise.all([fsyncDir(path.dirname(content)), fsyncDir(this.dir)]);
  }

  /** Rescan changed content. If clamd is unreachable the content stays quarantined (fail-closed). */
  private async rescanOrKeep(fd: number, notes: string[]): Promise<Verdict> {
    try {
      const v = await this.opts.rescan(fd);
      notes.push(`content changed between scan and move; rescanned: ${describeVerdict(v)}`);
      return v;
    } catch (e) {
      notes.push(`content changed between scan and move; rescan impossible (${(e as Error).message}): kept`);
      return { kind: 'unscannable', reason: 'clamd-error', detail: 'changed before the move and could not be rescanned' };
    }
  }

  private async writeTombstone(original: Buffer, id: string, verdict: Verdict, sha256: string | null, size: number): Promise<Buffer | null> {
    const dir = dirnameOf(original);
    const name = basenameOf(original);
    const text = tombstoneText({ name: printable(name), id, reason: describeVerdict(verdict), sha256, size, time: this.now().toISOString() });
    for (let attempt = 0; attempt < 4; attempt++) {
      const p = joinPath(dir, tombstoneName(name, id, attempt));
      try {
        const fd = await fsOpen(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o444);
        try {
          fs.writeSync(fd, text);
          await fchmod(fd, 0o444);
        } finally {
          fs.closeSync(fd);
        }
        return p;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENAMETOOLONG') continue;
        this.opts.logger.warn('could not write tombstone', { path: printable(p), error: e });
        return null;
      }
    }
    return null;
  }

  private intent(id: string, input: QuarantineInput, st: FileIdentity | null) {
    return {
      id,
      time: this.now().toISOString(),
      verdict: input.verdict,
      scannedSha256: input.scannedSha256,
      original: this.originalFacts(input.path, st),
    };
  }

  private originalFacts(p: Buffer, st: FileIdentity | null): QuarantineRecord['original'] {
    return {
      path: recordPath(p),
      relative: recordPath(relativeTo(this.opts.root, p)),
      workspace: printable(this.opts.root),
      uid: st ? st.uid : null,
      gid: st ? st.gid : null,
      mode: st ? (st.mode & 0o7777).toString(8).padStart(4, '0') : null,
      mtime: st ? new Date(Number(st.mtimeNs / 1000000n)).toISOString() : null,
      nlink: st ? st.nlink : null,
    };
  }

  /** Finish or discard staging entries left by a warden that died midway. */
  async recover(): Promise<QuarantineRecord[]> {
    const out: QuarantineRecord[] = [];
    for (const n of await fs.promises.readdir(this.dir)) {
      if (n.startsWith('.purging-')) {
        await fs.promises.rm(path.join(this.dir, n), { recursive: true, force: true });
        continue;
      }
      if (!n.startsWith('.staging-')) continue;
      const staging = path.join(this.dir, n);
      const id = n.slice('.staging-'.length);
      const content = path.join(staging, 'content');
      if (!(await exists(content))) {
        await fs.promises.rm(staging, { recursive: true, force: true });
        continue;
      }
      let intent: ReturnType<Quarantine['intent']> | null = null;
      try {
        intent = JSON.parse(await fs.promises.readFile(path.join(staging, 'intent.json'), 'utf8'));
      } catch {
        /* no intent: still keep the bytes */
      }
      const rec0 = await fs.promises.readFile(path.join(staging, 'record.json'), 'utf8').then((s) => JSON.parse(s) as QuarantineRecord).catch(() => null);
      await fs.promises.chmod(content, 0o400);
      const fd = await fsOpen(content, RO);
      let h: { sha256: string; bytes: number };
      try {
        h = await hashFd(fd);
      } finally {
        fs.closeSync(fd);
      }
      const verdict = intent?.verdict ?? { kind: 'unscannable' as const, reason: 'clamd-error' as const, detail: 'unknown (recovered)' };
      const record: QuarantineRecord = rec0 ?? {
        version: RECORD_VERSION,
        id,
        time: this.now().toISOString(),
        status: 'recovered',
        verdict: verdict.kind === 'infected' ? 'infected' : 'unscannable',
        signature: verdict.kind === 'infected' ? verdict.signature : null,
        reason: describeVerdict(verdict),
        original: intent?.original ?? { path: recordPath(Buffer.alloc(0)), relative: recordPath(Buffer.alloc(0)), workspace: printable(this.opts.root), uid: null, gid: null, mode: null, mtime: null, nlink: null },
        sha256: h.sha256,
        size: h.bytes,
        scannedSha256: intent?.scannedSha256 ?? null,
        method: 'recovered',
        tombstone: null,
        notes: ['the warden stopped while quarantining this file; finished at the next start'],
      };
      await fs.promises.rm(path.join(staging, 'record.json'), { force: true });
      await writeJson(path.join(staging, 'record.json'), record, 0o400);
      await fs.promises.rm(path.join(staging, 'intent.json'), { force: true });
      await fsyncDir(staging);
      const final = path.join(this.dir, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/.test(id) ? id : quarantineId(this.now(), crypto.randomBytes(4)));
      await fs.promises.rename(staging, final);
      await fsyncDir(this.dir);
      out.push(record);
    }
    return out;
  }
}

interface Moved {
  kind: 'moved';
  method: 'rename' | 'copy';
  sha256: string;
  size: number;
  verdict: Exclude<Verdict, { kind: 'clean' }>;
  status: QuarantineRecord['status'];
  notes: string[];
}

async function copyFd(from: number, to: number): Promise<{ sha256: string; bytes: number }> {
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  for (;;) {
    const n = await pread(from, buf, pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    let off = 0;
    while (off < n) off += await pwrite(to, buf.subarray(off, n), pos + off);
    pos += n;
  }
  await fdatasync(to);
  return { sha256: h.digest('hex'), bytes: pos };
}

async function renameWithAccess(from: Buffer, to: string, parent: Buffer): Promise<void> {
  try {
    await fs.promises.rename(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'EACCES' || code === 'EPERM') && (await ensureOwnerAccess(parent, 0o300))) return fs.promises.rename(from, to);
    throw e;
  }
}

async function unlinkWithAccess(p: Buffer, parent: Buffer): Promise<void> {
  try {
    await fs.promises.unlink(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'EACCES' || code === 'EPERM') && (await ensureOwnerAccess(parent, 0o300))) return fs.promises.unlink(p);
    throw e;
  }
}

/** Put a moved entry back at its name without overwriting anything; returns false if the name is taken. */
async function linkBack(from: string, to: Buffer): Promise<boolean> {
  try {
    await fs.promises.link(from, to);
  } catch {
    return false;
  }
  await fs.promises.unlink(from);
  return true;
}

async function putBack(from: string, to: Buffer, isDir: boolean): Promise<void> {
  if (!isDir) {
    if (await linkBack(from, to)) return;
  } else {
    const free = await fs.promises.lstat(to).then(() => false, () => true);
    if (free) {
      await fs.promises.rename(from, to);
      return;
    }
  }
  // Name taken: leave it in staging; recover() at next start keeps it for the operator.
  throw new Error('a swapped-in entry could not be put back (its name was taken); left in staging');
}

async function writeJson(file: string, value: unknown, mode: number): Promise<void> {
  const fd = await fsOpen(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  try {
    fs.writeSync(fd, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
    await fdatasync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await fsOpen(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await new Promise<void>((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())));
  } finally {
    fs.closeSync(fd);
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.promises.lstat(p).then(() => true, () => false);
}

const fchmod = (fd: number, mode: number) => new Promise<void>((res, rej) => fs.fchmod(fd, mode, (e) => (e ? rej(e) : res())));
const ftruncate = (fd: number, len: number) => new Promise<void>((res, rej) => fs.ftruncate(fd, len, (e) => (e ? rej(e) : res())));
const fdatasync = (fd: number) => new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
const pwrite = (fd: number, b: Buffer, pos: number) => new Promise<number>((res, rej) => fs.write(fd, b, 0, b.length, pos, (e, n) => (e ? rej(e) : res(n))));
