// The egress gate as a library: policy file + temporary allows + pending + decision log + proxy
// + admin socket, wired together. main.ts builds one from the environment; tests build one
// in-process with options (including the test-only overrides, which main.ts never passes).
import * as fs from 'fs';
import type * as net from 'net';
import { BlockList, productionBlockList, type BlockedRange } from './addresses';
import { startAdminServer, type AdminOps, type AdminResponse } from './admin';
import { DEFAULT_LIMITS, type EgressLimits, type HostPort } from './config';
import { DecisionLog, DEFAULT_ROTATE_BYTES, readDecisionTail, type Decision } from './decisionLog';
import { Pending } from './pending';
import { decide, denyMatches, parseEntry, TemporaryAllows, type Policy, type PolicyEntry, type Verdict } from './policy';
import { PolicyFile, type PolicyState } from './policyFile';
import type { Provider } from './providers';
import { DEFAULT_TIMEOUTS, EgressProxy, type Logger, type ProxyTimeouts } from './proxy';
import { createResolver } from './resolve';

export interface EgressGateOptions {
  listen: HostPort;
  policyFile: string;
  resolver: HostPort;
  logFile: string;
  adminSocket: string;
  providers?: readonly Provider[];
  /** EGRESS_EXTRA_BLOCKED: refused besides the built-in list. */
  extraBlocked?: readonly string[];
  limits?: Partial<EgressLimits>;
  timeouts?: Partial<ProxyTimeouts>;
  /** DNS lookup timeout, ms (default 5000). */
  resolveTimeoutMs?: number;
  /** Poll interval of the policy file besides the directory watch, ms (default 1000). */
  policyPollMs?: number;
  /** Decision log rotation size (default 16 MiB). */
  logRotateBytes?: number;
  /** Process log (stderr JSON lines in main.ts). Never given headers or keys. */
  log?: Logger;
  /** Clock for temporary allows and durations (default Date.now). */
  clock?: () => number;
  /**
   * For tests only; main.ts never sets these and no environment variable reaches them.
   * `blocked` REPLACES the built-in blocked list (and extraBlocked), so that loopback upstreams can
   * be used; `providerCa` replaces Node's CA set for provider TLS.
   */
  testOnly?: {
    blocked?: readonly BlockedRange[];
    providerCa?: string | string[];
  };
}

export interface EgressStatus {
  [k: string]: unknown;
  ok: true;
  allow: string[];
  deny: string[];
  temporary: Array<{ entry: string; expires: string }>;
  open: number;
  pending: number;
  policyError: string | null;
}

