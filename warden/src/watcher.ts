// Watching the workspace.
//
// inotify (the default): one fs.watch per directory, with Buffer names, kept by this class. A
// directory's inotify watch reports every change to its entries (create, write, attrib, rename,
// delete); each one reaches the warden as a path to scan, named by bytes (names that are not
// UTF-8 survive). New directories are watched by the warden's walk of them, which watches a
// directory before it lists it (a file created in between is in the listing or gets an event).
// One inotify watch per directory, none per file, and no listing or stat per event: chokidar,
// used here before, re-listed and lstat'ed a whole directory (twice per entry) after each
// change in it, the larger part of the warden's CPU in a burst of files.
//
// Polling (WARDEN_POLL, filesystems without inotify): chokidar 4, which must stat every file
// itself. chokidar works with JS strings: a name that is not valid UTF-8 reaches it as U+FFFD,
// the lossy path stats as ENOENT and chokidar drops the event; a directory with such a name is
// never entered. So in that mode a directory whose mtime changed is listed by bytes
// ("reconcile"), and directories whose path is not UTF-8 get a small poller of their own.
//
// Options that matter (polling): followSymlinks false (a symlink is reported, never entered),
// awaitWriteFinish off (the queue debounces and rescans on change itself), ignoreInitial (the
// warden does its own byte-exact startup walk), no name is ever ignored (no *.tmp exclusion).

import * as fs from 'fs';
import { FSWatcher, watch as chokidarWatch } from 'chokidar';
import { dirnameOf, joinPath, pathKey } from './paths';
import { walkTree } from './walker';

export interface WatchEvents {
  /** something was added or changed at this path (file, symlink, directory ...): scan it */
  onPath(p: Buffer, why: string): void;
  /** a directory appeared (polling mode; with inotify a new directory arrives through onPath): walk it */
  onDir(p: Buffer, why: string): void;
  /** list this directory by bytes: names chokidar cannot represent, and (polling) entries changed since sinceMs */
  onReconcile(dir: Buffer, sinceMs?: number): void;
  onError(err: Error): void;
}

export interface TreeWatcherOptions {
  poll: boolean;
  pollIntervalMs: number;
}

export class TreeWatcher {
  private chokidar: FSWatcher | null = null;
  private readonly byteDirs = new Map<string, ByteDir>();
  /** Watched directories by parent key: forget() costs its subtree, not the whole map. */
  private readonly children = new Map<string, Set<string>>();
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly fdBudget = dirFdBudget(readLimits());

  constructor(private readonly root: Buffer, private readonly opts: TreeWatcherOptions, private readonly ev: WatchEvents) {}

