// `clawjail status`: what was observed of a deployed jail (StatusFacts, gathered by
// statusProbe.ts) judged part by part. Pure: facts in, a report and its text out.

export type Level = 'ok' | 'warn' | 'fail';

export interface StatusLine {
  part: string;
  level: Level;
  summary: string;
}

export interface StatusReport {
  stack: string;
  time: string;
  /** False when any line fails: the exit status of `clawjail status` is then 1. */
  safe: boolean;
  lines: StatusLine[];
}

export interface ContainerFacts {
  role: string;
  name: string;
  exists: boolean;
  /** Docker's State.Status: created, running, paused, restarting, exited, dead. */
  status?: string;
  /** State.Health.Status, or null when the image has no health check. */
  health?: string | null;
  restarts?: number;
  startedAt?: string;
  memoryBytes?: number | null;
  memoryLimitBytes?: number | null;
}

export type Probe<T> = { ok: true; value: T } | { ok: false; error: string };

export interface WardenHealth {
  status: string;
  reasons?: string[];
  queue?: { pending?: number; inflight?: number };
  clamd?: { up?: boolean; version?: string | null };
  startupScan?: { state?: string };
  lastScanAt?: string | null;
  quarantinedLastDay?: number;
  counters?: { scans?: number; quarantined?: number };
}

export interface GatewayFacts {
  url: string;
  /** The certificate the gateway's own files hold (docker exec ... --print-fingerprint). */
  served: Probe<string>;
  /** What answers at the URL from here; null when not checked from this machine (a remote host). */
  presented: Probe<string> | null;
  /** The login page's URL and what answers there (the same certificate, on its own port). */
  loginUrl: string;
  presentedLogin: Probe<string> | null;
  sessions: Probe<number>;
}

/** The sentry's own state file (warden/src/sentry/sentry.ts, SentryState). */
export interface SentryFacts {
  updatedAt: string;
  cellFrozen: boolean | null;
  why: string;
}

/** A sentry that has not looked for this long is not guarding the cell. */
export const SENTRY_STALE_S = 10;

export interface StatusFacts {
  stack: string;
  now: Date;
  containers: ContainerFacts[];
  moat: Probe<{ state: 'in-sync' | 'missing' | 'drift'; rules: number; missing: number; added: number }>;
  warden: Probe<WardenHealth>;
  sentry: Probe<SentryFacts>;
  signatures: 'freshclam' | 'custom';
  gateway: GatewayFacts;
  egress: { mode: 'allowlist' | 'internet' | 'none'; pending: Probe<number> | null };
}

/** Signatures older than this, kept current by freshclam, mean freshclam is not getting through. */
export const STALE_SIGNATURE_DAYS = 3;

const MIB = 1024 * 1024;

function mib(n: number): string {
  return n >= 1024 * MIB ? `${(n / 1024 / MIB).toFixed(1)} GiB` : `${Math.round(n / MIB)} MiB`;
}

function containerLine(c: ContainerFacts): StatusLine {
  const part = `container ${c.role}`;
  if (!c.exists) return { part, level: 'fail', summary: `${c.name}: missing (run \`pulumi up\`)` };
  const extra: string[] = [];
  if (c.restarts) extra.push(`${c.restarts} restart${c.restarts === 1 ? '' : 's'}`);
  if (c.memoryBytes != null) extra.push(`memory ${mib(c.memoryBytes)}${c.memoryLimitBytes ? ` of ${mib(c.memoryLimitBytes)}` : ''}`);
  const tail = extra.length ? `; ${extra.join(', ')}` : '';
  const status = c.status ?? 'unknown';
  if (status === 'paused') {
    // The cell paused is the prisoner frozen (nothing it can undo); anything else paused is not working.
    return c.role === 'cell'
      ? { part, level: 'warn', summary: `${c.name}: paused (the prisoner is frozen)${tail}` }
      : { part, level: 'fail', summary: `${c.name}: paused${tail}` };
  }
  if (status !== 'running') return { part, level: 'fail', summary: `${c.name}: ${status}${tail}` };
  const health = c.health ?? null;
  if (health === 'unhealthy') return { part, level: 'fail', summary: `${c.name}: running but unhealthy${tail}` };
  const memHigh = c.memoryBytes != null && c.memoryLimitBytes ? c.memoryBytes / c.memoryLimitBytes > 0.9 : false;
  if (health === 'starting') return { part, level: 'warn', summary: `${c.name}: running, health check starting${tail}` };
  if (memHigh) return { part, level: 'warn', summary: `${c.name}: running${health ? `, ${health}` : ''}, near its memory limit${tail}` };
  return { part, level: 'ok', summary: `${c.name}: running${health ? `, ${health}` : ''}${tail}` };
}

