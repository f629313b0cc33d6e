// Per-client token bucket for new connections. Pure (the clock is passed in); memory is bounded.
import * as net from 'net';

export interface RateLimitOptions {
  /** Tokens added per minute (sustained rate). */
  perMinute: number;
  /** Bucket size (burst). */
  burst: number;
  /** Most clients tracked at once; the stalest are forgotten first. */
  maxClients?: number;
}

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  updated: number;
}

/** Canonical key for a client address: IPv4-mapped IPv6 is folded, IPv6 is keyed by its /64. */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (net.isIPv6(address)) {
    // One host usually owns a whole /64; keying by it stops address-hopping around the limit.
    const full = expandIPv6(address);
    return full.slice(0, 4).join(':') + '::/64';
  }
  return address;
}

function expandIPv6(address: string): string[] {
  const [head, tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((x) => x.toLowerCase().replace(/^0+(?=.)/, ''));
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(opts: RateLimitOptions) {
    if (!(opts.perMinute > 0) || !(opts.burst >= 1)) throw new Error('rate limit: perMinute > 0 and burst >= 1 required');
    this.perMs = opts.perMinute / 60_000;
    this.burst = opts.burst;
    this.maxClients = opts.maxClients ?? 10_000;
  }

  /** Takes one token for `key` at time `now` (ms). */
  take(key: string, now: number): RateDecision {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.updated) * this.perMs);
      b.updated = now;
      // Map order = insertion order: re-insert to mark as most recently used.
      this.buckets.delete(key);
    } else {
      b = { tokens: this.burst, updated: now };
      this.evict(now);
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens) };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / this.perMs) };
  }

  /** True when `key` has a token available at `now`, without taking it. */
  peek(key: string, now: number): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    return Math.min(this.burst, b.tokens + (now - b.updated) * this.perMs) >= 1;
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    // Forget buckets that have refilled completely (they carry no information), then the stalest.
    if (this.buckets.size < this.maxClients) return;
    const fullAfterMs = this.burst / this.perMs;
    for (const [key, b] of this.buckets) {
      if (now - b.updated >= fullAfterMs) this.buckets.delete(key);
      else break; // ordered by last use: the rest are fresher
    }
    while (this.buckets.size >= this.maxClients) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}
