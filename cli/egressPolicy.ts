// The pure parts of `clawjail egress` that concern the policy: entry validation (the gate's one
// grammar, egress/src/entry.ts), `--for` durations, the stack-config lists and the Pulumi CLI
// arguments that write them. No I/O here.
import { EgressEntryError, parseEgressEntry } from '../egress/src/entry';

export class EntryError extends Error {}
export class DurationError extends Error {}

/**
 * An entry as the proxy stores it (egress/src/entry.ts): `host`, `*.suffix`, each with an
 * optional `:port`; lower-cased, a trailing dot dropped. Throws EntryError naming the problem
 * (IP literals, URLs, paths, spaces, a misplaced `*`, a bad label or port, a single label).
 */
export function normalizeEntry(input: string): string {
  try {
    return parseEgressEntry(input).text;
  } catch (e) {
    if (e instanceof EgressEntryError) throw new EntryError(e.message);
    throw e;
  }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** The longest temporary allow: beyond it, a permanent allow (and a later deny) says what is meant. */
export const MAX_TEMPORARY_SECONDS = 30 * 86400;

/** `90s`, `30m`, `2h`, `1d`, or a sum such as `1h30m`; whole seconds, > 0, at most 30 days. */
export function parseDuration(text: string): number {
  const shown = JSON.stringify(text);
  const t = text.trim().toLowerCase();
  if (!/^(?:[0-9]+[smhd])+$/.test(t)) {
    throw new DurationError(`bad duration ${shown}: give a number and a unit, such as 90s, 30m, 2h, 1d (or 1h30m)`);
  }
  let seconds = 0;
  for (const m of t.matchAll(/([0-9]+)([smhd])/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]];
  if (seconds <= 0) throw new DurationError(`bad duration ${shown}: it must be longer than 0`);
  if (seconds > MAX_TEMPORARY_SECONDS) {
    throw new DurationError(`duration ${shown} is longer than 30 days: allow it permanently instead (leave out --for)`);
  }
  return seconds;
}

/** 5400 → "1h30m"; 90 → "1m30s". */
export function formatDuration(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0s';
  let out = '';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      out += `${Math.floor(s / size)}${unit}`;
      s %= size;
    }
  }
  return out;
}

export function sortedUnique(list: readonly string[]): string[] {
  return [...new Set(list)].sort();
}

export interface PolicyLists {
  allow: string[];
  deny: string[];
}

/**
 * The stack's lists after a permanent `allow` (added to allow, removed from deny) or a `deny`
 * (added to deny, removed from allow); both sorted and unique. `changed` names the lists that
 * differ from before, in the order to write them (the one that narrows first).
 */
export function mergePolicyLists(
  current: PolicyLists,
  op: 'allow' | 'deny',
  entry: string,
): PolicyLists & { changed: ('allow' | 'deny')[] } {
  const allow = op === 'allow' ? sortedUnique([...current.allow, entry]) : sortedUnique(current.allow.filter((e) => e !== entry));
  const deny = op === 'deny' ? sortedUnique([...current.deny, entry]) : sortedUnique(current.deny.filter((e) => e !== entry));
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const allowChanged = !same(allow, current.allow);
  const denyChanged = !same(deny, current.deny);
  // Narrowing first: an allow removes from deny before adding, a deny adds before removing from
  // allow; if the second write fails, the stack is left stricter than asked, never looser.
  const changed: ('allow' | 'deny')[] = [];
  if (denyChanged) changed.push('deny');
  if (allowChanged) changed.push('allow');
  return { allow, deny, changed };
}

export const CONFIG_KEYS = { allow: 'clawjail:egressAllow', deny: 'clawjail:egressDeny' } as const;

export class StackListError extends Error {}

/**
 * A list setting as found in a stack file: absent (none), a YAML list, or JSON text of a list
 * (what `pulumi config set` writes). Entries must be strings.
 */
export function parseStackList(key: string, value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      throw new StackListError(`${key} is not a JSON list: ${JSON.stringify(value)}`);
    }
  } else if (typeof value === 'object' && !Array.isArray(value)) {
    throw new StackListError(`${key} is not a list (a secret or an object?)`);
  }
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'string')) {
    throw new StackListError(`${key} is not a list of strings: ${JSON.stringify(value)}`);
  }
  return list as string[];
}

/** Arguments of scripts/pulumi.sh that set one list (sorted, unique, as JSON text) in a stack. */
export function pulumiConfigSetArgs(stack: string, which: 'allow' | 'deny', list: readonly string[]): string[] {
  return ['config', 'set', '--stack', stack, CONFIG_KEYS[which], JSON.stringify(sortedUnique(list))];
}