function moatLine(m: StatusFacts['moat']): StatusLine {
  const part = 'moat';
  if (!m.ok) return { part, level: 'fail', summary: `cannot be checked: ${m.error}` };
  const v = m.value;
  if (v.state === 'in-sync') return { part, level: 'ok', summary: `in sync with its declaration (${v.rules} rules)` };
  if (v.state === 'missing') return { part, level: 'fail', summary: 'MISSING: none of its rules are in force (run `pulumi up`)' };
  return { part, level: 'fail', summary: `DRIFT: ${v.missing} declared line(s) missing or changed, ${v.added} not declared (see \`clawjail moat check\`)` };
}

/** The signature database's date from clamd's VERSION answer ("ClamAV 1.0.7/27468/Tue Dec  1 08:23:45 2026"). */
export function signatureDate(version: string | null | undefined): Date | null {
  const m = version ? /^ClamAV [^/]+\/\d+\/(.+)$/.exec(version.trim()) : null;
  if (!m) return null;
  // clamd prints its local time, and the jail's containers run in UTC
  const d = new Date(`${m[1].replace(/\s+/g, ' ')} UTC`);
  return Number.isNaN(d.getTime()) ? null : d;
}

function wardenLines(f: StatusFacts): StatusLine[] {
  const part = 'warden';
  if (!f.warden.ok) return [{ part, level: 'fail', summary: `not answering: ${f.warden.error}` }];
  const h = f.warden.value;
  const backlog = (h.queue?.pending ?? 0) + (h.queue?.inflight ?? 0);
  const facts = [
    `last scan ${h.lastScanAt ?? 'none yet'}`,
    `${h.counters?.scans ?? 0} files scanned`,
    `${h.quarantinedLastDay ?? 0} quarantined in the last 24 h`,
    `backlog ${backlog}`,
  ].join(', ');
  const lines: StatusLine[] = [];
  if (h.status === 'ok') lines.push({ part, level: 'ok', summary: facts });
  else if (h.status === 'starting' || h.startupScan?.state === 'running') lines.push({ part, level: 'warn', summary: `starting (startup scan ${h.startupScan?.state ?? '?'}); ${facts}` });
  else lines.push({ part, level: 'fail', summary: `${h.status}${h.reasons?.length ? ` (${h.reasons.join(', ')})` : ''}; ${facts}` });
  const date = signatureDate(h.clamd?.version);
  if (date) {
    const days = (f.now.getTime() - date.getTime()) / 86_400_000;
    const age = days < 1 ? `${Math.max(0, Math.round(days * 24))} h` : `${days.toFixed(1)} days`;
    const stale = f.signatures === 'freshclam' && days > STALE_SIGNATURE_DAYS;
    lines.push({
      part: 'signatures',
      level: stale ? 'warn' : 'ok',
      summary: `${h.clamd?.version}: ${age} old${stale ? ` (freshclam has not updated them for over ${STALE_SIGNATURE_DAYS} days)` : ''}`,
    });
  } else {
    lines.push({ part: 'signatures', level: h.clamd?.up === false ? 'fail' : 'ok', summary: h.clamd?.up === false ? 'clamd unreachable' : `${h.clamd?.version ?? 'unknown version'} (${f.signatures} set, no database date)` });
  }
  return lines;
}

