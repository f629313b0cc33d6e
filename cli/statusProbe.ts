// `clawjail status`: gathers what the stack's Docker engine, its firewall and its services say
// right now (StatusFacts for statusReport.ts). Read-only: docker inspect/stats/exec, iptables-save,
// one TLS handshake with the gateway. Each probe that fails is a fact too, never a crash.
import { execFile } from 'child_process';
import type { JailConfig } from '../infra/config';
import { buildJailSpec, EGRESS_STATE_DIR, gatewayLoginUrl, gatewayUrl, GATEWAY_INTERNAL_PORT, jailNames } from '../infra/model';
import { egressFiles } from '../infra/model/egressPolicy';
import { WARDEN_HEALTH_PORT } from '../infra/model/warden';
import { SENTRY_STATE_FILE } from '../infra/model/sentry';
import { fetchPresentedCertificate, parseGatewayUrl } from '../gateway/src/pinned';
import { checkMoat } from './moatCheck';
import type { ContainerFacts, Probe, SentryFacts, StatusFacts, WardenHealth } from './statusReport';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function docker(dockerHost: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('docker', args, { env: { ...process.env, DOCKER_HOST: dockerHost }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : '') });
    });
  });
}

const firstLine = (s: string) => s.trim().split('\n')[0] || 'no answer';

async function probe<T>(f: () => Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: firstLine((e as Error).message) };
  }
}

interface Inspected {
  Name: string;
  RestartCount?: number;
  State?: { Status?: string; StartedAt?: string; Health?: { Status?: string } };
  HostConfig?: { Memory?: number };
}

