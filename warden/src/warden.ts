// The warden: wires watcher → queue → scan job (scanJob.ts) → quarantine, with clamd's state in
// clamdMonitor.ts and the walks (startup, periodic, after lost events) in walkScheduler.ts; here
// are the watcher's limits and the health snapshot. Decisions live in policy.ts; these files only
// sequence them.

import * as fs from 'fs';
import { WardenConfig } from './config';
import { ClamdClient } from './clamdClient';
import { ClamdMonitor } from './clamdMonitor';
import { ScanJob } from './scanJob';
import { WalkScheduler } from './walkScheduler';
import { endpointToString } from './clamdProtocol';
import { Scanner, fdChunks } from './scanner';
import { CleanCache } from './cleanCache';
import { Quarantine } from './quarantine';
import { AuditLog, AuditEntry } from './audit';
import { ScanQueue } from './scanQueue';
import { TreeWatcher } from './watcher';
import { HealthReporter, HealthSnapshot } from './health';
import { createLogger, type Logger, type LogLevel } from '@clawjail/log';
import { auditPath } from './quarantineStore';
import { TempDeferral } from './policy';
import { basenameOf, printable, relativeTo } from './paths';

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

/** The warden's log: JSON lines on stdout. */
export function wardenLogger(level: LogLevel): Logger {
  return createLogger({ component: 'warden', level, sink: (l) => process.stdout.write(l) });
}

export class Warden {
  readonly logger: Logger;
  readonly clamd: ClamdClient;
  readonly queue: ScanQueue;
  private root!: Buffer;
  private store!: string;
  private scanner!: Scanner;
  private quarantine!: Quarantine;
  private audit!: AuditLog;
  private watcher!: TreeWatcher;
  private reporter!: HealthReporter;
  private started = false;
  private stopping = false;
  private readonly monitor: ClamdMonitor;
  private job!: ScanJob;
  private readonly walks: WalkScheduler;
  private watcherErrors = 0;
  private watcherLastError: string | null = null;
  private watcherLimited = false;
  /** When the watcher last hit a system limit (ENOSPC, EMFILE, ENFILE), and the rescans that stand in for it. */
  private watcherLimitAt = 0;
  private degradedRescan: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  private healthPort: number | null = null;
  private readonly tempDeferral: TempDeferral;
  private readonly cleanCache = new CleanCache();
  readonly counters: WardenCounters = {
    scans: 0, clean: 0, infected: 0, unscannable: 0, quarantined: 0, allowed: 0, symlinksIgnored: 0, specialIgnored: 0,
    changedDuringScan: 0, quarantineRaces: 0, quarantineFailures: 0, fullScans: 0, auditErrors: 0, eventBursts: 0,
  };

  constructor(readonly cfg: WardenConfig, private readonly deps: WardenDeps = {}) {
    this.logger = deps.logger ?? wardenLogger(cfg.logLevel);
    // Polling never sees a temp file go away, so a run could not end honestly: no deferral there.
    this.tempDeferral = new TempDeferral(cfg.poll ? 0 : cfg.tmpGraceMs);
    this.clamd = new ClamdClient(cfg.clamd, { connectTimeoutMs: cfg.connectTimeoutMs, timeoutMs: cfg.scanTimeoutMs, sessions: cfg.clamdReadTimeoutS > 0, clamdReadTimeoutMs: cfg.clamdReadTimeoutS * 1000 });
    this.queue = new ScanQueue((item) => this.job.process(item), {
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
      if (this.queue.takeOverflow()) void this.walks.fullScan('overflow');
    });
    this.monitor = new ClamdMonitor({
      clamd: this.clamd,
      endpoint: endpointToString(cfg.clamd),
      backoffMinMs: cfg.backoffMinMs,
      backoffMaxMs: cfg.backoffMaxMs,
      autoConcurrency: cfg.concurrency === 'auto',
      logger: this.logger,
      audit: (e) => void this.auditEvent(e),
      // Each change reported at once: the sentry freezes the prisoner on the report, not a tick later.
      onDown: () => {
        this.queue.pause();
        this.reporter?.writeFile();
      },
      onUp: (streams) => {
        if (streams !== null) this.queue.setConcurrency(streams);
        this.queue.resume();
        this.reporter?.writeFile();
      },
    });
    this.walks = new WalkScheduler({
      root: () => this.root,
      queue: this.queue,
      watcher: () => this.watcher,
      enqueue: (p, why) => this.enqueue(p, why),
      cleanCache: this.cleanCache,
      counters: this.counters,
      logger: this.logger,
      audit: (e) => this.auditEvent(e),
      stopping: () => this.stopping,
      afterFullWalk: (why, startedAt) => this.afterFullWalk(why, startedAt),
    });
  }

