// The warden: wires watcher → queue → scanner → quarantine, keeps clamd's state, runs the startup
// and periodic full scans, and reports health. Decisions live in policy.ts; this file only
// sequences them.

import * as fs from 'fs';
import { WardenConfig } from './config';
import { ClamdClient, ClamdUnavailableError } from './clamdClient';
import { Verdict, endpointToString } from './clamdProtocol';
import { Scanner, FileIdentity, fdChunks, hashFd, identityOf } from './scanner';
import { CleanCache } from './cleanCache';
import { Quarantine } from './quarantine';
import { AuditLog, AuditEntry } from './audit';
import { ScanQueue, QueueItem, ProcessResult } from './scanQueue';
import { TreeWatcher } from './watcher';
import { walkTree, listDir } from './walker';
import { HealthReporter, HealthSnapshot } from './health';
import { Logger, createLogger } from './logger';
import { auditPath } from './jailStore';
import { TempDeferral, backoffMs, describeVerdict, dispositionFor } from './policy';
import { basenameOf, dirnameOf, isUtf8, joinPath, pathKey, printable, recordPath, relativeTo } from './paths';

export interface WardenDeps {
  logger?: Logger;
  /** force the copy method for quarantine (tests of the cross-filesystem path) */
  forceCopy?: boolean;
  /** test hook, see ScannerOptions.afterRead */
  afterRead?: (path: Buffer) => Promise<void> | void;
}

export interface WardenCounters {
  scans: number;
  clean: number;
  infected: number;
  unscannable: number;
  quarantined: number;
  allowed: number;
  symlinksIgnored: number;
  specialIgnored: number;
  changedDuringScan: number;
  quarantineRaces: number;
  quarantineFailures: number;
  fullScans: number;
  auditErrors: number;
  /** bursts of events large enough that some may have been lost (each answered by a full scan) */
  eventBursts: number;
}

const MAX_CRASHES = 3;
/** Full scans that only look for lost events (see walk). */
const SKIP_UNCHANGED_WALKS = new Set(['event-burst', 'overflow']);
/** Watcher events within one second that count as a burst (see noteEvent). */
const BURST_EVENTS = 1000;
/** Quarantine times kept for the health snapshot's last-day count. */
const RECENT_QUARANTINES_KEPT = 10_000;
/** The longest a walk for lost events waits for the scan queue to drain (see afterBacklog). */
const BURST_WALK_MAX_WAIT_MS = 10_000;

export class Warden {
  readonly logger: Logger;
  readonly clamd: ClamdClient;
  readonly queue: ScanQueue;
  private root!: Buffer;
  private jail!: string;
  private scanner!: Scanner;
  private quarantine!: Quarantine;
  private audit!: AuditLog;
  private watcher!: TreeWatcher;
  private reporter!: HealthReporter;
  private started = false;
  private stopping = false;
  private clamdUp = false;
  private clamdVersion: string | null = null;
  private lastScanAt: number | null = null;
  private readonly recentQuarantines: number[] = [];
  private clamdDownSince: string | null = null;
  private clamdLastError: string | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probeAttempt = 0;
  private walksActive = 0;
  private fullScanRunning = false;
  /** The reason of the walk to run after the current one, if any. */
  private fullScanAgain: string | null = null;
  private startupScan: { state: 'pending' | 'running' | 'done'; entries: number; dirs: number; ms: number } = { state: 'pending', entries: 0, dirs: 0, ms: 0 };
  private startupDone!: Promise<void>;
  private resolveStartup!: () => void;
  private reconcilePending = new Map<string, { dir: Buffer; sinceMs: number }>();
  private reconcileTimer: NodeJS.Timeout | null = null;
  private watcherErrors = 0;
  private watcherLastError: string | null = null;
  private watcherLimited = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  private healthPort: number | null = null;
  private readonly tempDeferral: TempDeferral;
  private readonly cleanCache = new CleanCache();
  private readonly sweep: { since: number; timer: NodeJS.Timeout | null; running: boolean } = { since: Infinity, timer: null, running: false };
  private readonly burst: { windowStart: number; count: number; timer: NodeJS.Timeout | null; waiting: number } = { windowStart: 0, count: 0, timer: null, waiting: 0 };
  readonly counters: WardenCounters = {
    scans: 0, clean: 0, infected: 0, unscannable: 0, quarantined: 0, allowed: 0, symlinksIgnored: 0, specialIgnored: 0,
    changedDuringScan: 0, quarantineRaces: 0, quarantineFailures: 0, fullScans: 0, auditErrors: 0, eventBursts: 0,
  };

