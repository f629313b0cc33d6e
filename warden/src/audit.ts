// The audit log: <store>/audit.log, JSON lines, append-only. Opened with O_APPEND and never
// truncated, rewritten or rotated by the warden. Each line is written at once, with one write()
// (to the page cache: microseconds, so the log reads in the order things happened); syncs are
// group-committed: one fdatasync covers every line written before it started, and each append
// promise resolves only after a sync that covers its line. One sync at a time, and a new one
// starts at most every COMMIT_INTERVAL_MS (the first line after a quiet spell is synced at
// once): lines written meanwhile share the next one. A flood of clean verdicts costs one sync per
// interval, not one (or one per few) per file; on a 2-core machine each sync also costs the
// kernel's journal thread and the virtual disk CPU that clamd needs. The quarantine volume is mounted
// in the warden only, so the prisoner can neither read nor write it.

import * as fs from 'fs';
import * as path from 'path';
import { jsonSafe } from '@clawjail/log';

export type AuditActor = 'warden' | 'cli';

export interface AuditEntry {
  event: string;
  [field: string]: unknown;
}

/** Shortest time between the starts of two commits (the group-commit window). */
export const COMMIT_INTERVAL_MS = 10;

export class AuditLog {
  private pending: { done: (e?: Error) => void }[] = [];
  private flushing = false;
  private scheduled = false;
  private closed = false;
  private written = 0;
  private commits = 0;
  private lastCommitAt = -Infinity;
  /** A write failed part-way (ENOSPC, EFBIG): the log ends in a fragment with no newline. */
  private torn = false;

  private constructor(
    private readonly fd: number,
    readonly path: string,
    private readonly actor: AuditActor,
    private readonly now: () => Date,
    private readonly intervalMs: number,
  ) {}

  static open(file: string, actor: AuditActor = 'warden', now: () => Date = () => new Date(), intervalMs = COMMIT_INTERVAL_MS): AuditLog {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    return new AuditLog(fd, file, actor, now, intervalMs);
  }

  /** Lines appended but not yet on disk. */
  get busy(): boolean {
    return this.pending.length > 0 || this.flushing || this.scheduled;
  }

  get linesWritten(): number {
    return this.written;
  }

  /** Syncs so far (each one fdatasync for every line written before it). */
  get commitCount(): number {
    return this.commits;
  }

  /** Append one entry: written now; resolves once it is on disk. */
  append(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit log closed'));
    const rec = { time: this.now().toISOString(), actor: this.actor, ...entry };
    // After a torn write, a newline first ends the fragment, so this line is a line of its own
    // (readers skip the one fragment instead of losing the next entry glued onto it).
    const line = Buffer.from((this.torn ? '\n' : '') + JSON.stringify(rec, jsonSafe) + '\n', 'utf8');
    const { written, error } = writeAllSync(this.fd, line);
    if (error) {
      if (written > 0) this.torn = true;
      return Promise.reject(error);
    }
    this.torn = false;
    return new Promise((resolve, reject) => {
      this.pending.push({ done: (e) => (e ? reject(e) : resolve()) });
      this.schedule();
    });
  }

  /** Start the next sync when the one in flight is done and the window since the last has passed. */
  private schedule(): void {
    if (this.flushing || this.scheduled || this.pending.length === 0) return;
    this.scheduled = true;
    const wait = this.lastCommitAt + this.intervalMs - Date.now();
    const go = () => {
      this.scheduled = false;
      this.flush();
    };
    // setImmediate even when no wait is due: lines appended in the same turn share this sync
    if (wait <= 0) setImmediate(go);
    else setTimeout(go, wait);
  }

  private flush(): void {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    this.lastCommitAt = Date.now();
    // every line of this batch was written before the sync starts
    const batch = this.pending.splice(0);
    fs.fdatasync(this.fd, (err) => {
      for (const b of batch) b.done(err ?? undefined);
      if (!err) {
        this.written += batch.length;
        this.commits++;
      }
      this.flushing = false;
      this.schedule();
    });
  }

  /** Wait for pending lines, then close. */
  async close(): Promise<void> {
    while (this.pending.length || this.flushing || this.scheduled) await new Promise((r) => setTimeout(r, 5));
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** Writes all of `data`, or says how much of it reached the file before the error. */
function writeAllSync(fd: number, data: Buffer): { written: number; error?: Error } {
  let off = 0;
  try {
    while (off < data.length) {
      const n = fs.writeSync(fd, data, off, data.length - off, null);
      if (n <= 0) throw new Error('audit log: write() made no progress');
      off += n;
    }
    return { written: off };
  } catch (e) {
    return { written: off, error: e as Error };
  }
}

/**
 * One-shot append for short-lived tools (the CLI): open, write one line, fsync, close. The CLI
 * runs as root over a store the warden owns: a FIFO or anything but a regular file is refused (not
 * waited on), and a log this call creates is handed to the quarantine store's owner, so that the warden can
 * still append to it.
 */
export function appendAuditSync(file: string, entry: AuditEntry, actor: AuditActor = 'cli', now: Date = new Date()): void {
  const base = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  const dir = fs.statSync(path.dirname(file));
  let fd: number;
  let created = false;
  try {
    try {
      fd = fs.openSync(file, base | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      fd = fs.openSync(file, base);
    }
  } catch (e) {
    // ENXIO: a FIFO with no reader (O_NONBLOCK); ELOOP: a symlink.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ELOOP') throw new Error(`${file} is not a regular file: refusing to write the audit log there`);
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file: refusing to write the audit log there`);
    if (created) {
      // Ours: hand it to the quarantine store's owner, so that the warden can go on appending.
      if (st.uid !== dir.uid) fs.fchownSync(fd, dir.uid, dir.gid);
    } else if (st.nlink !== 1 || st.uid !== dir.uid) {
      // A hard link to some other file, or not the store owner's log: never write (or chown) it.
      throw new Error(`${file} is not the quarantine store's own audit log (links ${st.nlink}, owner ${st.uid}): refusing to write it`);
    }
    const line = JSON.stringify({ time: now.toISOString(), actor, ...entry }, jsonSafe) + '\n';
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
