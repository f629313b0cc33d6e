// The scan queue: one pending entry per path (dedupe), bounded concurrency, delayed retries,
// rescan-on-change, pause/resume (clamd down), and a hard bound on what it holds.
//
// - add() of a path that is waiting merges into the waiting entry; of a path being scanned marks
//   it dirty, and a dirty path is queued again when its scan ends (a write during a scan is never
//   lost, whatever the scan concluded).
// - When `max` paths are waiting, further adds are dropped and `overflowed` is set: the owner
//   must then rescan the whole tree once the queue drains (like inotify's IN_Q_OVERFLOW). So
//   memory is bounded by `max` under any flood, and nothing is lost.
// - waitForCapacity() lets a producer that can wait (the tree walker) apply backpressure.
//
// No filesystem or network here: the processing function is injected.

import { EventEmitter } from 'events';

export interface QueueItem {
  readonly key: string;
  readonly path: Buffer;
  /** when the path was first queued in this episode (kept across merges and retries) */
  readonly firstSeen: number;
  readyAt: number;
  /** times it was re-queued because it changed or a retry was asked for */
  attempts: number;
  /** times a scan failed because clamd went away mid-scan */
  crashes: number;
  reason: string;
}

export interface ProcessResult {
  /** queue this path again after this many ms */
  again?: number;
  /** count the retry in item.attempts (default true) */
  countAttempt?: boolean;
  /** count a clamd crash in item.crashes */
  crashed?: boolean;
}

export type AddResult = 'queued' | 'merged' | 'dirty' | 'overflow';

export interface QueueStats {
  pending: number;
  inflight: number;
  /** How long the oldest file ready for its scan has waited (0: none waits): the backlog the sentry bounds. */
  oldestWaitingMs: number;
  highWater: number;
  added: number;
  processed: number;
  merged: number;
  dirtyRequeues: number;
  retries: number;
  dropped: number;
  overflows: number;
  paused: boolean;
  concurrency: number;
  max: number;
}

export interface ScanQueueOptions {
  concurrency: number;
  max: number;
  debounceMs: number;
  now?: () => number;
  onError?: (err: unknown, item: QueueItem) => void;
}

export class ScanQueue extends EventEmitter {
  private readonly pending = new Map<string, QueueItem>();
  private readonly fifo: QueueItem[] = [];
  private fifoHead = 0;
  private readonly heap: QueueItem[] = [];
  private readonly inflight = new Map<string, QueueItem>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private paused = false;
  private closed = false;
  private concurrency: number;
  private idleWaiters: (() => void)[] = [];
  private capacityWaiters: (() => void)[] = [];
  private overflow = false;
  private readonly now: () => number;
  private readonly counters = { added: 0, processed: 0, merged: 0, dirtyRequeues: 0, retries: 0, dropped: 0, overflows: 0, highWater: 0 };

  constructor(private readonly process: (item: QueueItem) => Promise<ProcessResult | void>, private readonly opts: ScanQueueOptions) {
    super();
    this.concurrency = Math.max(1, opts.concurrency);
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.pending.size;
  }

  get max(): number {
    return this.opts.max;
  }

  get overflowed(): boolean {
    return this.overflow;
  }

  /** Clear and return the overflow flag (the caller then schedules a full rescan). */
  takeOverflow(): boolean {
    const o = this.overflow;
    this.overflow = false;
    return o;
  }

