// The scan job: one queued path, from the scan to its disposition (clean, quarantined, left
// alone with an alert, or back into the queue). The decisions are policy.ts's; this sequences
// them and does what they say.
import * as fs from 'fs';
import type { AuditEntry } from './audit';
import { ClamdUnavailableError, type ClamdClient } from './clamdClient';
import type { ClamdMonitor } from './clamdMonitor';
import type { Verdict } from './clamdProtocol';
import type { CleanCache } from './cleanCache';
import type { WardenConfig } from './config';
import type { Logger } from '@clawjail/log';
import { basenameOf, dirnameOf, pathKey, printable, recordPath } from './paths';
import { backoffMs, describeVerdict, dispositionFor, type TempDeferral } from './policy';
import type { Quarantine } from './quarantine';
import type { ProcessResult, QueueItem } from './scanQueue';
import type { FileIdentity, Scanner } from './scanner';
import type { TreeWatcher } from './watcher';
import type { WardenCounters } from './warden';

/** Scans that clamd died in, after which a file is unscannable. */
const MAX_CRASHES = 3;
/** Quarantine times kept for the health snapshot's last-day count. */
const RECENT_QUARANTINES_KEPT = 10_000;

export interface ScanJobDeps {
  cfg: Pick<WardenConfig, 'maxRescans' | 'debounceMs' | 'unscannable' | 'maxFileSize' | 'auditClean'>;
  scanner: Pick<Scanner, 'scan'>;
  quarantine: Pick<Quarantine, 'quarantine'>;
  clamd: Pick<ClamdClient, 'ping'>;
  monitor: Pick<ClamdMonitor, 'up' | 'markDown'>;
  tempDeferral: Pick<TempDeferral, 'notBefore'>;
  cleanCache: Pick<CleanCache, 'forget' | 'remember'>;
  /** The watcher (it starts after the job exists; a job runs only once something is queued). */
  watcher: () => Pick<TreeWatcher, 'forget' | 'dropIfStale' | 'isByteWatched'>;
  counters: WardenCounters;
  logger: Logger;
  audit: (e: AuditEntry) => Promise<void>;
  /** Walk a directory an event named (the first time). */
  walkDir: (dir: Buffer) => void;
  /** Look for files changed since then under other names (a name gone before its scan). */
  sweepSince: (ms: number) => void;
  /** Walk the whole workspace (another hard link of a quarantined inode may hold the bytes). */
  rescanAll: (why: string) => void;
  /** Rewrite the health report now: the sentry freezes the prisoner on a failure without waiting for the next tick. */
  reportNow?: () => void;
}

export class ScanJob {
  /** When clamd last gave a verdict. */
  lastScanAt: number | null = null;
  private readonly recentQuarantines: number[] = [];

  constructor(private readonly d: ScanJobDeps) {}

  /** Quarantines since `sinceMs` (of the last RECENT_QUARANTINES_KEPT). */
  quarantinedSince(sinceMs: number): number {
    return this.recentQuarantines.filter((t) => t > sinceMs).length;
  }

  async process(item: QueueItem): Promise<ProcessResult | void> {
    const p = item.path;
    const now = Date.now();
    const notBefore = this.d.tempDeferral.notBefore(basenameOf(p), item.firstSeen);
    if (notBefore > now) return { again: notBefore - now, countAttempt: false };
    if (!this.d.monitor.up) return { again: 0, countAttempt: false };
    if (item.crashes >= MAX_CRASHES) {
      return this.unscannable(p, null, null, null, { kind: 'unscannable', reason: 'clamd-error', detail: `clamd failed ${item.crashes} times while scanning this file` });
    }
    let out;
    this.d.cleanCache.forget(pathKey(p));
    try {
      out = await this.d.scanner.scan(p);
    } catch (e) {
      if (e instanceof ClamdUnavailableError) {
        this.d.monitor.markDown(e);
        return { again: 0, countAttempt: false, crashed: e.midScan };
      }
      throw e;
    }
    // A watched directory replaced by something else (a file, a symlink): drop its watches.
    if (out.kind !== 'directory') this.d.watcher().forget(p);
    if (out.kind !== 'scanned') this.d.logger.debug('scan outcome', { path: printable(p), outcome: out.kind, reason: item.reason, attempt: item.attempts });
    switch (out.kind) {
      case 'gone':
        this.d.watcher().dropIfStale(dirnameOf(p));
        this.d.sweepSince(item.firstSeen - 2000);
        return;
      case 'symlink':
        this.d.counters.symlinksIgnored++;
        this.d.logger.info('symlink left alone (never followed)', { path: printable(p), target: out.target ? printable(out.target) : null });
        this.d.audit({ event: 'symlink-ignored', path: recordPath(p), target: out.target ? recordPath(out.target) : null });
        return;
      case 'directory':
        // An event names a directory whenever anything about it changes; walking it for each
        // would let the prisoner amplify cheap events into full subtree walks: walk a directory
        // the watcher reports only the first time (the walk watches it, then lists it). Polling:
        // new directories arrive as chokidar addDir (walked there).
        if (item.reason === 'byte-watch' && this.d.watcher().isByteWatched(p)) return;
        this.d.walkDir(p);
        return;
      case 'special':
        this.d.counters.specialIgnored++;
        this.d.audit({ event: 'special-file-ignored', path: recordPath(p), type: out.type });
        return;
      case 'raced':
        return this.changedAgain(item, out.why);
      case 'too-large':
        return this.unscannable(p, null, out.ident, null, {
          kind: 'unscannable', reason: 'too-large', detail: `${out.ident.size} bytes > WARDEN_MAX_FILE_SIZE ${this.d.cfg.maxFileSize}`,
        });
      case 'unreadable':
        return this.unscannable(p, null, out.ident, null, { kind: 'unscannable', reason: 'unreadable', detail: out.error });
      case 'scanned':
        break;
    }
    const fd = out.fd;
    try {
      this.d.counters.scans++;
      this.lastScanAt = Date.now();
      let v: Verdict = out.verdict;
      // A timeout or an ERROR is a verdict only if clamd is still there: one that is going down
      // answers nonsense (e.g. "PROTOCOL ERROR") on its last streams. Otherwise it is an outage:
      // the file waits for clamd (and counts as a crash, so a file that kills clamd each time
      // still ends up unscannable).
      if (v.kind === 'unscannable' && (v.reason === 'timeout' || v.reason === 'clamd-error')) {
        try {
          await this.d.clamd.ping();
        } catch (e) {
          this.d.monitor.markDown(e as Error);
          return { again: 0, countAttempt: false, crashed: true };
        }
      }
      if (out.changed && v.kind !== 'infected') {
        this.d.counters.changedDuringScan++;
        if (item.attempts + 1 < this.d.cfg.maxRescans) return this.changedAgain(item, 'changed while being scanned');
        v = { kind: 'unscannable', reason: 'unstable', detail: `changed during ${item.attempts + 1} consecutive scans` };
      }
      const d = dispositionFor(v, this.d.cfg.unscannable);
      if (d.action === 'clean') {
        this.d.cleanCache.remember(pathKey(p), out.before, out.sha256);
        this.d.counters.clean++;
        this.d.logger.debug('clean', { path: printable(p), sha256: out.sha256, size: out.bytes });
        if (this.d.cfg.auditClean) this.d.audit({ event: 'clean', path: recordPath(p), sha256: out.sha256, size: out.bytes });
        return;
      }
      if (v.kind === 'unscannable') return await this.unscannable(p, fd, out.before, out.sha256, v);
      return await this.quarantineFile(p, fd, out.before, out.sha256, v as Exclude<Verdict, { kind: 'clean' }>);
    } finally {
      fs.closeSync(fd);
    }
  }