  /** Start watching and scanning. Resolves once the watcher is ready; the startup scan runs on. */
  async start(): Promise<void> {
    const cfg = this.cfg;
    const watchReal = await realDir(cfg.watch, 'WARDEN_WATCH');
    this.store = (await realDir(cfg.quarantine, 'WARDEN_QUARANTINE')).toString();
    this.root = watchReal;
    this.audit = AuditLog.open(auditPath(this.store));
    this.scanner = new Scanner(this.clamd, { root: this.root, maxFileSize: cfg.maxFileSize, chunkSize: cfg.chunkSize, scanTimeoutMs: cfg.scanTimeoutMs, afterRead: this.deps.afterRead });
    this.quarantine = new Quarantine({
      root: this.root,
      store: this.store,
      logger: this.logger,
      forceCopy: this.deps.forceCopy,
      rescan: (fd) => this.clamd.instream(fdChunks(fd, cfg.chunkSize), cfg.scanTimeoutMs),
    });
    this.job = new ScanJob({
      cfg,
      scanner: this.scanner,
      quarantine: this.quarantine,
      clamd: this.clamd,
      monitor: this.monitor,
      tempDeferral: this.tempDeferral,
      cleanCache: this.cleanCache,
      watcher: () => this.watcher,
      counters: this.counters,
      logger: this.logger,
      audit: (e) => this.auditEvent(e),
      walkDir: (dir) => void this.walks.walk(dir, 'dir'),
      sweepSince: (ms) => this.walks.scheduleSweep(ms),
      reportNow: () => this.reporter?.writeFile(),
      rescanAll: (why) => void this.walks.fullScan(why),
    });
    for (const rec of await this.quarantine.init()) {
      this.logger.alert('finished a quarantine interrupted by a previous stop', { id: rec.id, path: rec.original.path.text });
      await this.auditEvent({ event: 'quarantine-recovered', id: rec.id, path: rec.original.path, sha256: rec.sha256, size: rec.size });
    }
    await this.auditEvent({ event: 'warden-start', pid: process.pid, workspace: printable(this.root), clamd: endpointToString(cfg.clamd), unscannable: cfg.unscannable, maxFileSize: cfg.maxFileSize, poll: cfg.poll });

    await this.monitor.check();

    this.watcher = new TreeWatcher(this.root, { poll: cfg.poll, pollIntervalMs: cfg.pollIntervalMs }, {
      onPath: (p, why) => {
        this.walks.noteEvent();
        this.enqueue(p, why);
      },
      // polling: list a new directory only once it is watched (see TreeWatcher.whenWatching)
      onDir: (p, why) => void this.walks.walkWhenWatched(p, why),
      onReconcile: (d, since) => this.walks.scheduleReconcile(d, since),
      onError: (e) => this.onWatcherError(e),
    });
    await this.watcher.start();
    this.reporter = new HealthReporter(() => this.health(), { port: cfg.healthPort, host: cfg.healthHost, file: cfg.healthFile });
    this.healthPort = await this.reporter.start();
    this.started = true;
    this.logger.info('warden started', { workspace: printable(this.root), store: this.store, clamd: endpointToString(cfg.clamd), healthPort: this.healthPort });

    if (cfg.rescanIntervalS > 0) {
      const t = setInterval(() => void this.walks.fullScan('periodic'), cfg.rescanIntervalS * 1000);
      t.unref();
      this.timers.push(t);
    }
    void this.walks.fullScan('startup');
  }

  get healthPortInUse(): number | null {
    return this.healthPort;
  }

  /** Resolves when the startup scan is done and nothing is queued, scanned or walked. */
  async whenIdle(): Promise<void> {
    await this.walks.whenStartupWalked();
    for (let stable = 0; stable < 3; ) {
      await this.queue.onIdle();
      await new Promise((r) => setTimeout(r, 20));
      stable = this.busy ? 0 : stable + 1;
    }
  }

  /** Anything queued, scanned or walked, or work already promised: a walk on a timer, audit lines not yet on disk. */
  private get busy(): boolean {
    return (
      this.walks.busy || this.queue.size > 0 || this.queue.stats().inflight > 0 || !!this.audit?.busy
    );
  }

  whenStartupScanDone(): Promise<void> {
    return this.walks.whenStartupWalked();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.monitor.stop();
    this.clamd.close();
    this.walks.stop();
    if (this.degradedRescan) clearInterval(this.degradedRescan);
    await this.watcher?.close();
    await this.queue.close();
    await this.reporter?.stop();
    if (this.audit) {
      await this.auditEvent({ event: 'warden-stop', pid: process.pid, counters: this.counters });
      await this.audit.close();
    }
    this.logger.info('warden stopped', { counters: this.counters });
  }