function gatewayLine(g: GatewayFacts): StatusLine {
  const part = 'gateway';
  if (!g.served.ok) return { part, level: 'fail', summary: `its certificate cannot be read: ${g.served.error}` };
  const sessions = g.sessions.ok ? `${g.sessions.value} open session${g.sessions.value === 1 ? '' : 's'}` : `sessions unknown (${g.sessions.error})`;
  if (g.presented === null) return { part, level: 'ok', summary: `${g.url}, fingerprint ${g.served.value} (not dialled from here); ${sessions}` };
  if (!g.presented.ok) return { part, level: 'fail', summary: `${g.url} does not answer: ${g.presented.error}` };
  if (g.presented.value !== g.served.value) {
    return { part, level: 'fail', summary: `${g.url} presents ${g.presented.value}, not the gateway's own ${g.served.value}: something else answers there` };
  }
  if (g.presentedLogin) {
    if (!g.presentedLogin.ok) return { part, level: 'fail', summary: `the login page ${g.loginUrl} does not answer: ${g.presentedLogin.error}` };
    if (g.presentedLogin.value !== g.served.value) {
      return { part, level: 'fail', summary: `the login page ${g.loginUrl} presents ${g.presentedLogin.value}, not the gateway's own ${g.served.value}: something else answers there` };
    }
  }
  return { part, level: g.sessions.ok ? 'ok' : 'warn', summary: `${g.url}, fingerprint ${g.served.value}; ${sessions}` };
}

function sentryLine(f: StatusFacts): StatusLine {
  const part = 'sentry';
  if (!f.sentry.ok) return { part, level: 'fail', summary: `no state (${f.sentry.error}): nothing freezes the cell while the warden is down` };
  const s = f.sentry.value;
  const age = (f.now.getTime() - Date.parse(s.updatedAt)) / 1000;
  if (!(age <= SENTRY_STALE_S)) return { part, level: 'fail', summary: `last looked ${Number.isFinite(age) ? Math.round(age) : '?'} s ago: nothing freezes the cell while the warden is down` };
  if (s.cellFrozen) return { part, level: 'warn', summary: `the cell is frozen: ${s.why}` };
  return { part, level: 'ok', summary: `the cell runs: ${s.why}` };
}

function egressLine(e: StatusFacts['egress']): StatusLine {
  const part = 'egress';
  if (e.mode === 'none') return { part, level: 'ok', summary: 'cellEgress none: the cell has no way out' };
  if (e.mode === 'internet') return { part, level: 'warn', summary: 'cellEgress internet: the cell reaches any public address (no allowlist)' };
  if (!e.pending) return { part, level: 'ok', summary: 'allowlist gate (pending decisions not checked)' };
  if (!e.pending.ok) return { part, level: 'fail', summary: `the gate's admin socket does not answer: ${e.pending.error}` };
  const n = e.pending.value;
  return n > 0
    ? { part, level: 'warn', summary: `allowlist gate; ${n} refused destination${n === 1 ? '' : 's'} awaiting a decision (clawjail egress pending)` }
    : { part, level: 'ok', summary: 'allowlist gate; nothing awaiting a decision' };
}

export function assessStatus(f: StatusFacts): StatusReport {
  const lines = [...f.containers.map(containerLine), moatLine(f.moat), ...wardenLines(f), sentryLine(f), gatewayLine(f.gateway), egressLine(f.egress)];
  return { stack: f.stack, time: f.now.toISOString(), safe: lines.every((l) => l.level !== 'fail'), lines };
}

const MARK: Record<Level, string> = { ok: ' ok ', warn: 'warn', fail: 'FAIL' };

export function formatStatus(r: StatusReport): string {
  const width = Math.max(...r.lines.map((l) => l.part.length));
  const failed = r.lines.filter((l) => l.level === 'fail').length;
  return [
    `clawjail status of stack ${r.stack} at ${r.time}`,
    ...r.lines.map((l) => `[${MARK[l.level]}] ${l.part.padEnd(width)}  ${l.summary}`),
    r.safe ? 'safe: every part is in place' : `NOT SAFE: ${failed} part${failed === 1 ? '' : 's'} failing`,
    '',
  ].join('\n');
}
