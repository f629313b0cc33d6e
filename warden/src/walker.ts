// Walking a tree without following symlinks, by bytes (names that are not UTF-8 survive), one
// directory open at a time (a directory with a million entries is streamed, not loaded), and with
// backpressure: the file callback may return a promise, and the walk waits for it.

import * as fs from 'fs';
import { joinPath } from './paths';
import { ensureOwnerAccess } from './access';

export interface WalkHandlers {
  /** every entry that is not a directory: regular files, symlinks, fifos ... */
  entry(path: Buffer): void | Promise<void>;
  /** every directory, the root included, before its entries; accessFixed: its owner bits had to be added back */
  dir?(path: Buffer, accessFixed: boolean): void;
  error?(path: Buffer, err: Error): void;
  /** stop early (shutdown) */
  stopped?(): boolean;
}

export interface WalkStats {
  dirs: number;
  entries: number;
  errors: number;
}

export async function walkTree(root: Buffer, h: WalkHandlers): Promise<WalkStats> {
  const stats: WalkStats = { dirs: 0, entries: 0, errors: 0 };
  const stack: Buffer[] = [root];
  while (stack.length) {
    if (h.stopped?.()) break;
    const dir = stack.pop() as Buffer;
    let handle: fs.Dir;
    let accessFixed = false;
    try {
      ({ handle, accessFixed } = await openDir(dir));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        stats.errors++;
        h.error?.(dir, e as Error);
      }
      continue;
    }
    stats.dirs++;
    h.dir?.(dir, accessFixed);
    try {
      for await (const d of handle) {
        const p = joinPath(dir, d.name as unknown as Buffer);
        if (d.isDirectory()) {
          stack.push(p);
        } else if (d.isFile() || d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isCharacterDevice() || d.isBlockDevice()) {
          stats.entries++;
          await h.entry(p);
        } else {
          // DT_UNKNOWN (some filesystems): ask lstat
          const st = await fs.promises.lstat(p).catch(() => null);
          if (st?.isDirectory()) stack.push(p);
          else if (st) {
            stats.entries++;
            await h.entry(p);
          }
        }
        if (h.stopped?.()) break;
      }
    } catch (e) {
      stats.errors++;
      h.error?.(dir, e as Error);
    }
  }
  return stats;
}

async function openDir(dir: Buffer): Promise<{ handle: fs.Dir; accessFixed: boolean }> {
  const opts = { encoding: 'buffer' as BufferEncoding, bufferSize: 64 };
  try {
    return { handle: await fs.promises.opendir(dir as unknown as string, opts), accessFixed: false };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The prisoner may chmod 000 its own directory; the warden (same owner) adds r-x back.
    if ((code === 'EACCES' || code === 'EPERM') && (await ensureOwnerAccess(dir, 0o500))) {
      return { handle: await fs.promises.opendir(dir as unknown as string, opts), accessFixed: true };
    }
    throw e;
  }
}

/** List one directory's entries (no recursion), by bytes. */
export async function listDir(dir: Buffer): Promise<{ name: Buffer; isDir: boolean }[]> {
  const out: { name: Buffer; isDir: boolean }[] = [];
  const ents = await fs.promises.readdir(dir, { encoding: 'buffer', withFileTypes: true });
  for (const d of ents) out.push({ name: d.name as unknown as Buffer, isDir: d.isDirectory() });
  return out;
}
