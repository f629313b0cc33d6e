// The pure parts of `clawjail egress log`: reading a decision (one JSON line the proxy wrote,
// egress/README.md "Decision log"), filtering, and one readable line per decision. Host names
// in the log come from the prisoner's requests: everything printed is made safe for a terminal.

export interface Decision {
  time: string;
  kind: string;
  host: string;
  port: number | null;
  address: string | null;
  decision: string;
  rule: string | null;
  reason: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  provider?: string;
}

/** Printable ASCII only: control characters, backslashes and anything beyond ASCII escaped. */
export function safeText(value: unknown): string {
  let out = '';
  for (const ch of String(value)) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x100) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\u{${c.toString(16)}}`;
  }
  return out;
}

/** JSON text with every non-ASCII character escaped (JSON allows raw C1 controls; a terminal does not). */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** One log line as a decision, or null when it is not one (a torn or foreign line). */
export function parseDecision(line: string): Decision | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  if (typeof r.decision !== 'string' || typeof r.host !== 'string') return null;
  const d: Decision = {
    time: str(r.time) ?? '?',
    kind: str(r.kind) ?? '?',
    host: r.host,
    port: typeof r.port === 'number' ? r.port : null,
    address: str(r.address),
    decision: r.decision,
    rule: str(r.rule),
    reason: str(r.reason),
    bytesUp: num(r.bytesUp),
    bytesDown: num(r.bytesDown),
    durationMs: num(r.durationMs),
  };
  if (typeof r.provider === 'string') d.provider = r.provider;
  return d;
}

export interface LogFilter {
  denied: boolean;
}

export function keepDecision(d: Decision, f: LogFilter): boolean {
  return !f.denied || d.decision === 'deny';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}${units[i]}`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * `2026-12-02T18:00:00.000Z  DENY   connect  evil.example:443  198.51.100.7  reason=not-allowed  up 0B down 0B  0ms`
 */
export function formatDecision(d: Decision): string {
  const why: string[] = [];
  if (d.rule !== null) why.push(`rule=${d.rule}`);
  if (d.reason !== null) why.push(`reason=${d.reason}`);
  if (d.provider !== undefined) why.push(`provider=${d.provider}`);
  const fields = [
    d.time,
    d.decision.toUpperCase().padEnd(5),
    d.kind.padEnd(8),
    `${d.host}${d.port === null ? '' : `:${d.port}`}`,
    d.address ?? '-',
    why.length ? why.join(' ') : '-',
    `up ${formatBytes(d.bytesUp)} down ${formatBytes(d.bytesDown)}`,
    formatMs(d.durationMs),
  ];
  return safeText(fields.join('  '));
}

/**
 * What `egress log` prints for some lines: the decisions kept by the filter, the last `lines` of
 * them (all when null), readable or as JSON. Lines that are not decisions are counted, not shown.
 */
export function renderLog(
  lines: readonly string[],
  opts: LogFilter & { json: boolean; lines: number | null },
): { out: string[]; unreadable: number } {
  let unreadable = 0;
  const kept: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    const d = parseDecision(line);
    if (!d) {
      unreadable++;
      continue;
    }
    // --json: the proxy's object as written (every field), re-serialized so that it is safe to print.
    if (keepDecision(d, opts)) kept.push(opts.json ? safeJson(JSON.parse(line)) : formatDecision(d));
  }
  const out = opts.lines === null ? kept : opts.lines === 0 ? [] : kept.slice(-opts.lines);
  return { out, unreadable };
}

/** Splits appended text into complete lines, keeping a torn last line for the next read. */
export function splitLines(carry: string, chunk: string): { lines: string[]; carry: string } {
  const text = carry + chunk;
  const parts = text.split('\n');
  const rest = parts.pop() as string;
  return { lines: parts, carry: rest };
}
