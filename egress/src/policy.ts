// The policy: entries, matching, and temporary allows. Pure (the clock is injected).
//
// The entry grammar is ./entry.ts (shared with the stack's config and the CLI): `host` or
// `*.suffix`, each with an optional `:port`, stored lower-cased without a trailing dot.
// `*.example.org` matches `a.example.org` and `a.b.example.org`, not `example.org`.
// An allow entry without a port allows 443 only; a deny entry without a port denies every port.
// Deny wins over allow. IP literals are not names and are never entries.
import { isIpLiteral } from './addresses';
import { DEFAULT_ALLOW_PORT, EgressEntryError, parseEgressEntry, type EgressEntry } from './entry';

export class PolicyEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyEntryError';
  }
}

/** A parsed entry (./entry.ts). */
export type PolicyEntry = EgressEntry;

export interface Policy {
  allow: PolicyEntry[];
  deny: PolicyEntry[];
}

export type DenyReason = 'not-allowed' | 'denied' | 'ip-literal' | 'no-policy' | 'bad-request';

export type Verdict =
  | { decision: 'allow'; rule: string | null; temporary: boolean }
  | { decision: 'deny'; reason: DenyReason; rule: string | null };

// What a request may name: looser than an entry (./entry.ts), because a `*.suffix` entry
// matches any name below the suffix, and names with `_` or a single label do exist.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-case, drop one trailing dot. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** A DNS name the gate can look up: labels of letters, digits, `-`, `_`; at most 253 characters. */
export function isValidHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((l) => LABEL.test(l));
}

/** An entry of the policy file or of an admin request, parsed by the one grammar (./entry.ts). */
export function parseEntry(raw: unknown): PolicyEntry {
  try {
    return parseEgressEntry(raw);
  } catch (e) {
    if (e instanceof EgressEntryError) throw new PolicyEntryError(e.message);
    throw e;
  }
}

/** The normalized text of an entry (throws PolicyEntryError for a bad one). */
export function normalizeEntry(raw: string): string {
  return parseEntry(raw).text;
}

function hostMatches(entry: PolicyEntry, host: string): boolean {
  if (!entry.wildcard) return host === entry.host;
  return host.length > entry.host.length + 1 && host.endsWith('.' + entry.host);
}

/** Does an allow entry allow host:port? (no port in the entry = 443 only). host must be normalized. */
export function allowMatches(entry: PolicyEntry, host: string, port: number): boolean {
  return hostMatches(entry, host) && port === (entry.port ?? DEFAULT_ALLOW_PORT);
}

/** Does a deny entry deny host:port? (no port in the entry = every port). host must be normalized. */
export function denyMatches(entry: PolicyEntry, host: string, port: number): boolean {
  return hostMatches(entry, host) && (entry.port === null || entry.port === port);
}

/** Sorted (by code unit), unique, normalized entry texts: the form written to the policy file. */
export function sortedUnique(entries: readonly string[]): string[] {
  return [...new Set(entries.map(normalizeEntry))].sort();
}

export class PolicyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

/** Validate the policy file's JSON value `{"allow": [...], "deny": [...]}`; any bad entry = invalid. */
export function parsePolicy(doc: unknown): Policy {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyFileError('expected a JSON object {"allow": [...], "deny": [...]}');
  const obj = doc as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== 'allow' && k !== 'deny') throw new PolicyFileError(`unknown key "${k}" (only "allow" and "deny")`);
  }
  const list = (key: 'allow' | 'deny'): PolicyEntry[] => {
    const v = obj[key] ?? [];
    if (!Array.isArray(v)) throw new PolicyFileError(`"${key}" must be a list of entries`);
    return v.map((e, i) => {
      try {
        return parseEntry(e);
      } catch (err) {
        throw new PolicyFileError(`${key}[${i}]: ${(err as Error).message}`);
      }
    });
  };
  return { allow: list('allow'), deny: list('deny') };
}

/** The JSON form for writing: sorted, unique, normalized. */
export function policyDocument(policy: Policy): { allow: string[]; deny: string[] } {
  return { allow: sortedUnique(policy.allow.map((e) => e.text)), deny: sortedUnique(policy.deny.map((e) => e.text)) };
}

export interface TemporaryAllow {
  entry: PolicyEntry;
  /** Epoch ms. */
  expires: number;
}

/** Allows that live in memory only and lapse at `expires` (by the injected clock). */
export class TemporaryAllows {
  private items: TemporaryAllow[] = [];

  constructor(private readonly clock: () => number = Date.now) {}

  /** Adds (or extends/replaces) a temporary allow for `seconds`. */
  add(entry: PolicyEntry, seconds: number): TemporaryAllow {
    this.prune();
    const item = { entry, expires: this.clock() + Math.round(seconds * 1000) };
    this.items = this.items.filter((t) => t.entry.text !== entry.text);
    this.items.push(item);
    return item;
  }

  remove(text: string): void {
    this.items = this.items.filter((t) => t.entry.text !== text);
  }

  active(): TemporaryAllow[] {
    this.prune();
    return [...this.items];
  }

  private prune(): void {
    const now = this.clock();
    this.items = this.items.filter((t) => t.expires > now);
  }
}

/**
 * The verdict for host:port. `policy` null = no valid policy file (deny everything: `no-policy`).
 * host is normalized here.
 */
export function decide(policy: Policy | null, temporary: readonly TemporaryAllow[], rawHost: string, port: number): Verdict {
  const host = normalizeHost(rawHost);
  if (isIpLiteral(host)) return { decision: 'deny', reason: 'ip-literal', rule: null };
  if (!isValidHostName(host) || !Number.isInteger(port) || port < 1 || port > 65535) return { decision: 'deny', reason: 'bad-request', rule: null };
  if (policy === null) return { decision: 'deny', reason: 'no-policy', rule: null };
  const deny = policy.deny.find((e) => denyMatches(e, host, port));
  if (deny) return { decision: 'deny', reason: 'denied', rule: deny.text };
  const allow = policy.allow.find((e) => allowMatches(e, host, port));
  if (allow) return { decision: 'allow', rule: allow.text, temporary: false };
  const temp = temporary.find((t) => allowMatches(t.entry, host, port));
  if (temp) return { decision: 'allow', rule: temp.entry.text, temporary: true };
  return { decision: 'deny', reason: 'not-allowed', rule: null };
}

/** The entry an operator would allow for host:port (what the refusal's hint suggests). */
export function suggestedEntry(host: string, port: number): string {
  return port === 443 ? host : `${host}:${port}`;
}
