// Destinations that were refused and await the operator's decision (`clawjail egress pending`).
// Rebuilt from the decision log's tail at start; cleared by an allow/deny of a matching entry.
import type { Decision } from './decisionLog';
import { allowMatches, denyMatches, type PolicyEntry } from './policy';

export interface PendingItem {
  host: string;
  port: number;
  count: number;
  first: string;
  last: string;
  reason: string;
}

/**
 * Reasons that are not about the destination: a decision by the operator would not change them
 * (`denied` is already a decision; the others are about the request or the gate's load).
 */
const NOT_PENDING = new Set(['denied', 'too-many-connections', 'header-too-large', 'bad-request']);

export const MAX_PENDING = 1000;

export class Pending {
  private items = new Map<string, PendingItem>();

  constructor(private readonly max = MAX_PENDING) {}

  /** Note a decision; a denial adds to pending, an allow of the same host:port clears it. */
  note(d: Pick<Decision, 'host' | 'port' | 'decision' | 'reason' | 'time'>): void {
    if (d.host === null || d.port === null) return;
    const key = `${d.host}:${d.port}`;
    if (d.decision === 'allow') {
      this.items.delete(key);
      return;
    }
    if (d.reason === null || NOT_PENDING.has(d.reason)) return;
    const item = this.items.get(key);
    if (item) {
      item.count++;
      item.last = d.time;
      item.reason = d.reason;
      this.items.delete(key);
      this.items.set(key, item); // most recent last
      return;
    }
    this.items.set(key, { host: d.host, port: d.port, count: 1, first: d.time, last: d.time, reason: d.reason });
    while (this.items.size > this.max) this.items.delete(this.items.keys().next().value as string);
  }

  /** Clear what an allow (kind 'allow') or deny (kind 'deny') of `entry` decides. */
  clear(entry: PolicyEntry, kind: 'allow' | 'deny'): number {
    let n = 0;
    for (const [key, item] of this.items) {
      const hit = kind === 'allow' ? allowMatches(entry, item.host, item.port) : denyMatches(entry, item.host, item.port);
      if (hit) {
        this.items.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Drop whatever `decided(host, port)` says the policy now decides (after a restart or a file edit). */
  retain(undecided: (host: string, port: number) => boolean): void {
    for (const [key, item] of this.items) if (!undecided(item.host, item.port)) this.items.delete(key);
  }

  list(): PendingItem[] {
    return [...this.items.values()].map((i) => ({ ...i }));
  }

  get size(): number {
    return this.items.size;
  }

  static fromLog(decisions: readonly Decision[], max = MAX_PENDING): Pending {
    const p = new Pending(max);
    for (const d of decisions) p.note(d);
    return p;
  }
}