  // --- events in ---

  private enqueue(p: Buffer, why: string): void {
    if (this.stopping) return;
    this.tempDeferral.sight(basenameOf(p), Date.now());
    this.queue.add(p, why);
  }

  private onWatcherError(e: Error): void {
    const code = (e as NodeJS.ErrnoException).code;
    this.watcherErrors++;
    this.watcherLastError = `${code ?? ''} ${e.message}`.trim();
    if (code === 'ENOSPC' || code === 'EMFILE' || code === 'ENFILE') {
      this.watcherLimitAt = Date.now();
      if (!this.watcherLimited) {
        this.watcherLimited = true;
        this.logger.alert('watcher hit a system limit; falling back to periodic full rescans', { error: e, everyS: this.cfg.degradedRescanS });
        this.auditEvent({ event: 'watcher-degraded', error: this.watcherLastError, rescanEveryS: this.cfg.degradedRescanS });
        this.degradedRescan = setInterval(() => void this.walks.fullScan('watcher-degraded'), this.cfg.degradedRescanS * 1000);
        this.degradedRescan.unref();
      }
    } else {
      this.logger.warn('watcher error', { error: e });
    }
  }

  /**
   * After a full walk: watches on directories gone meanwhile are dropped (their events may have
   * been lost), and a watcher that hit a limit is whole again when a whole walk, which watches
   * every directory it lists, met no limit: the rescans that stood in for it stop.
   */
  private afterFullWalk(why: string, startedAt: number): void {
    const dropped = this.watcher?.pruneStale() ?? 0;
    if (dropped > 0) this.logger.info('dropped the watches of directories gone unseen', { dropped, after: why });
    if (this.watcherLimited && this.watcherLimitAt < startedAt && this.watcher && this.watcher.byteDirCount < this.watcher.dirBudget) {
      this.watcherLimited = false;
      if (this.degradedRescan) clearInterval(this.degradedRescan);
      this.degradedRescan = null;
      this.logger.info('watcher whole again: every directory is watched', { directories: this.watcher.byteDirCount, after: why });
      this.auditEvent({ event: 'watcher-recovered', directories: this.watcher.byteDirCount });
    }
  }

  private async auditEvent(e: AuditEntry): Promise<void> {
    if (!this.audit) return;
    try {
      await this.audit.append(e);
    } catch (err) {
      this.counters.auditErrors++;
      this.reporter?.writeFile();
      this.logger.alert('audit log write failed', { error: err, event: e.event });
    }
  }

  // --- health ---

  health(): HealthSnapshot {
    const reasons: string[] = [];
    const clamd = this.monitor.snapshot();
    const queue = this.queue.stats();
    if (!clamd.up) reasons.push('clamd-unreachable');
    if (this.watcherLimited) reasons.push('watcher-limited');
    if (this.counters.auditErrors > 0) reasons.push('audit-errors');
    // a failing file is in flight or queued again: count both, or a report between its tries says ok
    if (this.counters.quarantineFailures > 0 && queue.pending + queue.inflight > 0) reasons.push('quarantine-failures');
    const status = this.stopping ? 'stopping' : !this.started ? 'starting' : reasons.length ? 'degraded' : 'ok';
    const mem = process.memoryUsage();
    return {
      status,
      reasons,
      updatedAt: new Date().toISOString(),
      // what an outage left is judged: the startup walk done and nothing queued or in flight (the
      // periodic and degraded rescans do not count: they may run on for as long as they like)
      caughtUp: this.walks.startup.state === 'done' && queue.pending === 0 && queue.inflight === 0,
      pid: process.pid,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      // sessions: whether scans run in clamd sessions (the scan timeout ends before clamd's ReadTimeout), and how many were opened
      clamd: { endpoint: endpointToString(this.cfg.clamd), ...clamd, sessions: this.clamd.sessionFor(this.cfg.scanTimeoutMs), sessionsOpened: this.clamd.sessionsOpened },
      queue,
      startupScan: this.walks.startup,
      walksActive: this.walks.active,
      busy: this.busy,
      watcher: { errors: this.watcherErrors, lastError: this.watcherLastError, limited: this.watcherLimited, byteDirs: this.watcher?.byteDirCount ?? 0 },
      counters: { ...this.counters },
      // for `clawjail status`: when clamd last gave a verdict, and the last day's quarantines
      // (counted since this process started, at most RECENT_QUARANTINES_KEPT)
      lastScanAt: this.job?.lastScanAt == null ? null : new Date(this.job.lastScanAt).toISOString(),
      quarantinedLastDay: this.job?.quarantinedSince(Date.now() - 86_400_000) ?? 0,
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
