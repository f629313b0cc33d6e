// The audit log: <jail>/audit.log, JSON lines, append-only. Opened with O_APPEND and never
// truncated, rewritten or rotated by the warden; each batch of lines is written with one write()
// and made durable with fdatasync before the append promise resolves (group commit, so a flood
// of clean verdicts costs one sync per batch, not one per file). The jail volume is mounted in the
// warden only, so the prisoner can neither read nor write it.

import * as fs from 'fs';
import * as path from 'path';
import { jsonSafe } from './logger';

export type AuditActor = 'warden' | 'cli';

export interface AuditEntry {
  event: string;
  [field: string]: unknown;
}

export class AuditLog {
  private pending: { line: string; done: (e?: Error) => void }[] = [];
  private flushing = false;
  private closed = false;
  private written = 0;

  private constructor(private readonly fd: number, readonly path: string, private readonly actor: AuditActor, private readonly now: () => Date) {}

  static open(file: string, actor: AuditActor = 'warden', now: () => Date = () => new Date()): AuditLog {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    return new AuditLog(fd, file, actor, now);
  }

  /** Lines appended but not yet on disk. */
  get busy(): boolean {
    return this.pending.length > 0 || this.flushing;
  }

  get linesWritten(): number {
    return this.written;
  }

  /** Append one entry; resolves once it is on disk. */
  append(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit log closed'));
    const rec = { time: this.now().toISOString(), actor: this.actor, ...entry };
    const line = JSON.stringify(rec, jsonSafe) + '\n';
    return new Promise((resolve, reject) => {
      this.pending.push({ line, done: (e) => (e ? reject(e) : resolve()) });
      if (!this.flushing) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending.splice(0, 10000);
    const data = Buffer.from(batch.map((b) => b.line).join(''), 'utf8');
    const finish = (err: Error | null) => {
      for (const b of batch) b.done(err ?? undefined);
      if (!err) this.written += batch.length;
      this.flushing = false;
      if (this.pending.length) setImmediate(() => this.flush());
    };
    writeAll(this.fd, data, (err) => {
      if (err) return finish(err);
      fs.fdatasync(this.fd, (e) => finish(e));
    });
  }

  /** Wait for pending lines, then close. */
  async close(): Promise<void> {
    while (this.pending.length || this.flushing) await new Promise((r) => setTimeout(r, 5));
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

function writeAll(fd: number, data: Buffer, cb: (err: Error | null) => void): void {
  fs.write(fd, data, 0, data.length, null, (err, n) => {
    if (err) return cb(err);
    if (n < data.length) return writeAll(fd, data.subarray(n), cb);
    cb(null);
  });
}

/**
 * One-shot append for short-lived tools (the CLI): open, write one line, fsync, close. The CLI
 * runs as root over a jail the warden owns: a FIFO or anything but a regular file is refused (not
 * waited on), and a log this call creates is handed to the jail's owner, so that the warden can
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
      // Ours: hand it to the jail's owner, so that the warden can go on appending.
      if (st.uid !== dir.uid) fs.fchownSync(fd, dir.uid, dir.gid);
    } else if (st.nlink !== 1 || st.uid !== dir.uid) {
      // A hard link to some other file, or not the jail owner's log: never write (or chown) it.
      throw new Error(`${file} is not the jail's own audit log (links ${st.nlink}, owner ${st.uid}): refusing to write it`);
    }
    const line = JSON.stringify({ time: now.toISOString(), actor, ...entry }, jsonSafe) + '\n';
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