  add(path: Buffer, reason = 'event', delayMs = this.opts.debounceMs): AddResult {
    if (this.closed) return 'overflow';
    const key = path.toString('latin1');
    if (this.inflight.has(key)) {
      this.dirty.add(key);
      return 'dirty';
    }
    if (this.pending.has(key)) {
      this.counters.merged++;
      return 'merged';
    }
    if (this.pending.size >= this.opts.max) {
      this.counters.dropped++;
      if (!this.overflow) {
        this.overflow = true;
        this.counters.overflows++;
        this.emit('overflow');
      }
      return 'overflow';
    }
    const now = this.now();
    const item: QueueItem = { key, path, firstSeen: now, readyAt: now + delayMs, attempts: 0, crashes: 0, reason };
    this.pending.set(key, item);
    this.counters.added++;
    if (delayMs === this.opts.debounceMs) this.fifo.push(item);
    else this.heapPush(item);
    this.trackHighWater();
    this.schedule();
    return 'queued';
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  setConcurrency(n: number): void {
    this.concurrency = Math.max(1, n);
    this.schedule();
  }

  stats(): QueueStats {
    const head = this.fifoHead < this.fifo.length ? this.fifo[this.fifoHead] : null;
    return {
      pending: this.pending.size,
      inflight: this.inflight.size,
      oldestWaitingMs: head ? Math.max(0, this.now() - head.readyAt) : 0,
      ...this.counters,
      paused: this.paused,
      concurrency: this.concurrency,
      max: this.opts.max,
    };
  }

  /** Resolves when nothing is waiting or being scanned. */
  onIdle(): Promise<void> {
    if (this.pending.size === 0 && this.inflight.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Resolves when the queue is at or below half its bound (for producers that can wait). */
  waitForCapacity(): Promise<void> {
    if (this.closed || this.pending.size < this.opts.max / 2) return Promise.resolve();
    return new Promise((r) => this.capacityWaiters.push(r));
  }

  /** Stop dispatching; wait for scans in flight (up to timeoutMs). */
  async close(timeoutMs = 10000): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const until = Date.now() + timeoutMs;
    while (this.inflight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    this.capacityWaiters.splice(0).forEach((w) => w());
    this.idleWaiters.splice(0).forEach((w) => w());
  }

  private trackHighWater(): void {
    const held = this.pending.size + this.inflight.size;
    if (held > this.counters.highWater) this.counters.highWater = held;
  }

  private schedule(): void {
    if (this.closed) return;
    while (!this.paused && this.inflight.size < this.concurrency) {
      const item = this.takeReady();
      if (!item) break;
      this.run(item);
    }
    if (this.paused || this.inflight.size >= this.concurrency) return;
    const next = this.nextReadyAt();
    if (next === Infinity) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.schedule();
    }, Math.max(0, next - this.now()));
  }

  private nextReadyAt(): number {
    const f = this.fifoHead < this.fifo.length ? this.fifo[this.fifoHead].readyAt : Infinity;
    const h = this.heap.length ? this.heap[0].readyAt : Infinity;
    return Math.min(f, h);
  }

  private takeReady(): QueueItem | null {
    const now = this.now();
    const f = this.fifoHead < this.fifo.length ? this.fifo[this.fifoHead] : null;
    const h = this.heap.length ? this.heap[0] : null;
    let pick: QueueItem | null = null;
    if (f && f.readyAt <= now && (!h || f.readyAt <= h.readyAt)) {
      pick = f;
      this.fifoHead++;
      if (this.fifoHead > 1024 && this.fifoHead * 2 > this.fifo.length) {
        this.fifo.splice(0, this.fifoHead);
        this.fifoHead = 0;
      }
    } else if (h && h.readyAt <= now) {
      pick = this.heapPop();
    }
    return pick;
  }

  private run(item: QueueItem): void {
    this.pending.delete(item.key);
    this.inflight.set(item.key, item);
    this.trackHighWater();
    const finish = (res: ProcessResult | void) => {
      this.inflight.delete(item.key);
      this.counters.processed++;
      const wasDirty = this.dirty.delete(item.key);
      if (!this.closed) {
        if (res && res.again !== undefined) {
          if (res.countAttempt !== false) item.attempts++;
          if (res.crashed) item.crashes++;
          this.counters.retries++;
          this.requeue(item, res.again);
        } else if (wasDirty) {
          item.attempts++;
          this.counters.dirtyRequeues++;
          this.requeue(item, this.opts.debounceMs);
        }
      }
      this.afterChange();
    };
    let p: Promise<ProcessResult | void>;
    try {
      p = this.process(item);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(finish, (err) => {
      this.opts.onError?.(err, item);
      finish({ again: Math.min(60000, 100 * 2 ** Math.min(item.attempts, 10)) });
    });
  }

  private requeue(item: QueueItem, delayMs: number): void {
    const existing = this.pending.get(item.key);
    if (existing) return; // cannot happen (adds during a scan mark it dirty), but never duplicate
    item.readyAt = this.now() + delayMs;
    this.pending.set(item.key, item);
    this.heapPush(item);
    this.trackHighWater();
  }

  private afterChange(): void {
    if (this.overflow && this.pending.size < this.opts.max / 2) this.emit('overflow-drained');
    if (this.pending.size < this.opts.max / 2 && this.capacityWaiters.length) {
      this.capacityWaiters.splice(0).forEach((w) => w());
    }
    if (this.pending.size === 0 && this.inflight.size === 0) {
      this.idleWaiters.splice(0).forEach((w) => w());
      this.emit('idle');
    }
    this.schedule();
  }

  // --- binary min-heap on readyAt ---
  private heapPush(item: QueueItem): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].readyAt <= h[i].readyAt) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private heapPop(): QueueItem | null {
    const h = this.heap;
    if (!h.length) return null;
    const top = h[0];
    const last = h.pop() as QueueItem;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l].readyAt < h[m].readyAt) m = l;
        if (r < h.length && h[r].readyAt < h[m].readyAt) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}