  constructor(readonly cfg: WardenConfig, private readonly deps: WardenDeps = {}) {
    this.logger = deps.logger ?? createLogger(cfg.logLevel);
    // Polling never sees a temp file go away, so a run could not end honestly: no deferral there.
    this.tempDeferral = new TempDeferral(cfg.poll ? 0 : cfg.tmpGraceMs);
    this.clamd = new ClamdClient(cfg.clamd, { connectTimeoutMs: cfg.connectTimeoutMs, timeoutMs: cfg.scanTimeoutMs });
    this.queue = new ScanQueue((item) => this.process(item), {
      concurrency: typeof cfg.concurrency === 'number' ? cfg.concurrency : 1,
      max: cfg.queueMax,
      debounceMs: cfg.debounceMs,
      onError: (err, item) => this.logger.error('scan job failed', { path: printable(item.path), error: err }),
    });
    this.queue.on('overflow', () => {
      this.logger.warn('scan queue full: dropping events, a full rescan follows', { queueMax: cfg.queueMax });
      this.auditEvent({ event: 'queue-overflow', queueMax: cfg.queueMax });
    });
    this.queue.on('overflow-drained', () => {
      if (this.queue.takeOverflow()) void this.fullScan('overflow');
    });
    this.startupDone = new Promise((r) => (this.resolveStartup = r));
  }

  /** Start watching and scanning. Resolves once the watcher is ready; the startup scan runs on. */
  async start(): Promise<void> {
    const cfg = this.cfg;
    const watchReal = await realDir(cfg.watch, 'WARDEN_WATCH');
    this.jail = (await realDir(cfg.jail, 'WARDEN_JAIL')).toString();
    this.root = watchReal;
    this.audit = AuditLog.open(auditPath(this.jail));
    this.scanner = new Scanner(this.clamd, { root: this.root, maxFileSize: cfg.maxFileSize, chunkSize: cfg.chunkSize, scanTimeoutMs: cfg.scanTimeoutMs, afterRead: this.deps.afterRead });
    this.quarantine = new Quarantine({
      root: this.root,
      jail: this.jail,
      logger: this.logger,
      forceCopy: this.deps.forceCopy,
      rescan: (fd) => this.clamd.instream(fdChunks(fd, cfg.chunkSize), cfg.scanTimeoutMs),
    });
    for (const rec of await this.quarantine.init()) {
      this.logger.alert('finished a quarantine interrupted by a previous stop', { id: rec.id, path: rec.original.path.text });
      await this.auditEvent({ event: 'quarantine-recovered', id: rec.id, path: rec.original.path, sha256: rec.sha256, size: rec.size });
    }
    await this.auditEvent({ event: 'warden-start', pid: process.pid, workspace: printable(this.root), clamd: endpointToString(cfg.clamd), unscannable: cfg.unscannable, maxFileSize: cfg.maxFileSize, poll: cfg.poll });

    try {
      await this.clamd.ping();
      await this.markClamdUp();
    } catch (e) {
      this.markClamdDown(e as Error);
    }

    this.watcher = new TreeWatcher(this.root, { poll: cfg.poll, pollIntervalMs: cfg.pollIntervalMs }, {
      onPath: (p, why) => {
        this.noteEvent();
        this.enqueue(p, why);
      },
      // polling: list a new directory only once it is watched (see TreeWatcher.whenWatching)
      onDir: (p, why) => void this.walkWhenWatched(p, why),
      onReconcile: (d, since) => this.scheduleReconcile(d, since),
      onError: (e) => this.onWatcherError(e),
    });
    await this.watcher.start();
    this.reporter = new HealthReporter(() => this.health(), { port: cfg.healthPort, host: cfg.healthHost, file: cfg.healthFile });
    this.healthPort = await this.reporter.start();
    this.started = true;
    this.logger.info('warden started', { workspace: printable(this.root), jail: this.jail, clamd: endpointToString(cfg.clamd), healthPort: this.healthPort });

    if (cfg.rescanIntervalS > 0) {
      const t = setInterval(() => void this.fullScan('periodic'), cfg.rescanIntervalS * 1000);
      t.unref();
      this.timers.push(t);
    }
    void this.fullScan('startup');
  }

