// Pure decisions: which names may wait, what a verdict leads to, how tombstones are named, how
// long to back off. No I/O here, so every rule is unit-tested directly.

import type { UnscannablePolicy } from './config';
import type { Verdict } from './clamdProtocol';

/**
 * OpenClaw writes atomically through `.fs-safe-replace.<pid>.<uuid>.tmp` and renames it over the
 * target. Only this exact shape may be deferred (and only for the grace period); any other
 * `*.tmp` is scanned at once, so naming a payload `evil.tmp` buys nothing.
 */
const OPENCLAW_TEMP = /^\.fs-safe-replace\.\d{1,10}\.[0-9A-Za-z-]{1,64}\.tmp$/;

export function isOpenClawTemp(name: Buffer): boolean {
  // latin1 keeps it byte-exact: a non-ASCII byte can never match the ASCII-only pattern.
  return name.length <= 100 && OPENCLAW_TEMP.test(name.toString('latin1'));
}

/**
 * When may a deferrable temp file be scanned? Deferral is granted for one grace period per *run*
 * of temp-file activity, a run being sightings with gaps shorter than the grace: OpenClaw writes
 * a temp file and renames it within milliseconds, so its runs are short; a payload kept alive by
 * renaming it from one temp name to the next, or copying it to fresh temp files (new inodes), in
 * one directory or across many, is one long run, and grace after the run began everything
 * temp-shaped is scanned at once. Rewriting a file does not extend its deferral either. Pure: the
 * caller passes the clock.
 */
export class TempDeferral {
  private runStart = -Infinity;
  private lastSighting = -Infinity;

  constructor(private readonly graceMs: number) {}

  /** A temp-shaped name came up (an event or a walk found it). */
  sight(name: Buffer, nowMs: number): void {
    if (!isOpenClawTemp(name)) return;
    if (nowMs - this.lastSighting >= this.graceMs) this.runStart = nowMs;
    this.lastSighting = nowMs;
  }

  /** 0 for every other name: scanned at once. */
  notBefore(name: Buffer, firstSeenMs: number): number {
    if (!isOpenClawTemp(name) || this.graceMs === 0) return 0;
    return Math.min(firstSeenMs, this.runStart) + this.graceMs;
  }
}

export type Disposition =
  | { action: 'clean' }
  | { action: 'quarantine'; because: 'infected' | 'unscannable' }
  | { action: 'allow-with-alert' };

export function dispositionFor(v: Verdict, policy: UnscannablePolicy): Disposition {
  switch (v.kind) {
    case 'clean':
      return { action: 'clean' };
    case 'infected':
      return { action: 'quarantine', because: 'infected' };
    case 'unscannable':
      return policy === 'allow' ? { action: 'allow-with-alert' } : { action: 'quarantine', because: 'unscannable' };
  }
}

export function describeVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'clean':
      return 'clean';
    case 'infected':
      return `malware detected (${v.signature})`;
    case 'unscannable':
      return `could not be scanned (${v.reason}${v.detail ? `: ${v.detail}` : ''})`;
  }
}

/** Exponential backoff: min * 2^attempt, capped. */
export function backoffMs(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

const NAME_MAX = 255;
const SUFFIX = Buffer.from('.quarantined.txt');

/**
 * The tombstone's file name: `<name>.quarantined.txt`. If that would pass NAME_MAX, or the
 * plain name is taken (attempt > 0), the quarantine id goes in and the original name is cut.
 */
export function tombstoneName(name: Buffer, id: string, attempt = 0): Buffer {
  const plain = Buffer.concat([name, SUFFIX]);
  if (attempt === 0 && plain.length <= NAME_MAX) return plain;
  const tag = Buffer.from(`.${id}${attempt > 1 ? `-${attempt}` : ''}`);
  const room = NAME_MAX - SUFFIX.length - tag.length;
  return Buffer.concat([name.subarray(0, Math.max(0, room)), tag, SUFFIX]);
}

export interface TombstoneFacts {
  name: string;
  id: string;
  reason: string;
  sha256: string | null;
  size: number;
  time: string;
}

export const TOMBSTONE_HEADER = 'CLAWJAIL WARDEN: FILE QUARANTINED';

export function tombstoneText(f: TombstoneFacts): string {
  return [
    TOMBSTONE_HEADER,
    '',
    `The file "${f.name}" that was here has been moved out of this workspace by the clawjail`,
    'warden, because it ' + (f.reason.startsWith('could not') ? f.reason : `contained ${f.reason.replace(/^malware detected /, 'malware ')}`) + '.',
    '',
    'It was not deleted. It is kept in a quarantine that this workspace cannot reach, where an',
    'operator can review it and, if it is harmless, restore it.',
    '',
    `  quarantine id: ${f.id}`,
    `  reason:        ${f.reason}`,
    `  size:          ${f.size} bytes`,
    `  sha256:        ${f.sha256 ?? 'unknown'}`,
    `  time:          ${f.time}`,
    '',
    'Please do not try to write the file again: it will be quarantined again. If you think this',
    'is a mistake, tell the operator the quarantine id above.',
    '',
  ].join('\n');
}

/** A sortable, unique-enough quarantine id: 20260102T030405Z-1a2b3c4d */
export function quarantineId(now: Date, random: Buffer): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${random.toString('hex').slice(0, 8)}`;
}

export const QUARANTINE_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;
