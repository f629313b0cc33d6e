// Whether clamd is there. Down: the scan queue pauses (nothing is marked clean without clamd) and
// clamd is probed with exponential backoff; up again: scanning resumes, on as many streams as
// clamd has threads when the concurrency is "auto". Each change is logged and audited once.
import type { AuditEntry } from './audit';
import type { ClamdClient } from './clamdClient';
import type { Logger } from '@clawjail/log';
import { backoffMs } from './policy';

export interface ClamdMonitorOptions {
  clamd: Pick<ClamdClient, 'ping' | 'version' | 'stats'>;
  /** For the log and the audit: where clamd is. */
  endpoint: string;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Take the scan concurrency from clamd's thread count whenever it comes up. */
  autoConcurrency: boolean;
  logger: Logger;
  audit: (e: AuditEntry) => void;
  /** clamd went away: stop taking files off the queue. */
  onDown: () => void;
  /** clamd is back (or there at start): scan again, on `streams` at once when auto. */
  onUp: (streams: number | null) => void;
}

export interface ClamdState {
  up: boolean;
  version: string | null;
  downSince: string | null;
  lastError: string | null;
}

/** Streams to scan on at most, whatever clamd says. */
const MAX_STREAMS = 16;

export class ClamdMonitor {
  private state: ClamdState = { up: false, version: null, downSince: null, lastError: null };
  private timer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopped = false;

  constructor(private readonly opts: ClamdMonitorOptions) {}

  get up(): boolean {
    return this.state.up;
  }

  snapshot(): ClamdState {
    return { ...this.state };
  }

  /** The first look at start: up, or down with probing. */
  async check(): Promise<void> {
    try {
      await this.opts.clamd.ping();
      await this.markUp();
    } catch (e) {
      this.markDown(e as Error);
    }
  }

  markDown(e: Error): void {
    this.state.lastError = e.message;
    if (this.state.up || this.state.downSince === null) {
      this.state.up = false;
      this.state.downSince = new Date().toISOString();
      this.opts.logger.alert('clamd unreachable: scanning paused, nothing is marked clean until it is back', { clamd: this.opts.endpoint, error: e.message });
      this.opts.audit({ event: 'clamd-down', clamd: this.opts.endpoint, error: e.message });
    }
    this.opts.onDown();
    this.scheduleProbe();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private scheduleProbe(): void {
    if (this.timer || this.stopped) return;
    const delay = backoffMs(this.attempt++, this.opts.backoffMinMs, this.opts.backoffMaxMs);
    this.timer = setTimeout(async () => {
      this.timer = null;
      if (this.stopped) return;
      try {
        await this.opts.clamd.ping();
        await this.markUp();
      } catch (e) {
        this.state.lastError = (e as Error).message;
        this.scheduleProbe();
      }
    }, delay);
  }

  private async markUp(): Promise<void> {
    const wasDown = this.state.downSince !== null;
    this.state.version = await this.opts.clamd.version().catch(() => this.state.version);
    let streams: number | null = null;
    if (this.opts.autoConcurrency) {
      const stats = await this.opts.clamd.stats().catch(() => null);
      streams = stats && stats.threadsMax > 0 ? Math.min(stats.threadsMax, MAX_STREAMS) : 2;
    }
    this.state.up = true;
    this.attempt = 0;
    if (wasDown) {
      this.opts.logger.info('clamd reachable again: scanning resumes', { downSince: this.state.downSince, version: this.state.version });
      this.opts.audit({ event: 'clamd-up', version: this.state.version, downSince: this.state.downSince });
    }
    this.state.downSince = null;
    this.opts.onUp(streams);
  }
}
