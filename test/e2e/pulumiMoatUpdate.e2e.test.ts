// "Changing a moat exception is applied by `pulumi up`; during the moat update a probe from the
// cell shows no window in which forbidden traffic passes" — through the real Pulumi CLI, on a
// remote Docker host (test/e2e/remoteHost.ts).
//
//   remote host netns (the lab)  ── veth <lan>a 192.168.77.1/24 ── <lan>b 192.168.77.10/24 ──  LAN netns (ours)
//     dockerd, the jail, the moat                                                              listeners :9001 :9002
//
// The LAN netns is the test's own; nothing routes from it anywhere else. A probe the moat should
// block is routed into it: if the moat leaked, the packet would land at OUR listener (which answers
// with a nonce), never leave the machine. :9001 is allowed by an exception during the test, :9002
// never is. The remote netns itself (outside the moat) reaches both: the positive control.
import { spawn, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { moatChainNames } from '../../infra/model/firewall';
import { failureOf, PulumiSandbox, type RunResult as PulumiRun } from './pulumiCli';
import { steps } from '../helpers/run';
import { RemoteDockerHost, run, STANDIN_IMAGES } from './remoteHost';
import { scrubRemote as scrubRemoteOf, openRemoteStack, timed as timedIn } from './remoteStack';
import { DEBIAN_STANDIN, NODE_STANDIN, localCaBundle } from './testJail';

jest.setTimeout(45 * 60_000);

const STACK = 'cjtest-moatupd';
const PREFIX = 'cjmup';
const CELL = `${PREFIX}-cell`;
const CHAINS = moatChainNames(PREFIX);
const LAN_ID = crypto.randomBytes(2).toString('hex');
const LAN_NETNS = `${PREFIX}l${LAN_ID}`;
const LAN_VETH_REMOTE = `${PREFIX}a${LAN_ID}`;
const LAN_VETH_LAN = `${PREFIX}b${LAN_ID}`;
const LAN_CIDR = '192.168.77.0/24';
const LAN_GW = '192.168.77.1';
const LAN_HOST = '192.168.77.10';
const ALLOWED_PORT = 9001;
const FORBIDDEN_PORT = 9002;
const NONCE = { [ALLOWED_PORT]: `cjmup-${crypto.randomBytes(12).toString('hex')}`, [FORBIDDEN_PORT]: `cjmup-${crypto.randomBytes(12).toString('hex')}` };
const EXCEPTION = `${LAN_HOST}:${ALLOWED_PORT}/tcp`;

let host: RemoteDockerHost;
let pulumi: PulumiSandbox;
let env: NodeJS.ProcessEnv;
let lanUp = false;
const timings: Record<string, number> = {};
const facts: Record<string, unknown> = {};

interface Listener {
  port: number;
  proc: ChildProcess;
  /** Every connection the listener accepted: when (ms, this machine's clock) and from where. */
  conns: { t: number; from: string }[];
}
const listeners: Listener[] = [];

const config = (dockerHost: string, resolvers: string[]): Record<string, string> => ({
  dockerHost,
  namePrefix: PREFIX,
  nodeBaseImage: NODE_STANDIN,
  debianBaseImage: DEBIAN_STANDIN,
  bridgeName: 'cjmup0',
  subnet: '172.29.235.0/24',
  scanBridgeName: 'cjmup1',
  scanSubnet: '172.29.236.0/24',
  gatewayPort: '18473',
  gatewayLoginPort: '18474',
  // The cell has a route out, so the moat, and only the moat, is what blocks the LAN.
  cellEgress: 'internet',
  dnsResolvers: JSON.stringify(resolvers),
  egressExceptions: '[]',
  clamdSignatures: 'custom',
  // The capped stores are tested on this machine's engine (the deploy, the engine and the jail
  // tests run the same script); the lab hosts here share this machine's mounts.
  workspaceSizeMb: '0',
  quarantineSizeMb: '0',
  moatBootRestore: 'none',
  buildCaFile: localCaBundle(),
});

const timed = <T>(what: string, fn: () => Promise<T>): Promise<T> => timedIn(timings, what, fn);

const pulumiRun = (args: string[], timeoutMs = 20 * 60_000): Promise<PulumiRun> => pulumi.run(args, { env, timeoutMs });
const failure = (r: PulumiRun) => failureOf(r);



const scrubRemote = () => scrubRemoteOf(host, PREFIX);

// ---------------------------------------------------------------------------------------------
// The fake LAN: a netns of ours behind the remote host, two listeners answering with a nonce
// ---------------------------------------------------------------------------------------------

async function lanNetnsExists(): Promise<boolean> {
  return (await run('ip', ['netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === LAN_NETNS);
}

async function lanUpFn(): Promise<void> {
  const ip = (...a: string[]) => run('ip', a);
  await ip('netns', 'add', LAN_NETNS);
  lanUp = true;
  // The veth is made inside the remote netns, its peer moved straight into ours: nothing of it
  // ever sits in this machine's root namespace.
  await ip('-n', host.netns, 'link', 'add', LAN_VETH_REMOTE, 'type', 'veth', 'peer', 'name', LAN_VETH_LAN, 'netns', LAN_NETNS);
  await run('ip', ['netns', 'exec', LAN_NETNS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  await ip('-n', host.netns, 'addr', 'add', `${LAN_GW}/24`, 'dev', LAN_VETH_REMOTE);
  await ip('-n', host.netns, 'link', 'set', LAN_VETH_REMOTE, 'up');
  await ip('-n', LAN_NETNS, 'link', 'set', 'lo', 'up');
  await ip('-n', LAN_NETNS, 'addr', 'add', `${LAN_HOST}/24`, 'dev', LAN_VETH_LAN);
  await ip('-n', LAN_NETNS, 'link', 'set', LAN_VETH_LAN, 'up');
  // The remote host reaches the LAN on-link (the /24 on the veth is the route); the LAN netns has
  // no default route: it answers only on-link (the jail's traffic arrives masqueraded to .1).
  const routes = (await run('ip', ['-n', host.netns, '-4', 'route', 'show', LAN_CIDR])).stdout;
  if (!routes.includes(LAN_VETH_REMOTE)) await ip('-n', host.netns, 'route', 'replace', LAN_CIDR, 'dev', LAN_VETH_REMOTE);
}

const LISTENER_JS = `
const net = require('net');
const [addr, port, nonce] = process.argv.slice(1);
const srv = net.createServer((s) => {
  console.log(JSON.stringify({ t: Date.now(), from: s.remoteAddress + ':' + s.remotePort }));
  s.on('error', () => {});
  s.end(nonce + '\\n');
});
srv.listen(Number(port), addr, () => console.log('listening'));
process.on('SIGTERM', () => { srv.close(); process.exit(0); });
`;

async function startListener(port: number): Promise<void> {
  // nsenter execs: the PID is node's.
  const proc = spawn('nsenter', [`--net=/run/netns/${LAN_NETNS}`, '--', process.execPath, '-e', LISTENER_JS, LAN_HOST, String(port), NONCE[port as 9001]], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const l: Listener = { port, proc, conns: [] };
  listeners.push(l);
  let buf = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`listener :${port} did not start: ${err}`)), 10_000);
    proc.on('exit', (c) => reject(new Error(`listener :${port} exited ${c}: ${err}`)));
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'listening') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('{')) l.conns.push(JSON.parse(line) as { t: number; from: string });
      }
    });
  });
}

