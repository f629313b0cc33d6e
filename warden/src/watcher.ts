// Watching the workspace: chokidar 4 (inotify, or polling for filesystems without it) for
// everything it can name, plus a small byte-exact watcher for what it cannot.
//
// chokidar works with JS strings. A name that is not valid UTF-8 reaches it as U+FFFD, the lossy
// path stats as ENOENT and chokidar silently drops the event; a directory with such a name is
// never entered at all. So: a raw inotify event whose name holds U+FFFD makes us list that
// directory by bytes ("reconcile"), and directories whose path is not UTF-8 get their own
// fs.watch with Buffer names (or a small poller in polling mode).
//
// Options that matter: followSymlinks false (a symlink is reported, never entered),
// awaitWriteFinish off (the queue debounces and rescans on change itself), ignoreInitial (the
// warden does its own byte-exact startup walk), no name is ever ignored (no *.tmp exclusion);
// with inotify chokidar tracks directories only and files arrive as raw events (see below).

import * as fs from 'fs';
import { FSWatcher, watch as chokidarWatch } from 'chokidar';
import { joinPath, pathKey } from './paths';

export interface WatchEvents {
  /** something was added or changed at this path (file, symlink, ...): scan it */
  onPath(p: Buffer, why: string): void;
  /** a directory appeared: walk it */
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
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly root: string, private readonly opts: TreeWatcherOptions, private readonly ev: WatchEvents) {}

  start(): Promise<void> {
    const w = chokidarWatch(this.root, {
      persistent: true,
      ignoreInitial: true,
      followSymlinks: false,
      awaitWriteFinish: false,
      usePolling: this.opts.poll,
      interval: this.opts.pollIntervalMs,
      binaryInterval: this.opts.pollIntervalMs,
      ignorePermissionErrors: false,
      atomic: false,
      // inotify: chokidar watches directories only. A directory's inotify watch already reports
      // every change to its entries (create, write, attrib, rename, delete), which reach us as
      // raw events; chokidar's own per-file fs.watch would cost one inotify watch and ~6 KB per
      // file (a flood of files would exhaust both), and it skips files it cannot read.
      // Polling: chokidar must stat every file itself, so files stay watched.
      ignored: this.opts.poll ? undefined : (_p: string, stats?: fs.Stats) => !!stats && !stats.isDirectory(),
    });
    this.chokidar = w;
    w.on('add', (p) => this.ev.onPath(Buffer.from(String(p)), 'add'));
    w.on('change', (p) => this.ev.onPath(Buffer.from(String(p)), 'change'));
    w.on('addDir', (p) => this.ev.onDir(Buffer.from(String(p)), 'addDir'));
    w.on('error', (e: unknown) => this.ev.onError(e as Error));
    w.on('raw', (_event, p, opts) => {
      const details = opts as { watchedPath?: string; curr?: fs.Stats } | undefined;
      if (this.opts.poll) {
        // polling: a directory's mtime changed; list it for what chokidar may not report
        const d = details as { curr?: fs.Stats; prev?: fs.Stats } | undefined;
        if (d?.curr && (d.curr.mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR) this.ev.onReconcile(Buffer.from(p), d.prev ? d.prev.mtimeMs : 0);
      } else if (typeof p === 'string' && p && details?.watchedPath) {
        // inotify: the raw event stream is a second source. chokidar drops what it cannot name
        // (not UTF-8) or cannot open (a file chmod'ed 000 before chokidar looked at it).
        // U+FFFD: a lossy decoding of a non-UTF-8 name, or a name that really holds U+FFFD: both.
        if (p.includes('\uFFFD')) this.ev.onReconcile(Buffer.from(details.watchedPath));
        this.ev.onPath(joinPath(Buffer.from(details.watchedPath), p), 'raw');
      }
    });
    if (this.opts.poll) {
      this.pollTimer = setInterval(() => this.pollByteDirs(), this.opts.pollIntervalMs);
      this.pollTimer.unref();
    }
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  /** Watch a directory chokidar cannot name (its path is not UTF-8). Idempotent. */
  watchBytesDir(dir: Buffer): void {
    if (this.closed) return;
    const key = pathKey(dir);
    if (this.byteDirs.has(key)) return;
    const entry: ByteDir = { dir, watcher: null, snapshot: new Map() };
    if (!this.opts.poll) {
      try {
        const w = fs.watch(dir, { encoding: 'buffer', persistent: false }, (_type, name) => {
          if (name) this.ev.onPath(joinPath(dir, name as Buffer), 'byte-watch');
          else this.ev.onReconcile(dir);
        });
        w.on('error', () => this.unwatchBytesDir(dir));
        entry.watcher = w;
      } catch (e) {
        this.ev.onError(e as Error);
        return;
      }
    } else {
      this.snapshotInto(entry, false);
    }
    this.byteDirs.set(key, entry);
  }

  unwatchBytesDir(dir: Buffer): void {
    const key = pathKey(dir);
    const e = this.byteDirs.get(key);
    if (!e) return;
    e.watcher?.close();
    this.byteDirs.delete(key);
  }

  /**
   * Resolves once chokidar has its inotify watch on `dir` (true), or after timeoutMs (false).
   * A new directory must be listed *after* it is watched: chokidar reports addDir before it
   * lists and watches the directory, so a file created between an early listing and the watch
   * would get no event and not be in the listing. chokidar 4 (pinned exactly) registers a
   * directory's closer in its private `_closers` map once the fs.watch exists; we poll that.
   * In polling mode there is no such race to close (every poll compares), so this returns at once.
   */
  async whenWatching(dir: string, timeoutMs = 2000): Promise<boolean> {
    if (this.opts.poll) return true;
    const closers = (this.chokidar as unknown as { _closers?: Map<string, unknown> } | null)?._closers;
    const until = Date.now() + timeoutMs;
    if (!(closers instanceof Map)) {
      await new Promise((r) => setTimeout(r, Math.min(500, timeoutMs)));
      return false;
    }
    while (!closers.has(dir)) {
      if (this.closed || Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  isByteWatched(dir: Buffer): boolean {
    return this.byteDirs.has(pathKey(dir));
  }

  get byteDirCount(): number {
    return this.byteDirs.size;
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
    for (const e of this.byteDirs.values()) e.watcher?.close();
    this.byteDirs.clear();
    if (this.chokidar) await this.chokidar.close();
  }
}

interface ByteDir {
  dir: Buffer;
  watcher: fs.FSWatcher | null;
  snapshot: Map<string, string>;
}