  /** Resolves once every directory of the tree is watched. */
  async start(): Promise<void> {
    if (!this.opts.poll) {
      // Watch the whole tree before the warden's startup walk lists it (the same walk, with the
      // files left to that one).
      this.watchDir(this.root);
      await walkTree(this.root, { entry: () => {}, dir: (d) => this.watchDir(d), stopped: () => this.closed });
      return;
    }
    const w = chokidarWatch(this.root.toString(), {
      persistent: true,
      ignoreInitial: true,
      followSymlinks: false,
      awaitWriteFinish: false,
      usePolling: true,
      interval: this.opts.pollIntervalMs,
      binaryInterval: this.opts.pollIntervalMs,
      ignorePermissionErrors: false,
      atomic: false,
    });
    this.chokidar = w;
    w.on('add', (p) => this.ev.onPath(Buffer.from(String(p)), 'add'));
    w.on('change', (p) => this.ev.onPath(Buffer.from(String(p)), 'change'));
    w.on('addDir', (p) => this.ev.onDir(Buffer.from(String(p)), 'addDir'));
    w.on('error', (e: unknown) => this.ev.onError(e as Error));
    w.on('raw', (_event, p, opts) => {
      // a directory's mtime changed; list it for what chokidar may not report
      const d = opts as { curr?: fs.Stats; prev?: fs.Stats } | undefined;
      if (d?.curr && (d.curr.mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR) this.ev.onReconcile(Buffer.from(p), d.prev ? d.prev.mtimeMs : 0);
    });
    this.pollTimer = setInterval(() => this.pollByteDirs(), this.opts.pollIntervalMs);
    this.pollTimer.unref();
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  /** inotify mode: every directory is watched here (idempotent). Polling: only those chokidar cannot name. */
  get watchesEveryDir(): boolean {
    return !this.opts.poll;
  }

  /** Watch a directory (inotify mode), or one chokidar cannot name (polling). Idempotent. */
  watchDir(dir: Buffer): void {
    this.watchBytesDir(dir);
  }

  /** A path that is no longer a watched directory (gone, or replaced): drop its watch and those below it. */
  forget(p: Buffer): void {
    const key = pathKey(p);
    if (!this.byteDirs.has(key) && !this.children.has(key)) return;
    const stack = [key];
    while (stack.length) {
      const k = stack.pop() as string;
      const kids = this.children.get(k);
      if (kids) stack.push(...kids);
      this.removeEntry(k);
    }
  }

  private addEntry(key: string, e: ByteDir): void {
    this.byteDirs.set(key, e);
    const parent = pathKey(dirnameOf(e.dir));
    if (parent === key) return;
    let kids = this.children.get(parent);
    if (!kids) this.children.set(parent, (kids = new Set()));
    kids.add(key);
  }

  private removeEntry(key: string): void {
    const e = this.byteDirs.get(key);
    if (!e) return;
    release(e);
    this.byteDirs.delete(key);
    const parent = pathKey(dirnameOf(e.dir));
    const kids = this.children.get(parent);
    kids?.delete(key);
    if (kids && kids.size === 0) this.children.delete(parent);
  }

  /**
   * Drop the watches at and below `dir` when its path no longer names the directory that was
   * watched (renamed away: that watch goes on reporting the moved directory's changes under the
   * old name, each a path that is gone).
   */
  dropIfStale(dir: Buffer): void {
    const e = this.byteDirs.get(pathKey(dir));
    if (!e) return;
    const id = dirIdentity(dir);
    if (!id || !sameDir(e, id)) this.forget(dir);
  }

  /**
   * Watch a directory by bytes. Idempotent for the same directory. An entry is keyed by path but
   * stands for one inode, because inotify watches inodes: a directory deleted and made again
   * under its name, or renamed away and replaced, is a new inode the old watch never hears of.
   * So (inotify) the warden holds the directory open and watches it through /proc/self/fd: the
   * watch is on exactly the inode it holds, and while it is held its number cannot be reused, so
   * comparing (dev, ino) with what the path names now tells a new directory from the watched
   * one. A new one is watched anew here, and isByteWatched says no until then. One descriptor a
   * directory, kept under the process's limit (see dirFdBudget).
   */
  watchBytesDir(dir: Buffer): void {
    if (this.closed) return;
    const key = pathKey(dir);
    const existing = this.byteDirs.get(key);
    if (existing) {
      const now = dirIdentity(dir);
      if (now && sameDir(existing, now)) return;
      // another directory under this name: what was watched below it is stale too
      this.forget(dir);
    }
    if (this.opts.poll) {
      const id = dirIdentity(dir);
      if (!id) return;
      const entry: ByteDir = { dir, watcher: null, fd: null, snapshot: new Map(), ...id };
      this.snapshotInto(entry, false);
      this.addEntry(key, entry);
      return;
    }
    if (this.byteDirs.size >= this.fdBudget) {
      this.ev.onError(Object.assign(new Error(`more than ${this.fdBudget} directories to watch (one descriptor each, under the open-file limit)`), { code: 'EMFILE' }));
      return;
    }
    let fd: number;
    try {
      fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // gone, or replaced by something else meanwhile: its parent's event says so
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ELOOP') this.ev.onError(e as Error);
      return;
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      const w = fs.watch(`/proc/self/fd/${fd}`, { encoding: 'buffer', persistent: true }, (_type, name) => {
        // (the watch's own deletion or move is named by the descriptor's number: a path that
        // is gone, whose scan drops this entry; see dropIfStale)
        if (name) this.ev.onPath(joinPath(dir, name as Buffer), 'byte-watch');
        else this.ev.onReconcile(dir);
      });
      w.on('error', () => this.unwatchBytesDir(dir));
      this.addEntry(key, { dir, watcher: w, fd, snapshot: new Map(), dev: st.dev, ino: st.ino });
    } catch (e) {
      fs.closeSync(fd);
      this.ev.onError(e as Error);
    }
  }

  /**
   * Drop every watch whose path no longer names the directory it holds (inotify). A directory's
   * deletion normally drops its watch through the events it raises, but events the kernel
   * dropped in an overflow never come, and each such watch keeps a descriptor (and the deleted
   * inode) until the budget is spent. Called after each full walk. Returns how many were dropped.
   */
  pruneStale(): number {
    if (this.opts.poll) return 0;
    const before = this.byteDirs.size;
    for (const key of [...this.byteDirs.keys()]) {
      const e = this.byteDirs.get(key);
      if (e) this.dropIfStale(e.dir); // (gone already when a stale parent took it along)
    }
    return before - this.byteDirs.size;
  }

  unwatchBytesDir(dir: Buffer): void {
    this.removeEntry(pathKey(dir));
  }

  /**
   * Resolves once `dir` is watched, so that listing it afterwards misses nothing. With inotify
   * the watch is set here, at once (fs.watch adds the inotify watch before it returns). Polling
   * has no such race (every poll compares).
   */
  async whenWatching(dir: string): Promise<boolean> {
    if (this.opts.poll) return true;
    this.watchDir(Buffer.from(dir));
    return this.isByteWatched(Buffer.from(dir));
  }

  /** Whether this directory (the inode its path names now) is watched. */
  isByteWatched(dir: Buffer): boolean {
    const e = this.byteDirs.get(pathKey(dir));
    if (!e) return false;
    const id = dirIdentity(dir);
    return !!id && sameDir(e, id);
  }

  get byteDirCount(): number {
    return this.byteDirs.size;
  }

  /** Directories that may be watched at once (inotify: one descriptor each). */
  get dirBudget(): number {
    return this.fdBudget;
  }

  /** Polling mode for byte dirs: report entries whose identity changed since the last look. */
  private pollByteDirs(): void {
    for (const e of this.byteDirs.values()) this.snapshotInto(e, true);
  }

  private snapshotInto(e: ByteDir, report: boolean): void {
    let names: Buffer[];
    try {
      names = fs.readdirSync(e.dir, { encoding: 'buffer' }) as Buffer[];
    } catch {
      this.unwatchBytesDir(e.dir);
      return;
    }
    const next = new Map<string, string>();
    for (const n of names) {
      const p = joinPath(e.dir, n);
      let sig = '';
      try {
        const st = fs.lstatSync(p, { bigint: true });
        sig = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      } catch {
        continue;
      }
      const k = pathKey(n);
      next.set(k, sig);
      if (report && e.snapshot.get(k) !== sig) this.ev.onPath(p, 'byte-poll');
    }
    e.snapshot = next;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const e of this.byteDirs.values()) release(e);
    this.byteDirs.clear();
    this.children.clear();
    if (this.chokidar) await this.chokidar.close();
  }
}

interface DirIdentity {
  dev: bigint;
  ino: bigint;
}

interface ByteDir extends DirIdentity {
  dir: Buffer;
  watcher: fs.FSWatcher | null;
  /** inotify: the directory held open (what the watch is on, and what keeps its inode number) */
  fd: number | null;
  snapshot: Map<string, string>;
}

function release(e: ByteDir): void {
  e.watcher?.close();
  if (e.fd !== null) fs.closeSync(e.fd);
  e.fd = null;
}

/**
 * How many directories may be held open: the soft open-file limit (node raises it to the hard
 * one at start) less a reserve for scans, clamd connections and the quarantine store. Past it the warden
 * says it is degraded and falls back to periodic full rescans, as for inotify's own limit.
 */
export function dirFdBudget(limitsText: string | null, reserve = 1024): number {
  const m = limitsText && /^Max open files\s+(\d+|unlimited)/m.exec(limitsText);
  if (!m) return 4096;
  if (m[1] === 'unlimited') return 1 << 20;
  return Math.max(0, Number(m[1]) - reserve);
}

function readLimits(): string | null {
  try {
    return fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

/** The directory a path names now (lstat: a symlink to one is not one), or null. */
function dirIdentity(dir: Buffer): DirIdentity | null {
  try {
    const st = fs.lstatSync(dir, { bigint: true });
    return st.isDirectory() ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  }
}

function sameDir(a: DirIdentity, b: DirIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