  private changedAgain(item: QueueItem, why: string): ProcessResult {
    this.d.logger.debug('rescan', { path: printable(item.path), why, attempt: item.attempts + 1 });
    if (item.attempts + 1 >= this.d.cfg.maxRescans) {
      // will come back as 'unstable' through the scanned path, or keep racing: give it a last slow retry
      return { again: 5000 };
    }
    return { again: backoffMs(item.attempts, Math.max(10, this.d.cfg.debounceMs), 5000) };
  }

  private async unscannable(p: Buffer, fd: number | null, ident: FileIdentity | null, sha256: string | null, v: Extract<Verdict, { kind: 'unscannable' }>): Promise<ProcessResult | void> {
    this.d.counters.unscannable++;
    if (this.d.cfg.unscannable === 'allow') {
      this.d.counters.allowed++;
      this.d.logger.alert('unscannable file left in place (WARDEN_UNSCANNABLE=allow)', { path: printable(p), reason: v.reason, detail: v.detail });
      await this.d.audit({ event: 'unscannable-allowed', path: recordPath(p), reason: v.reason, detail: v.detail, sha256, size: ident ? Number(ident.size) : null });
      return;
    }
    return this.quarantineFile(p, fd, ident, sha256, v);
  }

  private async quarantineFile(p: Buffer, fd: number | null, ident: FileIdentity | null, sha256: string | null, v: Exclude<Verdict, { kind: 'clean' }>): Promise<ProcessResult | void> {
    let r;
    try {
      r = await this.d.quarantine.quarantine({ path: p, fd, ident, scannedSha256: sha256, verdict: v });
    } catch (e) {
      r = { kind: 'failed' as const, error: (e as Error).message };
    }
    switch (r.kind) {
      case 'quarantined': {
        const rec = r.record;
        // Other hard links to this inode hold the same bytes under names that got no event
        // (inotify reports a write only on the directory of the name used): rescan everything.
        if ((rec.original.nlink ?? 1) > 1) this.d.rescanAll('hardlink');
        if (rec.verdict === 'infected') this.d.counters.infected++;
        this.d.counters.quarantined++;
        this.recentQuarantines.push(Date.now());
        if (this.recentQuarantines.length > RECENT_QUARANTINES_KEPT) this.recentQuarantines.shift();
        this.d.logger.alert('file quarantined', {
          id: rec.id, path: rec.original.path.text, verdict: rec.verdict, signature: rec.signature, reason: rec.reason, sha256: rec.sha256, size: rec.size, method: rec.method,
        });
        await this.d.audit({
          event: 'quarantined', id: rec.id, status: rec.status, path: rec.original.path, relative: rec.original.relative, verdict: rec.verdict, signature: rec.signature,
          reason: rec.reason, sha256: rec.sha256, size: rec.size, owner: { uid: rec.original.uid, gid: rec.original.gid }, mode: rec.original.mode,
          method: rec.method, tombstone: rec.tombstone, notes: rec.notes,
        });
        return;
      }
      case 'not-needed':
      case 'raced':
        this.d.counters.quarantineRaces++;
        this.d.logger.info('quarantine aborted, rescanning', { path: printable(p), why: r.why });
        await this.d.audit({ event: 'quarantine-raced', path: recordPath(p), why: r.why, verdict: describeVerdict(v) });
        return { again: this.d.cfg.debounceMs };
      case 'failed':
        this.d.counters.quarantineFailures++;
        this.d.reportNow?.();
        this.d.logger.alert('quarantine failed; will retry', { path: printable(p), error: r.error });
        await this.d.audit({ event: 'quarantine-failed', path: recordPath(p), error: r.error, verdict: describeVerdict(v) });
        return { again: 5000 };
    }
  }
}