  get healthPortInUse(): number | null {
    return this.healthPort;
  }

  /** Resolves when the startup scan is done and nothing is queued, scanned or walked. */
  async whenIdle(): Promise<void> {
    await this.startupDone;
    for (let stable = 0; stable < 3; ) {
      await this.queue.onIdle();
      await new Promise((r) => setTimeout(r, 20));
      stable = this.busy ? 0 : stable + 1;
    }
  }

  /** Anything queued, scanned or walked, or work already promised: a walk on a timer, audit lines not yet on disk. */
  private get busy(): boolean {
    return (
      this.walksActive > 0 || this.reconcilePending.size > 0 || this.queue.size > 0 || this.queue.stats().inflight > 0 ||
      this.burst.timer !== null || this.burst.waiting > 0 || this.sweep.timer !== null || this.sweep.running || this.fullScanRunning || !!this.audit?.busy
    );
  }

  whenStartupScanDone(): Promise<void> {
    return this.startupDone;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    if (this.burst.timer) clearTimeout(this.burst.timer);
    if (this.sweep.timer) clearTimeout(this.sweep.timer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    await this.watcher?.close();
    await this.queue.close();
    await this.reporter?.stop();
    if (this.audit) {
      await this.auditEvent({ event: 'warden-stop', pid: process.pid, counters: this.counters });
      await this.audit.close();
    }
    this.resolveStartup();
    this.logger.info('warden stopped', { counters: this.counters });
  }

  // --- events in ---

  /**
   * The kernel queues at most fs.inotify.max_queued_events (16384 by default) per watcher; past
   * that it drops events and reports an overflow, which libuv discards without a word. So a burst
   * of events is taken as a sign that some may be lost, and answered with a walk of the whole
   * tree once the second is out (coalesced with any full scan already running).
   */
  private noteEvent(): void {
    const now = Date.now();
    if (now - this.burst.windowStart >= 1000) {
      this.burst.windowStart = now;
      this.burst.count = 0;
    }
    if (++this.burst.count < BURST_EVENTS || this.burst.timer || this.stopping) return;
    this.counters.eventBursts++;
    this.logger.info('event burst: some inotify events may be lost, a full scan follows', { events: this.burst.count, withinMs: now - this.burst.windowStart });
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
        this.queue.onIdle(),
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

  private enqueue(p: Buffer, why: string): void {
    if (this.stopping) return;
    this.tempDeferral.sight(basenameOf(p), Date.now());
    this.queue.add(p, why);
  }

  private scheduleReconcile(dir: Buffer, sinceMs = Infinity): void {
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
        else this.enqueue(p, 'reconcile');
      }
    } catch (e) {
      this.logger.debug('reconcile failed', { dir: printable(dir), error: e });
    } finally {
      this.walksActive--;
    }
  }

