// The walks of the workspace: the startup and periodic full scans, a directory the watcher
// reports, a directory listing to reconcile (names the watcher cannot carry, polling), the sweep
// for bytes written under another name, and the walk for events a burst may have lost (after the
// backlog). One full scan at a time; what each walk finds goes into the scan queue.
import * as fs from 'fs';
import type { AuditEntry } from './audit';
import type { CleanCache } from './cleanCache';
import type { Logger } from '@clawjail/log';
import { isUtf8, joinPath, pathKey, printable } from './paths';
import type { ScanQueue } from './scanQueue';
import { hashFd, identityOf } from './scanner';
import { listDir, walkTree } from './walker';
import type { TreeWatcher } from './watcher';
import type { WardenCounters } from './warden';

/** Full scans that only look for lost events (see walk). */
const SKIP_UNCHANGED_WALKS = new Set(['event-burst', 'overflow']);
/** Watcher events within one second that count as a burst (see noteEvent). */
const BURST_EVENTS = 1000;
/** The longest a walk for lost events waits for the scan queue to drain (see afterBacklog). */
const BURST_WALK_MAX_WAIT_MS = 10_000;

export interface StartupScan {
  state: 'pending' | 'running' | 'done';
  entries: number;
  dirs: number;
  ms: number;
}

export interface WalkSchedulerDeps {
  /** The workspace (its realpath, known once the warden starts). */
  root: () => Buffer;
  queue: Pick<ScanQueue, 'size' | 'max' | 'waitForCapacity' | 'onIdle'>;
  watcher: () => Pick<TreeWatcher, 'whenWatching' | 'watchesEveryDir' | 'watchDir'> | undefined;
  enqueue: (p: Buffer, why: string) => void;
  cleanCache: Pick<CleanCache, 'cleanSha256'>;
  counters: WardenCounters;
  logger: Logger;
  audit: (e: AuditEntry) => Promise<void>;
  stopping: () => boolean;
  /** A full walk of the workspace is done (it began at `startedAt`). */
  afterFullWalk?: (why: string, startedAt: number) => void;
}

export class WalkScheduler {
  private walksActive = 0;
  private fullScanRunning = false;
  /** The reason of one more full scan asked for while one runs. */
  private fullScanAgain: string | null = null;
  private startupScan: StartupScan = { state: 'pending', entries: 0, dirs: 0, ms: 0 };
  private readonly startupDone: Promise<void>;
  private resolveStartup!: () => void;
  private readonly reconcilePending = new Map<string, { dir: Buffer; sinceMs: number }>();
  private reconcileTimer: NodeJS.Timeout | null = null;
  private readonly sweep: { since: number; timer: NodeJS.Timeout | null; running: boolean } = { since: Infinity, timer: null, running: false };
  private readonly burst: { windowStart: number; count: number; timer: NodeJS.Timeout | null; waiting: number } = { windowStart: 0, count: 0, timer: null, waiting: 0 };

  constructor(private readonly d: WalkSchedulerDeps) {
    this.startupDone = new Promise((r) => (this.resolveStartup = r));
  }

  /** Resolves once the startup scan has walked the workspace (or the warden stopped). */
  whenStartupWalked(): Promise<void> {
    return this.startupDone;
  }

  get startup(): StartupScan {
    return { ...this.startupScan };
  }

  get active(): number {
    return this.walksActive;
  }

  /** A walk running or promised (on a timer, waiting for the backlog). */
  get busy(): boolean {
    return (
      this.walksActive > 0 || this.reconcilePending.size > 0 || this.burst.timer !== null || this.burst.waiting > 0 ||
      this.sweep.timer !== null || this.sweep.running || this.fullScanRunning
    );
  }

  stop(): void {
    for (const t of [this.burst.timer, this.sweep.timer, this.reconcileTimer]) if (t) clearTimeout(t);
    this.resolveStartup();
  }