export interface EgressGate {
  start(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  status(): EgressStatus;
  /** The admin operations, as the socket runs them. */
  admin: AdminOps;
}

const MAX_TEMPORARY_SECONDS = 30 * 86_400;

export function createEgressGate(opts: EgressGateOptions): EgressGate {
  const clock = opts.clock ?? Date.now;
  const log: Logger = opts.log ?? (() => undefined);
  const limits: EgressLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const timeouts: ProxyTimeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const blocked: BlockList = opts.testOnly?.blocked ? new BlockList(opts.testOnly.blocked) : productionBlockList(opts.extraBlocked ?? []);
  const temporary = new TemporaryAllows(clock);
  const decisions = new DecisionLog(opts.logFile, opts.logRotateBytes ?? DEFAULT_ROTATE_BYTES, (e) => log('error', 'cannot write the decision log', { error: e.message }));
  let pending = new Pending();
  let state: PolicyState = { policy: null, error: 'not loaded yet' };
  let proxy: EgressProxy | undefined;
  let adminServer: net.Server | undefined;

  const verdict = (host: string, port: number): Verdict => decide(state.policy, temporary.active(), host, port);
  const undecided = (host: string, port: number): boolean => {
    const v = verdict(host, port);
    return v.decision === 'deny' && v.reason !== 'denied';
  };

  const onPolicy = (next: PolicyState): void => {
    state = next;
    if (next.policy === null) {
      log('warn', 'no valid policy: denying everything', { error: next.error });
      return;
    }
    log('info', 'policy applied', { allow: next.policy.allow.length, deny: next.policy.deny.length });
    pending.retain(undecided);
    // A valid policy that no longer allows an open connection ends it. (An invalid file only
    // refuses new connections: a half-written edit should not cut every tunnel.)
    for (const a of [...(proxy?.activities ?? [])]) {
      if (a.kind === 'provider') continue;
      const v = verdict(a.host, a.port);
      if (v.decision === 'deny') a.end(v.reason === 'denied' ? 'denied' : 'not-allowed');
    }
  };
  const policyFile = new PolicyFile(opts.policyFile, onPolicy, opts.policyPollMs ?? 1_000);

  const record = (d: Omit<Decision, 'time'>): void => {
    const full: Decision = { time: new Date(clock()).toISOString(), ...d };
    decisions.write(full);
    pending.note(full);
  };

  const entryOf = (raw: unknown): PolicyEntry => parseEntry(raw);

  const status = (): EgressStatus => ({
    ok: true,
    allow: (state.policy?.allow ?? []).map((e) => e.text),
    deny: (state.policy?.deny ?? []).map((e) => e.text),
    temporary: temporary.active().map((t) => ({ entry: t.entry.text, expires: new Date(t.expires).toISOString() })),
    open: proxy?.activities.size ?? 0,
    pending: pending.size,
    policyError: state.error,
  });

  const admin: AdminOps = {
    status,
    pending: () => ({ ok: true, pending: pending.list() }),
    allow(rawEntry, seconds): AdminResponse {
      const entry = entryOf(rawEntry);
      if (seconds !== undefined && seconds !== null) {
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TEMPORARY_SECONDS) {
          return { ok: false, error: `"seconds" must be a number from 0 (exclusive) to ${MAX_TEMPORARY_SECONDS}` };
        }
        const t = temporary.add(entry, seconds);
        pending.clear(entry, 'allow');
        log('info', 'temporary allow', { entry: entry.text, seconds });
        return { ok: true, entry: entry.text, expires: new Date(t.expires).toISOString(), ...shadow(entry) };
      }
      const next = policyFile.update((p: Policy) => ({
        allow: [...p.allow.filter((e) => e.text !== entry.text), entry],
        deny: p.deny.filter((e) => e.text !== entry.text),
      }));
      temporary.remove(entry.text);
      pending.clear(entry, 'allow');
      log('info', 'permanent allow', { entry: entry.text });
      return { ok: true, entry: entry.text, allow: next.allow.map((e) => e.text).sort(), deny: next.deny.map((e) => e.text).sort(), ...shadow(entry) };
    },
    deny(rawEntry): AdminResponse {
      const entry = entryOf(rawEntry);
      const next = policyFile.update((p: Policy) => ({
        allow: p.allow.filter((e) => e.text !== entry.text),
        deny: [...p.deny.filter((e) => e.text !== entry.text), entry],
      }));
      temporary.remove(entry.text);
      pending.clear(entry, 'deny');
      let closed = 0;
      for (const a of [...(proxy?.activities ?? [])]) {
        if (a.kind !== 'provider' && denyMatches(entry, a.host, a.port)) {
          a.end('denied');
          closed++;
        }
      }
      log('info', 'deny', { entry: entry.text, closed });
      return { ok: true, entry: entry.text, closed, allow: next.allow.map((e) => e.text).sort(), deny: next.deny.map((e) => e.text).sort() };
    },
  };

  /** Tell the operator when an allow stays without effect because a deny entry still wins. */
  function shadow(entry: PolicyEntry): { shadowedBy?: string } {
    if (entry.wildcard) return {};
    const d = state.policy?.deny.find((e) => denyMatches(e, entry.host, entry.port ?? 443));
    return d ? { shadowedBy: d.text } : {};
  }

  const providers = new Map((opts.providers ?? []).map((p) => [p.name, p]));
  const providerCa = opts.testOnly?.providerCa === undefined ? undefined : ([] as string[]).concat(opts.testOnly.providerCa);

  return {
    admin,
    status,
    async start() {
      policyFile.start();
      pending = Pending.fromLog(readDecisionTail(opts.logFile));
      pending.retain(undecided);
      proxy = new EgressProxy({
        limits,
        timeouts,
        decide: verdict,
        decideProvider: (host, port) => {
          const v = verdict(host, port);
          if (v.decision === 'deny' && (v.reason === 'no-policy' || v.reason === 'denied' || v.reason === 'ip-literal' || v.reason === 'bad-request')) return v;
          return { decision: 'allow', rule: null, temporary: false };
        },
        resolve: createResolver(opts.resolver, opts.resolveTimeoutMs ?? 5_000),
        blocked: () => blocked,
        providers,
        providerCa,
        record,
        log,
        now: clock,
      });
      try {
        adminServer = await startAdminServer(opts.adminSocket, admin);
        return await proxy.listen(opts.listen.host, opts.listen.port);
      } catch (e) {
        policyFile.close();
        adminServer?.close();
        throw e;
      }
    },
    async close() {
      policyFile.close();
      await proxy?.close();
      if (adminServer) {
        const s = adminServer;
        await new Promise<void>((r) => s.close(() => r()));
        fs.rmSync(opts.adminSocket, { force: true });
      }
      decisions.close();
    },
  };
}