/** "12.5MiB / 2GiB" (docker stats) in bytes. */
export function parseMemUsage(s: string): { used: number | null; limit: number | null } {
  const unit: Record<string, number> = { B: 1, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3, TIB: 1024 ** 4, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  const one = (t: string | undefined) => {
    const m = t ? /^([\d.]+)\s*([KMGT]?i?B)$/i.exec(t.trim()) : null;
    return m && unit[m[2].toUpperCase()] ? Number(m[1]) * unit[m[2].toUpperCase()] : null;
  };
  const [used, limit] = s.split('/');
  return { used: one(used), limit: one(limit) };
}

async function containers(config: JailConfig): Promise<ContainerFacts[]> {
  const specs = buildJailSpec(config).containers;
  const names = specs.map((c) => c.name);
  // docker inspect prints the containers it found and exits 1 if any is missing
  const r = await docker(config.dockerHost, ['inspect', ...names]);
  let found: Inspected[] = [];
  try {
    found = JSON.parse(r.stdout || '[]') as Inspected[];
  } catch {
    throw new Error(`docker inspect on ${config.dockerHost}: ${firstLine(r.stderr)}`);
  }
  if (r.code !== 0 && found.length === 0 && !/no such (object|container)/i.test(r.stderr)) {
    throw new Error(`docker inspect on ${config.dockerHost}: ${firstLine(r.stderr)}`);
  }
  const byName = new Map(found.map((i) => [i.Name.replace(/^\//, ''), i]));
  const running = names.filter((n) => byName.get(n)?.State?.Status === 'running');
  const memory = new Map<string, { used: number | null; limit: number | null }>();
  if (running.length) {
    const s = await docker(config.dockerHost, ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}', ...running]);
    for (const line of s.stdout.split('\n')) {
      const [name, usage] = line.split('\t');
      if (name && usage) memory.set(name.trim(), parseMemUsage(usage));
    }
  }
  return specs.map((spec) => {
    const i = byName.get(spec.name);
    if (!i) return { role: spec.role, name: spec.name, exists: false };
    const mem = memory.get(spec.name);
    return {
      role: spec.role,
      name: spec.name,
      exists: true,
      status: i.State?.Status,
      health: i.State?.Health?.Status ?? null,
      restarts: i.RestartCount ?? 0,
      startedAt: i.State?.StartedAt,
      memoryBytes: mem?.used ?? null,
      memoryLimitBytes: mem?.limit ?? (i.HostConfig?.Memory || null),
    };
  });
}

/** Runs a command inside a container of the jail; its stdout, or the error. */
async function execIn(config: JailConfig, container: string, command: string[]): Promise<string> {
  const r = await docker(config.dockerHost, ['exec', container, ...command], 20_000);
  if (r.code !== 0) throw new Error(firstLine(r.stderr || r.stdout));
  return r.stdout;
}

/** A small node script, run with the container's own node. */
const nodeIn = (config: JailConfig, container: string, script: string) => execIn(config, container, ['node', '-e', script]);

// The scripts read one answer and print it; they run with the container's own node.
const wardenHealthScript = `require('http').get({host:'127.0.0.1',port:${WARDEN_HEALTH_PORT},path:'/healthz',timeout:5000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>process.stdout.write(b))}).on('error',(e)=>{console.error(e.message);process.exit(1)})`;
const gatewayHealthScript = `require('https').get({host:'127.0.0.1',port:${GATEWAY_INTERNAL_PORT},path:'/healthz',rejectUnauthorized:false,timeout:5000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>process.stdout.write(b))}).on('error',(e)=>{console.error(e.message);process.exit(1)})`;
const egressPendingScript = `const s=require('net').connect(${JSON.stringify(egressFiles.adminSocket)});let b='';s.setTimeout(5000,()=>{console.error('timeout');process.exit(1)});s.on('connect',()=>s.write('{"op":"pending"}\\n'));s.on('data',(d)=>b+=d);s.on('end',()=>process.stdout.write(b));s.on('error',(e)=>{console.error(e.message);process.exit(1)})`;

export async function gatherStatus(stack: string, config: JailConfig, now = new Date()): Promise<StatusFacts> {
  const names = jailNames(config);
  const url = gatewayUrl(config);
  const local = config.dockerHost.startsWith('unix://');
  const loginUrl = gatewayLoginUrl(config);
  const loginAt = new URL(loginUrl);
  const presentedAt = (where: () => { host: string; port: number }) =>
    probe(async () => (await fetchPresentedCertificate({ ...where(), timeoutMs: 10_000 })).fingerprint);
  const [cs, moat, warden, sentry, served, sessions, presented, presentedLogin, pending] = await Promise.all([
    containers(config),
    probe(() => checkMoat(stack, config)),
    probe(async () => JSON.parse(await nodeIn(config, names.wardenContainer, wardenHealthScript)) as WardenHealth),
    probe(async () => JSON.parse(await execIn(config, names.sentryContainer, ['cat', SENTRY_STATE_FILE])) as SentryFacts),
    probe(async () => (await execIn(config, names.gatewayContainer, ['node', '/app/dist/main.js', '--print-fingerprint'])).trim()),
    probe(async () => {
      const h = JSON.parse(await nodeIn(config, names.gatewayContainer, gatewayHealthScript)) as { sessions?: unknown };
      if (typeof h.sessions !== 'number') throw new Error('this gateway does not report its sessions');
      return h.sessions;
    }),
    // The URL names this host's loopback or the bridge: dialled only when the engine is this machine's.
    local ? presentedAt(() => parseGatewayUrl(url)) : Promise.resolve(null),
    local ? presentedAt(() => ({ host: loginAt.hostname, port: Number(loginAt.port) })) : Promise.resolve(null),
    config.cell.egress === 'allowlist'
      ? probe(async () => {
          const r = JSON.parse(await nodeIn(config, names.egressContainer, egressPendingScript)) as { ok?: boolean; error?: string; pending?: unknown[] };
          if (!r.ok || !Array.isArray(r.pending)) throw new Error(`the gate answered ${r.error ?? 'something else'} (${EGRESS_STATE_DIR})`);
          return r.pending.length;
        })
      : Promise.resolve(null),
  ]);
  return {
    stack,
    now,
    containers: cs,
    moat,
    warden,
    sentry,
    signatures: config.warden.signatures,
    gateway: { url, served, presented, loginUrl, presentedLogin, sessions },
    egress: { mode: config.cell.egress, pending },
  };
}