  private onWatcherError(e: Error): void {
    const code = (e as NodeJS.ErrnoException).code;
    this.watcherErrors++;
    this.watcherLastError = `${code ?? ''} ${e.message}`.trim();
    if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE') {
      if (!this.watcherLimited) {
        this.watcherLimited = true;
        this.logger.alert('watcher hit a system limit; falling back to periodic full rescans', { error: e, everyS: this.cfg.degradedRescanS });
        this.auditEvent({ event: 'watcher-degraded', error: this.watcherLastError, rescanEveryS: this.cfg.degradedRescanS });
        const t = setInterval(() => void this.fullScan('watcher-degraded'), this.cfg.degradedRescanS * 1000);
        t.unref();
        this.timers.push(t);
      }
    } else {
      this.logger.warn('watcher error', { error: e });
    }
  }

  // --- walking ---

  private async walkWhenWatched(dir: Buffer, why: string): Promise<void> {
    this.walksActive++; // count the wait, so whenIdle() does not resolve in between
    try {
      await this.watcher.whenWatching(dir.toString());
      await this.walk(dir, why);
    } finally {
      this.walksActive--;
    }
  }

  private async walk(dir: Buffer, why: string, only?: (p: Buffer) => Promise<boolean>): Promise<{ entries: number; dirs: number }> {
    this.walksActive++;
    // These walks look for changes whose events were lost, not for new signatures: a file found
    // clean and still holding the same bytes need not be scanned again.
    const wanted = only ?? (SKIP_UNCHANGED_WALKS.has(why) ? (p: Buffer) => this.changedSinceClean(p) : null);
    try {
      return await walkTree(dir, {
        entry: async (p) => {
          if (wanted && !(await wanted(p))) return;
          if (this.queue.size >= this.queue.max) await this.queue.waitForCapacity();
          this.enqueue(p, why);
        },
        dir: (d, accessFixed) => {
          // Before its entries are listed. inotify: every directory is watched by us. Polling:
          // those chokidar cannot name, or could not read when they appeared (mode 000).
          if (this.watcher?.watchesEveryDir || accessFixed || !isUtf8(d)) this.watcher?.watchDir(d);
        },
        error: (d, e) => this.logger.warn('cannot list directory', { dir: printable(d), error: e }),
        stopped: () => this.stopping,
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
    const sha = this.cleanCache.cleanSha256(pathKey(p), identityOf(st));
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
  private scheduleSweep(sinceMs: number): void {
    this.sweep.since = Math.min(this.sweep.since, sinceMs);
    if (this.sweep.timer || this.stopping) return;
    this.sweep.timer = setTimeout(() => {
      this.sweep.timer = null;
      // One sweep at a time: a later request waits for the running one, then covers its own span.
      if (this.sweep.running) return this.scheduleSweep(this.sweep.since);
      const since = this.sweep.since;
      this.sweep.since = Infinity;
      this.sweep.running = true;
      const sinceNs = BigInt(Math.floor(since)) * 1_000_000n;
      void this.walk(this.root, 'gone-sweep', async (p) => {
        const st = await fs.promises.lstat(p, { bigint: true }).catch(() => null);
        return !!st?.isFile() && st.ctimeNs >= sinceNs && (await this.changedSinceClean(p, st));
      }).finally(() => {
        this.sweep.running = false;
      });
    }, 1000);
    this.sweep.timer.unref();
  }

  /** Walk the whole workspace into the queue (startup, periodic, after an overflow). One at a time. */
  private async fullScan(why: string): Promise<void> {
    if (this.stopping) return;
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
        this.counters.fullScans++;
        const st = await this.walk(this.root, reason);
        this.logger.info('full scan walked', { why: reason, entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 });
        if (reason === 'startup' && this.startupScan.state === 'running') {
          this.startupScan = { state: 'done', entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 };
          await this.auditEvent({ event: 'startup-scan-walked', entries: st.entries, dirs: st.dirs, ms: Date.now() - t0 });
          this.resolveStartup();
        }
        if (this.fullScanAgain === null || this.stopping) break;
        reason = this.fullScanAgain;
      }
    } finally {
      this.fullScanRunning = false;
      if (why === 'startup') this.resolveStartup();
    }
  }

  // --- clamd state ---

  private markClamdDown(e: Error): void {
    this.clamdLastError = e.message;
    if (this.clamdUp || this.clamdDownSince === null) {
      this.clamdUp = false;
      this.clamdDownSince = new Date().toISOString();
      this.logger.alert('clamd unreachable: scanning paused, nothing is marked clean until it is back', { clamd: endpointToString(this.cfg.clamd), error: e.message });
      this.auditEvent({ event: 'clamd-down', clamd: endpointToString(this.cfg.clamd), error: e.message });
    }
    this.queue.pause();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.stopping) return;
    const delay = backoffMs(this.probeAttempt++, this.cfg.backoffMinMs, this.cfg.backoffMaxMs);
    this.probeTimer = setTimeout(async () => {
      this.probeTimer = null;
      if (this.stopping) return;
      try {
        await this.clamd.ping();
        await this.markClamdUp();
      } catch (e) {
        this.clamdLastError = (e as Error).message;
        this.scheduleProbe();
      }
    }, delay);
  }

  private async markClamdUp(): Promise<void> {
    const wasDown = this.clamdDownSince !== null;
    this.clamdVersion = await this.clamd.version().catch(() => this.clamdVersion);
    if (this.cfg.concurrency === 'auto') {
      const stats = await this.clamd.stats().catch(() => null);
      const n = stats && stats.threadsMax > 0 ? Math.min(stats.threadsMax, 16) : 2;
      this.queue.setConcurrency(n);
    }
    this.clamdUp = true;
    this.probeAttempt = 0;
    if (wasDown) {
      this.logger.info('clamd reachable again: scanning resumes', { downSince: this.clamdDownSince, version: this.clamdVersion });
      this.auditEvent({ event: 'clamd-up', version: this.clamdVersion, downSince: this.clamdDownSince });
    }
    this.clamdDownSince = null;
    this.queue.resume();
  }

  // --- the scan job ---

  private async process(item: QueueItem): Promise<ProcessResult | void> {
    const p = item.path;
    const now = Date.now();
    const notBefore = this.tempDeferral.notBefore(basenameOf(p), item.firstSeen);
    if (notBefore > now) return { again: notBefore - now, countAttempt: false };
    if (!this.clamdUp) return { again: 0, countAttempt: false };
    if (item.crashes >= MAX_CRASHES) {
      return this.unscannable(p, null, null, null, { kind: 'unscannable', reason: 'clamd-error', detail: `clamd failed ${item.crashes} times while scanning this file` });
    }
    let out;
    this.cleanCache.forget(pathKey(p));
    try {
      out = await this.scanner.scan(p);
    } catch (e) {
      if (e instanceof ClamdUnavailableError) {
        this.markClamdDown(e);
        return { again: 0, countAttempt: false, crashed: e.midScan };
      }
      throw e;
    }
    // A watched directory replaced by something else (a file, a symlink): drop its watches.
    if (out.kind !== 'directory') this.watcher.forget(p);
    if (out.kind !== 'scanned') this.logger.debug('scan outcome', { path: printable(p), outcome: out.kind, reason: item.reason, attempt: item.attempts });
    switch (out.kind) {
      case 'gone':
        this.watcher.dropIfStale(dirnameOf(p));
        this.scheduleSweep(item.firstSeen - 2000);
        return;
      case 'symlink':
        this.counters.symlinksIgnored++;
        this.logger.info('symlink left alone (never followed)', { path: printable(p), target: out.target ? printable(out.target) : null });
        this.auditEvent({ event: 'symlink-ignored', path: recordPath(p), target: out.target ? recordPath(out.target) : null });
        return;
      case 'directory':
        // An event names a directory whenever anything about it changes; walking it for each
        // would let the prisoner amplify cheap events into full subtree walks: walk a directory
        // the watcher reports only the first time (the walk watches it, then lists it). Polling:
        // new directories arrive as chokidar addDir (walked there).
        if (item.reason === 'byte-watch' && this.watcher.isByteWatched(p)) return;
        void this.walk(p, 'dir');
        return;
      case 'special':
        this.counters.specialIgnored++;
        this.auditEvent({ event: 'special-file-ignored', path: recordPath(p), type: out.type });
        return;
      case 'raced':
        return this.changedAgain(item, out.why);
      case 'too-large':
        return this.unscannable(p, null, out.ident, null, {
          kind: 'unscannable', reason: 'too-large', detail: `${out.ident.size} bytes > WARDEN_MAX_FILE_SIZE ${this.cfg.maxFileSize}`,
        });
      case 'unreadable':
        return this.unscannable(p, null, out.ident, null, { kind: 'unscannable', reason: 'unreadable', detail: out.error });
      case 'scanned':
        break;
    }
    const fd = out.fd;
    try {
      this.counters.scans++;
      this.lastScanAt = Date.now();
      let v: Verdict = out.verdict;
      // A timeout or an ERROR is a verdict only if clamd is still there: one that is going down
      // answers nonsense (e.g. "PROTOCOL ERROR") on its last streams. Otherwise it is an outage:
      // the file waits for clamd (and counts as a crash, so a file that kills clamd each time
      // still ends up unscannable).
      if (v.kind === 'unscannable' && (v.reason === 'timeout' || v.reason === 'clamd-error')) {
        try {
          await this.clamd.ping();
        } catch (e) {
          this.markClamdDown(e as Error);
          return { again: 0, countAttempt: false, crashed: true };
        }
      }
      if (out.changed && v.kind !== 'infected') {
        this.counters.changedDuringScan++;
        if (item.attempts + 1 < this.cfg.maxRescans) return this.changedAgain(item, 'changed while being scanned');
        v = { kind: 'unscannable', reason: 'unstable', detail: `changed during ${item.attempts + 1} consecutive scans` };
      }
      const d = dispositionFor(v, this.cfg.unscannable);
      if (d.action === 'clean') {
        this.cleanCache.remember(pathKey(p), out.before, out.sha256);
        this.counters.clean++;
        this.logger.debug('clean', { path: printable(p), sha256: out.sha256, size: out.bytes });
        if (this.cfg.auditClean) this.auditEvent({ event: 'clean', path: recordPath(p), sha256: out.sha256, size: out.bytes });
        return;
      }
      if (v.kind === 'unscannable') return await this.unscannable(p, fd, out.before, out.sha256, v);
      return await this.quarantineFile(p, fd, out.before, out.sha256, v as Exclude<Verdict, { kind: 'clean' }>);
    } finally {
      fs.closeSync(fd);
    }
  }

  private changedAgain(item: QueueItem, why: string): ProcessResult {
    this.logger.debug('rescan', { path: printable(item.path), why, attempt: item.attempts + 1 });
    if (item.attempts + 1 >= this.cfg.maxRescans) {
      // will come back as 'unstable' through the scanned path, or keep racing: give it a last slow retry
      return { again: 5000 };
    }
    return { again: backoffMs(item.attempts, Math.max(10, this.cfg.debounceMs), 5000) };
  }

  private async unscannable(p: Buffer, fd: number | null, ident: FileIdentity | null, sha256: string | null, v: Extract<Verdict, { kind: 'unscannable' }>): Promise<ProcessResult | void> {
    this.counters.unscannable++;
    if (this.cfg.unscannable === 'allow') {
      this.counters.allowed++;
      this.logger.alert('unscannable file left in place (WARDEN_UNSCANNABLE=allow)', { path: printable(p), reason: v.reason, detail: v.detail });
      await this.auditEvent({ event: 'unscannable-allowed', path: recordPath(p), reason: v.reason, detail: v.detail, sha256, size: ident ? Number(ident.size) : null });
      return;
    }
    return this.quarantineFile(p, fd, ident, sha256, v);
  }

  private async quarantineFile(p: Buffer, fd: number | null, ident: FileIdentity | null, sha256: string | null, v: Exclude<Verdict, { kind: 'clean' }>): Promise<ProcessResult | void> {
    let r;
    try {
      r = await this.quarantine.quarantine({ path: p, fd, ident, scannedSha256: sha256, verdict: v });
    } catch (e) {
      r = { kind: 'failed' as const, error: (e as Error).message };
    }
    switch (r.kind) {
      case 'quarantined': {
        const rec = r.record;
        // Other hard links to this inode hold the same bytes under names that got no event
        // (inotify reports a write only on the directory of the name used): rescan everything.
        if ((rec.original.nlink ?? 1) > 1) void this.fullScan('hardlink');
        if (rec.verdict === 'infected') this.counters.infected++;
        this.counters.quarantined++;
        this.recentQuarantines.push(Date.now());
        if (this.recentQuarantines.length > RECENT_QUARANTINES_KEPT) this.recentQuarantines.shift();
        this.logger.alert('file quarantined', {
          id: rec.id, path: rec.original.path.text, verdict: rec.verdict, signature: rec.signature, reason: rec.reason, sha256: rec.sha256, size: rec.size, method: rec.method,
        });
        await this.auditEvent({
          event: 'quarantined', id: rec.id, status: rec.status, path: rec.original.path, relative: rec.original.relative, verdict: rec.verdict, signature: rec.signature,
          reason: rec.reason, sha256: rec.sha256, size: rec.size, owner: { uid: rec.original.uid, gid: rec.original.gid }, mode: rec.original.mode,
          method: rec.method, tombstone: rec.tombstone, notes: rec.notes,
        });
        return;
      }
      case 'not-needed':
      case 'raced':
        this.counters.quarantineRaces++;
        this.logger.info('quarantine aborted, rescanning', { path: printable(p), why: r.why });
        await this.auditEvent({ event: 'quarantine-raced', path: recordPath(p), why: r.why, verdict: describeVerdict(v) });
        return { again: this.cfg.debounceMs };
      case 'failed':
        this.counters.quarantineFailures++;
        this.logger.alert('quarantine failed; will retry', { path: printable(p), error: r.error });
        await this.auditEvent({ event: 'quarantine-failed', path: recordPath(p), error: r.error, verdict: describeVerdict(v) });
        return { again: 5000 };
    }
  }

  private async auditEvent(e: AuditEntry): Promise<void> {
    if (!this.audit) return;
    try {
      await this.audit.append(e);
    } catch (err) {
      this.counters.auditErrors++;
      this.logger.alert('audit log write failed', { error: err, event: e.event });
    }
  }

  // --- health ---

  health(): HealthSnapshot {
    const reasons: string[] = [];
    if (!this.clamdUp) reasons.push('clamd-unreachable');
    if (this.watcherLimited) reasons.push('watcher-limited');
    if (this.counters.auditErrors > 0) reasons.push('audit-errors');
    if (this.counters.quarantineFailures > 0 && this.queue.size > 0) reasons.push('quarantine-failures');
    const status = this.stopping ? 'stopping' : !this.started ? 'starting' : reasons.length ? 'degraded' : 'ok';
    const mem = process.memoryUsage();
    return {
      status,
      reasons,
      updatedAt: new Date().toISOString(),
      pid: process.pid,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      clamd: { endpoint: endpointToString(this.cfg.clamd), up: this.clamdUp, version: this.clamdVersion, downSince: this.clamdDownSince, lastError: this.clamdLastError },
      queue: this.queue.stats(),
      startupScan: this.startupScan,
      walksActive: this.walksActive,
      busy: this.busy,
      watcher: { errors: this.watcherErrors, lastError: this.watcherLastError, limited: this.watcherLimited, byteDirs: this.watcher?.byteDirCount ?? 0 },
      counters: { ...this.counters },
      // for `clawjail status`: when clamd last gave a verdict, and the last day's quarantines
      // (counted since this process started, at most RECENT_QUARANTINES_KEPT)
      lastScanAt: this.lastScanAt === null ? null : new Date(this.lastScanAt).toISOString(),
      quarantinedLastDay: this.recentQuarantines.filter((t) => t > Date.now() - 86_400_000).length,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
    };
  }

  /** The workspace root as resolved at start (for tests). */
  get workspace(): Buffer {
    return this.root;
  }

  relative(p: Buffer): Buffer {
    return relativeTo(this.root, p);
  }
}

async function realDir(dir: string, variable: string): Promise<Buffer> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(dir);
  } catch (e) {
    throw new Error(`${variable}: ${dir} is not accessible (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!st.isDirectory()) throw new Error(`${variable}: ${dir} is not a directory`);
  return fs.promises.realpath(dir, { encoding: 'buffer' });
}