  /**
   * The kernel queues at most fs.inotify.max_queued_events (16384 by default) per watcher; past
   * that it drops events and reports an overflow, which libuv discards without a word. So a burst
   * of events is taken as a sign that some may be lost, and answered with a walk of the whole
   * tree once the second is out (coalesced with any full scan already running).
   */
  noteEvent(): void {
    const now = Date.now();
    if (now - this.burst.windowStart >= 1000) {
      this.burst.windowStart = now;
      this.burst.count = 0;
    }
    if (++this.burst.count < BURST_EVENTS || this.burst.timer || this.d.stopping()) return;
    this.d.counters.eventBursts++;
    this.d.logger.info('event burst: some inotify events may be lost, a full scan follows', { events: this.burst.count, withinMs: now - this.burst.windowStart });
    this.burst.timer = setTimeout(() => {
      this.burst.timer = null;
      void this.afterBacklog().then(() => this.fullScan('event-burst'));
    }, 1000);
    this.burst.timer.unref();
  }

  /**
   * Resolves once the scan queue has drained, or after BURST_WALK_MAX_WAIT_MS. A walk for lost
   * events queues what it finds behind everything already queued, so walking while a burst is
   * still being scanned finds nothing sooner; it only competes with those scans for the CPU (it
   * hashes every file found clean). The bound keeps a flood that never lets the queue drain
   * from putting the walk off.
   */
  private async afterBacklog(): Promise<void> {
    this.burst.waiting++;
    let timer: NodeJS.Timeout | null = null;
    try {
      await Promise.race([
        this.d.queue.onIdle(),
        new Promise<void>((r) => {
          timer = setTimeout(r, BURST_WALK_MAX_WAIT_MS);
          timer.unref();
        }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
      this.burst.waiting--;
    }
  }


  scheduleReconcile(dir: Buffer, sinceMs = Infinity): void {
    const key = pathKey(dir);
    const prev = this.reconcilePending.get(key);
    this.reconcilePending.set(key, { dir, sinceMs: Math.min(sinceMs, prev?.sinceMs ?? Infinity) });
    if (this.reconcileTimer) return;
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = null;
      const dirs = [...this.reconcilePending.values()];
      this.reconcilePending.clear();
      for (const d of dirs) void this.reconcile(d.dir, d.sinceMs);
    }, 20);
  }

  /**
   * List a directory by bytes and queue what chokidar may have missed: names it cannot
   * represent, and (polling mode) entries whose ctime is not older than the directory's
   * previous mtime (new, renamed in or chmod'ed since the last poll).
   */
  private async reconcile(dir: Buffer, sinceMs: number): Promise<void> {
    this.walksActive++;
    try {
      for (const e of await listDir(dir)) {
        const p = joinPath(dir, e.name);
        let take = !isUtf8(e.name) || !isUtf8(dir);
        if (!take && sinceMs !== Infinity) {
          const st = await fs.promises.lstat(p).catch(() => null);
          take = !!st && st.ctimeMs >= sinceMs - 1000;
        }
        if (!take) continue;
        if (e.isDir) void this.walk(p, 'reconcile');
        else this.d.enqueue(p, 'reconcile');
      }
    } catch (e) {
      this.d.logger.debug('reconcile failed', { dir: printable(dir), error: e });
    } finally {
      this.walksActive--;
    }
  }



  async walkWhenWatched(dir: Buffer, why: string): Promise<void> {
    this.walksActive++; // count the wait, so whenIdle() does not resolve in between
    try {
      await this.d.watcher()!.whenWatching(dir.toString());
      await this.walk(dir, why);
    } finally {
      this.walksActive--;
    }
  }

  async walk(dir: Buffer, why: string, only?: (p: Buffer) => Promise<boolean>): Promise<{ entries: number; dirs: number }> {
    this.walksActive++;
    // These walks look for changes whose events were lost, not for new signatures: a file found
    // clean and still holding the same bytes need not be scanned again.
    const wanted = only ?? (SKIP_UNCHANGED_WALKS.has(why) ? (p: Buffer) => this.changedSinceClean(p) : null);
    try {
      return await walkTree(dir, {
        entry: async (p) => {
          if (wanted && !(await wanted(p))) return;
          if (this.d.queue.size >= this.d.queue.max) await this.d.queue.waitForCapacity();
          this.d.enqueue(p, why);
        },
        dir: (d, accessFixed) => {
          // Before its entries are listed. inotify: every directory is watched by us. Polling:
          // those chokidar cannot name, or could not read when they appeared (mode 000).
          if (this.d.watcher()?.watchesEveryDir || accessFixed || !isUtf8(d)) this.d.watcher()?.watchDir(d);
        },
        error: (d, e) => this.d.logger.warn('cannot list directory', { dir: printable(d), error: e }),
        stopped: () => this.d.stopping(),
      });
    } finally {
      this.walksActive--;
    }
  }

  /**
   * False only for a regular file found clean before whose identity (inode, size, ctime, mtime)
   * and bytes (sha256, hashed here without clamd) are still the same: a write through mmap moves
   * neither the times nor raises an event, so the identity alone is not enough.
   */
  private async changedSinceClean(p: Buffer, known?: fs.BigIntStats): Promise<boolean> {
    let st = known;
    if (!st) {
      try {
        st = fs.lstatSync(p, { bigint: true });
      } catch {
        return true;
      }
    }
    if (!st.isFile()) return true;
    const sha = this.d.cleanCache.cleanSha256(pathKey(p), identityOf(st));
    if (sha === null) return true;
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch {
      return true;
    }
    try {
      const now = fs.fstatSync(fd, { bigint: true });
      if (now.ino !== st.ino || now.dev !== st.dev) return true;
      return (await hashFd(fd)).sha256 !== sha;
    } catch {
      return true;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * A write event for a name that is gone by the time it is scanned: the bytes may have gone
   * into another name of the same inode (ln F x; open x; unlink x; write), and F gets no event of
   * its own. Every file whose ctime is that recent, and that is not still what was found clean, is
   * queued; one sweep a second at most.
   */
  scheduleSweep(sinceMs: number): void {
    this.sweep.since = Math.min(this.sweep.since, sinceMs);
    if (this.sweep.timer || this.d.stopping()) return;
    this.sweep.timer = setTimeout(() => {
      this.sweep.timer = null;
      // One sweep at a time: a later request waits for the running one, then covers its own span.
      if (this.sweep.running) return this.scheduleSweep(this.sweep.since);
      const since = this.sweep.since;
      this.sweep.since = Infinity;
      this.sweep.running = true;
      const sinceNs = BigInt(Math.floor(since)) * 1_000_000n;
      void this.walk(this.d.root(), 'gone-sweep', async (p) => {
        const st = await fs.promises.lstat(p, { bigint: true }).catch(() => null);
        return !!st?.isFile() && st.ctimeNs >= sinceNs && (await this.changedSinceClean(p, st));
      }).finally(() => {
        this.sweep.running = false;
      });
    }, 1000);
    this.sweep.timer.unref();
  }

  /** Walk the whole workspace into the queue (startup, periodic, after an overflow). One at a time. */
  async fullScan(why: string): Promise<void> {
    if (this.d.stopping()) return;
    if (this.fullScanRunning) {
      // One more walk after this one; a walk that skips nothing outranks one that only looks
      // for lost events, so a stream of bursts cannot stand in for the periodic rescan.
      if (this.fullScanAgain === null || SKIP_UNCHANGED_WALKS.has(this.fullScanAgain)) this.fullScanAgain = why;
      return;
    }
    this.fullScanRunning = true;
    let reason = why;
    try {
      for (;;) {
        const t0 = Date.now();
        if (reason === 'startup') this.startupScan.state = 'running';
        this.fullScanAgain = null;
        this.d.counters.fullScans++;
        const st = await this.walk(this.d.root(), reason);
        this.d.logger.info('full scan walked', { why: reason, entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 });
        if (!this.d.stopping()) this.d.afterFullWalk?.(reason, t0);
        if (reason === 'startup' && this.startupScan.state === 'running') {
          this.startupScan = { state: 'done', entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 };
          await this.d.audit({ event: 'startup-scan-walked', entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 });
          this.resolveStartup();
        }
        if (this.fullScanAgain === null || this.d.stopping()) break;
        reason = this.fullScanAgain;
      }
    } finally {
      this.fullScanRunning = false;
      if (why === 'startup') this.resolveStartup();
    }
  }
}