async function stopListeners(): Promise<void> {
  for (const l of listeners) {
    const p = l.proc;
    if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      process.kill(p.pid, 'SIGTERM');
      await gone;
    }
  }
}

async function lanDown(): Promise<void> {
  if (await lanNetnsExists()) await run('ip', ['netns', 'del', LAN_NETNS]);
  // The veth pair dies with the LAN netns (one end lived there); the remote end may also go with the lab.
  for (let i = 0; i < 50; i++) {
    if ((await run('ip', ['-n', host.netns, 'link', 'show', LAN_VETH_REMOTE], { check: false })).code !== 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await run('ip', ['-n', host.netns, 'link', 'del', LAN_VETH_REMOTE], { check: false });
}

// ---------------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------------

/** One TCP connection: what came back (or the error), within timeoutMs. Prints one JSON line. */
const PROBE_JS = `
const net = require('net');
const [addr, port, ms] = process.argv.slice(1);
const t0 = Date.now();
let data = '';
let done = false;
const s = net.connect({ host: addr, port: Number(port) });
const finish = (r) => { if (done) return; done = true; s.destroy(); console.log(JSON.stringify({ ...r, data, ms: Date.now() - t0 })); };
s.setTimeout(Number(ms), () => finish({ outcome: 'timeout' }));
s.on('data', (c) => { data += c; });
s.on('end', () => finish({ outcome: 'closed' }));
s.on('error', (e) => finish({ outcome: e.code || 'error' }));
`;

interface Probe {
  outcome: string;
  data: string;
  ms: number;
}

async function probeFromCell(port: number, timeoutMs = 3000): Promise<Probe> {
  const r = await host.docker(['exec', CELL, 'node', '-e', PROBE_JS, LAN_HOST, String(port), String(timeoutMs)], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

/** From the remote host's netns itself: outside the moat (its chains hook only the cell's bridge). */
async function probeFromRemoteHost(port: number): Promise<Probe> {
  const r = await host.exec([process.execPath, '-e', PROBE_JS, LAN_HOST, String(port), '3000'], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
}

/**
 * The probe loop in the cell: a new connection to the forbidden port every 20 ms (each given 3 s,
 * so SYN retransmissions are caught too), one to the allowed port every 100 ms; every answer
 * that carries a nonce is printed with its timestamp, a heartbeat every 500 ms. It stops when its
 * stdin closes (or after maxMs), waits for its pending connections and prints a summary.
 */
const LOOP_JS = `
const net = require('net');
const [addr, bad, good, badNonce, goodNonce, maxMs] = process.argv.slice(1);
const t0 = Date.now();
const st = { attempts: 0, goodAttempts: 0, pending: 0, outcomes: {}, goodOutcomes: {}, firstGood: null, lastAttempt: 0, badSuccess: 0, beats: 0, sent: [] };
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
function attempt(port, nonce, isBad) {
  const t = Date.now();
  if (isBad) { st.attempts++; st.lastAttempt = t; st.sent.push(t); } else st.goodAttempts++;
  st.pending++;
  let data = '';
  let done = false;
  const s = net.connect({ host: addr, port: Number(port) });
  const fin = (o) => {
    if (done) return; done = true; st.pending--; s.destroy();
    const k = data.includes(nonce) ? 'nonce' : o;
    const m = isBad ? st.outcomes : st.goodOutcomes;
    m[k] = (m[k] || 0) + 1;
    if (k === 'nonce') {
      if (isBad) { st.badSuccess++; out({ kind: 'FORBIDDEN-REACHED', port, sent: t, at: Date.now() }); }
      else if (st.firstGood === null) { st.firstGood = t; out({ kind: 'allowed-reached', port, sent: t, at: Date.now() }); }
    }
  };
  s.setTimeout(3000, () => fin('timeout'));
  s.on('data', (c) => { data += c; if (data.includes(nonce)) fin('nonce'); });
  s.on('end', () => fin('closed'));
  s.on('error', (e) => fin(e.code || 'error'));
}
const a = setInterval(() => attempt(bad, badNonce, true), 20);
const b = setInterval(() => attempt(good, goodNonce, false), 100);
const h = setInterval(() => { st.beats++; out({ kind: 'heartbeat', t: Date.now(), attempts: st.attempts, pending: st.pending }); }, 500);
let stopping = false;
function stop(why) {
  if (stopping) return; stopping = true;
  clearInterval(a); clearInterval(b);
  const tStop = Date.now();
  const w = setInterval(() => {
    if (st.pending === 0 || Date.now() - tStop > 4000) {
      clearInterval(w); clearInterval(h);
      out({ kind: 'summary', why, t0, tStop, ...st });
      process.exit(0);
    }
  }, 50);
}
out({ kind: 'started', t: t0 });
process.stdin.on('data', () => {});
process.stdin.on('end', () => stop('stdin closed'));
setTimeout(() => stop('maxMs'), Number(maxMs));
`;

interface LoopSummary {
  why: string;
  t0: number;
  tStop: number;
  attempts: number;
  goodAttempts: number;
  pending: number;
  outcomes: Record<string, number>;
  goodOutcomes: Record<string, number>;
  firstGood: number | null;
  lastAttempt: number;
  badSuccess: number;
  beats: number;
  /** When each attempt at the forbidden port was made (ms). */
  sent: number[];
}

class CellProbeLoop {
  private proc: ChildProcess | null = null;
  readonly lines: Record<string, any>[] = [];
  private started!: Promise<void>;
  private closed!: Promise<number>;
  stderr = '';

  start(maxMs: number): Promise<void> {
    const proc = spawn(
      'docker',
      ['-H', host.dockerHost, 'exec', '-i', CELL, 'node', '-e', LOOP_JS, LAN_HOST, String(FORBIDDEN_PORT), String(ALLOWED_PORT), NONCE[FORBIDDEN_PORT], NONCE[ALLOWED_PORT], String(maxMs)],
      { stdio: ['pipe', 'pipe', 'pipe'], env: host.env },
    );
    this.proc = proc;
    let buf = '';
    this.started = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`probe loop did not start: ${this.stderr}`)), 60_000);
      proc.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        const ls = buf.split('\n');
        buf = ls.pop() ?? '';
        for (const l of ls) {
          if (!l.startsWith('{')) continue;
          const o = JSON.parse(l) as Record<string, any>;
          this.lines.push(o);
          if (o.kind === 'started') {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      proc.on('close', () => reject(new Error(`probe loop ended before it started: ${this.stderr}`)));
    });
    proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.closed = new Promise((r) => proc.on('close', (code) => r(code ?? -1)));
    return this.started;
  }

  /** Closes the loop's stdin: it stops probing, waits for its pending connections, summarizes. */
  async stop(): Promise<LoopSummary> {
    this.proc?.stdin?.end();
    const code = await this.closed;
    const s = this.lines.find((l) => l.kind === 'summary') as LoopSummary | undefined;
    if (!s) throw new Error(`probe loop exited ${code} without a summary: ${this.stderr}`);
    return s;
  }

  /** Kills our docker CLI client (afterAll after a failure); the loop in the cell ends by maxMs. */
  kill(): void {
    const p = this.proc;
    if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) process.kill(p.pid, 'SIGKILL');
  }
}
let loop: CellProbeLoop | null = null;

const remoteMoat = async () => (await host.nsSh('iptables-save -t filter')).stdout.split('\n').filter((l) => l.includes(CHAINS.forward));

beforeAll(async () => {
  host = new RemoteDockerHost();
  await timed('labUp', () => host.up());
  await timed('lanUp', () => lanUpFn());
  await startListener(ALLOWED_PORT);
  await startListener(FORBIDDEN_PORT);
  await timed('loadImages', () => host.loadImages([...STANDIN_IMAGES]));
  ({ pulumi, env } = await openRemoteStack(host, STACK, PREFIX, config(host.dockerHost, host.resolvers)));
}, 30 * 60_000);

afterAll(async () => {
  const { errors, step } = steps();
  loop?.kill();
  if (pulumi && host) {
    await step('destroy', async () => {
      const r = await pulumiRun(['destroy', '--yes', '--skip-preview', '--stack', STACK], 10 * 60_000);
      if (r.code !== 0) throw new Error(failure(r));
    });
  }
  if (host) await step('scrub', () => scrubRemote());
  await step('listeners', () => stopListeners());
  if (host && lanUp) await step('lan', () => lanDown());
  if (pulumi) await step('sandbox', () => pulumi.cleanup());
  fs.rmSync(path.join(__dirname, '..', '..', `Pulumi.${STACK}.yaml`), { force: true });
  if (host) {
    await step('lab', () => host.down());
    await step('leftovers', async () => {
      const left = await RemoteDockerHost.leftovers(host.prefix);
      if (await lanNetnsExists()) left.push(`netns ${LAN_NETNS}`);
      const links = (await run('ip', ['-o', 'link'])).stdout;
      if (links.includes(PREFIX)) left.push(`links: ${links.split('\n').filter((l) => l.includes(PREFIX)).join(' | ')}`);
      const save = (await run('iptables-save', [])).stdout;
      if (save.includes(PREFIX)) left.push('iptables rules of the stack on this machine');
      const local = (await run('docker', ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter((n) => n.startsWith(`${PREFIX}-`));
      if (local.length) left.push(`local containers: ${local.join(' ')}`);
      for (const l of listeners) if (l.proc.exitCode === null && l.proc.signalCode === null) left.push(`listener ${l.proc.pid}`);
      if (left.length) throw new Error(left.join('; '));
    });
  }
  // eslint-disable-next-line no-console
  console.log(`stack ${STACK} on ${host?.dockerHost}: durations (ms) ${JSON.stringify(timings)}; ${JSON.stringify(facts)}`);
  if (errors.length) throw new Error(errors.join('\n'));
}, 20 * 60_000);

describe('a moat exception changed by pulumi up, with no window for forbidden traffic', () => {
  it('pulumi up deploys the jail with cellEgress internet and no exception', async () => {
    const r = await timed('up', () => pulumiRun(['up', '--yes', '--skip-preview', '--stack', STACK], 40 * 60_000));
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
    const ps = (await host.docker(['ps', '--filter', `name=^${CELL}$`, '--format', '{{.Names}} {{.State}}'])).stdout.trim();
    expect(ps).toBe(`${CELL} running`);
    const moat = await remoteMoat();
    expect(moat.some((l) => l.includes('the internet') && l.endsWith('-j ACCEPT'))).toBe(true);
    expect(moat.some((l) => l.includes('exception'))).toBe(false);
  });

  it('the cell reaches neither LAN port; the remote host itself (outside the moat) reaches both', async () => {
    const before = listeners.map((l) => l.conns.length);
    const fromCell = { allowed: await probeFromCell(ALLOWED_PORT), forbidden: await probeFromCell(FORBIDDEN_PORT) };
    facts.initialCell = fromCell;
    for (const p of Object.values(fromCell)) {
      expect(p.data).toBe('');
      expect(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']).toContain(p.outcome);
    }
    // Nothing arrived at our listeners from the cell.
    expect(listeners.map((l) => l.conns.length)).toEqual(before);
    const control = { allowed: await probeFromRemoteHost(ALLOWED_PORT), forbidden: await probeFromRemoteHost(FORBIDDEN_PORT) };
    facts.control = control;
    expect(control.allowed.data.trim()).toBe(NONCE[ALLOWED_PORT]);
    expect(control.forbidden.data.trim()).toBe(NONCE[FORBIDDEN_PORT]);
    expect(listeners.map((l) => l.conns.length)).toEqual(before.map((n) => n + 1));
  });

  it('pulumi up applies a new exception; a probe loop in the cell never reaches the forbidden port meanwhile', async () => {
    await pulumi.set('egressExceptions', JSON.stringify([EXCEPTION]));
    const forbidden = listeners.find((l) => l.port === FORBIDDEN_PORT)!;
    const forbiddenBefore = forbidden.conns.length;
    loop = new CellProbeLoop();
    await loop.start(10 * 60_000);
    // Some probing before the update starts.
    await new Promise((r) => setTimeout(r, 2000));
    const upStart = Date.now();
    const r = await timed('update', () => pulumiRun(['up', '--yes', '--skip-preview', '--stack', STACK], 20 * 60_000));
    const upEnd = Date.now();
    await new Promise((r2) => setTimeout(r2, 2000));
    const probeLoop = loop;
    const s = await probeLoop.stop();
    loop = null;
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
    const beatTimes = probeLoop.lines.filter((l) => l.kind === 'heartbeat').map((l) => l.t as number);
    const during = [upStart, ...beatTimes.filter((t) => t > upStart && t < upEnd), upEnd];
    const nearSwitch = s.firstGood === null ? 0 : s.sent.filter((t) => Math.abs(t - s.firstGood!) <= 1000).length;
    const maxGap = Math.max(...during.slice(1).map((t, i) => t - during[i]));
    const moatLine = r.all.split('\n').filter((l) => /updat|replac/.test(l)).map((l) => l.trim()).slice(0, 12).join(' | ');
    facts.update = {
      upMs: upEnd - upStart,
      loopMs: s.tStop - s.t0,
      attempts: s.attempts,
      outcomes: s.outcomes,
      allowedAttempts: s.goodAttempts,
      allowedOutcomes: s.goodOutcomes,
      allowedFirstReachedAfterUpStartMs: s.firstGood === null ? null : s.firstGood - upStart,
      beats: s.beats,
      maxHeartbeatGapDuringUpMs: maxGap,
      forbiddenAttemptsDuringUp: s.sent.filter((t) => t >= upStart && t <= upEnd).length,
      forbiddenAttemptsWithin1sOfExceptionTakingEffect: nearSwitch,
      moat: moatLine,
    };
    // The loop probed over the whole update: started before it, still probing after it ended.
    expect(s.t0).toBeLessThan(upStart);
    expect(s.lastAttempt).toBeGreaterThan(upEnd);
    expect(s.tStop).toBeGreaterThan(upEnd);
    // About one attempt every 20 ms (at least half that rate), and a heartbeat every 500 ms.
    expect(s.attempts).toBeGreaterThan((s.tStop - s.t0) / 40);
    expect(s.beats).toBeGreaterThan((upEnd - upStart) / 1000);
    // No gap longer than 2 s between heartbeats during the update (the loop did not stall).
    expect(maxGap).toBeLessThan(2000);
    // Not one attempt reached :9002, neither by the cell's account nor by the listener's.
    expect(s.badSuccess).toBe(0);
    expect(s.outcomes.nonce ?? 0).toBe(0);
    expect(forbidden.conns.slice(forbiddenBefore)).toEqual([]);
    // And the exception took effect during that up: the allowed port was reached by the loop.
    expect(s.firstGood).not.toBeNull();
    expect(s.firstGood!).toBeGreaterThan(upStart);
    expect(s.firstGood!).toBeLessThan(upEnd);
    // The moat's transaction happened while the loop was probing hard: many forbidden attempts
    // were made within a second of the moment the new rules took effect.
    expect(nearSwitch).toBeGreaterThan(40);
    expect(s.sent.filter((t) => t >= upStart && t <= upEnd).length).toBeGreaterThan((upEnd - upStart) / 40);
  });

  it('after the update: :9001 answers the cell with its nonce, :9002 still does not', async () => {
    const moat = await remoteMoat();
    expect(moat.some((l) => l.includes(`-d ${LAN_HOST}/32`) && l.includes(`--dport ${ALLOWED_PORT}`) && l.endsWith('-j ACCEPT'))).toBe(true);
    const allowed = await probeFromCell(ALLOWED_PORT);
    expect(allowed.data.trim()).toBe(NONCE[ALLOWED_PORT]);
    const forbidden = listeners.find((l) => l.port === FORBIDDEN_PORT)!;
    const before = forbidden.conns.length;
    const blocked = await probeFromCell(FORBIDDEN_PORT);
    expect(blocked.data).toBe('');
    expect(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']).toContain(blocked.outcome);
    expect(forbidden.conns.length).toBe(before);
    facts.after = { allowed, blocked };
  });

  it('pulumi preview --refresh --expect-no-changes: the live moat is the declared one', async () => {
    const r = await timed('preview', () => pulumiRun(['preview', '--refresh', '--expect-no-changes', '--stack', STACK]));
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
  });
});
