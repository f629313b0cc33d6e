// The moat's namespace lab: a whole little world in network namespaces this lab creates, so that
// no probe can ever leave the machine, whatever the rules do.
//
//   <p>w  "the world": LAN 192.168.77.0/24 (router and DNS resolver .1, NAS .10, fd77::/64),
//         the internet 198.51.100.10 and 2001:db8:77::10, metadata 169.254.169.254, CGNAT 100.64.0.10,
//         and 192.0.0.10, 198.18.0.10, 168.63.129.16 (special ranges the moat drops)
//   <p>h  "the jail host": uplink 192.168.77.2 (fd77::2), default routes into <p>w only. It runs
//         its OWN dockerd (own data root, sockets and iptables: the netns's), so the lab can
//         restart dockerd or wipe the firewall (a reboot) without touching the machine's Docker.
//         The cell network is created on it from the stack's spec (bridge <p>0), and REAL
//         containers (the node stand-in image) probe from there.
//
// Everything is named with the lab's prefix ("cjm" + 4 hex) and removed by down(), also after
// failures; processes are stopped by the PIDs the lab started.
import { spawn, type ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { run, steps, within, type RunResult } from '../helpers/run';
import * as readline from 'readline';
import { parseConfig, type JailConfig } from '../../infra/config';
import { REPO_ROOT } from '../../infra/paths';
import { cellNetworkSpec } from '../../infra/model/network';
import type { MoatTarget } from '../../infra/model/moatHost';
import { moatRulesInputs } from '../../infra/components/moat';
import type { MoatRulesInputs } from '../../infra/components/moatRules';
import { networkCreateBody } from '../e2e/deployer';
import { Engine } from '../e2e/engine';

export const STANDIN_NODE = process.env.NODE_STANDIN || 'clawjail-standin/node:24-bookworm-slim';
export const FIXTURES = path.join(REPO_ROOT, 'test', 'moat', 'fixtures');

export const A = {
  router: '192.168.77.1',
  resolver: '192.168.77.1',
  nas: '192.168.77.10',
  hostUplink: '192.168.77.2',
  internet: '198.51.100.10',
  metadata: '169.254.169.254',
  cgnat: '100.64.0.10',
  ietf: '192.0.0.10',
  benchmarking: '198.18.0.10',
  azure: '168.63.129.16',
  lan6: 'fd77::1',
  hostUplink6: 'fd77::2',
  internet6: '2001:db8:77::10',
  bridge6: 'fd99::1',
  cell6: 'fd99::2',
  subnet: '172.30.77.0/24',
  gateway: '172.30.77.1',
} as const;

export { run, type RunResult };

import { sleep } from '../helpers/wait';
const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

export interface Probe {
  id: string;
  kind: 'tcp' | 'udp' | 'dns' | 'dnstcp' | 'lookup' | 'flood' | 'tput' | 'conn';
  host?: string;
  port?: number;
  server?: string;
  name?: string;
  nonce?: string;
  timeoutMs?: number;
  durationMs?: number;
  parallel?: number;
}

export interface ProbeResult {
  id: string;
  ok: boolean;
  ms: number;
  reply?: string;
  address?: string;
  error?: string;
  [k: string]: unknown;
}

export const nonce = () => crypto.randomBytes(6).toString('hex');

export class MoatLab {
  readonly id = crypto.randomBytes(2).toString('hex');
  readonly prefix = `cjm${this.id}`;
  readonly hostNs = `${this.prefix}h`;
  readonly worldNs = `${this.prefix}w`;
  readonly bridge = `${this.prefix}0`;
  readonly dnsSecret = crypto.randomBytes(16).toString('hex');
  readonly tmpDir = `/tmp/${this.prefix}`;
  /** Root of the files the moat installs (/etc/clawjail, systemd units) in this lab. */
  readonly filesRoot = `/tmp/${this.prefix}/root`;
  readonly dataRoot = `/var/lib/${this.prefix}-docker`;
  readonly execRoot = `/run/${this.prefix}`;
  readonly dockerSock = `/run/${this.prefix}.sock`;
  readonly dockerHost = `unix:///run/${this.prefix}.sock`;
  readonly probeContainer = `${this.prefix}-probe`;
  readonly peerContainer = `${this.prefix}-peer`;
  readonly config: JailConfig;
  readonly engine = new Engine(`/run/${this.prefix}.sock`);

  private dockerd: ChildProcess | null = null;
  private readonly listeners: ChildProcess[] = [];
  private world: { proc: ChildProcess; lines: readline.Interface } | null = null;
  private readonly cleanups: Array<() => Promise<unknown>> = [];
  private readonly exitHook = () => this.killAllSync();

  /** `extraConfig` is stack config over the lab's; a function gets the lab's prefix (for names). */
  constructor(extraConfig: Record<string, string> | ((prefix: string) => Record<string, string>) = {}) {
    if (typeof extraConfig === 'function') extraConfig = extraConfig(this.prefix);
    this.config = parseConfig(
      {
        namePrefix: this.prefix,
        dockerHost: this.dockerHost,
        bridgeName: this.bridge,
        subnet: A.subnet,
        dnsResolvers: JSON.stringify([A.resolver]),
        moatBootRestore: 'none',
        // The moat of a cell with the internet; the egress gate's lab passes "allowlist".
        cellEgress: 'internet',
        ...extraConfig,
      },
      { requireSecrets: false },
    ).config;
  }

  /** Where the moat's commands run: a shell inside the lab's jail host. */
  get target(): MoatTarget {
    return { dockerHost: this.dockerHost, sudo: false, wrap: ['ip', 'netns', 'exec', this.hostNs], root: this.filesRoot };
  }

  /** The moat's resource inputs, exactly as the stack derives them, aimed at the lab host. */
  moatInputs(): MoatRulesInputs {
    return { ...moatRulesInputs(this.config, cellNetworkSpec(this.config)), target: this.target };
  }

  get dockerEnv(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.dockerHost };
  }

  /** The stack file of this lab, for the CLI (`--stack lab --cwd <tmpDir>`). */
  writeStackFile(): string {
    const lines = [
      'config:',
      `  clawjail:namePrefix: ${this.prefix}`,
      `  clawjail:dockerHost: ${this.dockerHost}`,
      `  clawjail:bridgeName: ${this.bridge}`,
      `  clawjail:subnet: ${A.subnet}`,
      `  clawjail:dnsResolvers: '${JSON.stringify([A.resolver])}'`,
      '  clawjail:moatBootRestore: none',
      `  clawjail:cellEgress: ${this.config.cell.egress}`,
    ];
    const file = path.join(this.tmpDir, 'Pulumi.lab.yaml');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  hostSh(script: string, check = true): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.hostNs, 'sh', '-c', script], { check });
  }

  /** `containers: false` leaves out the probe and peer containers (a lab with fixed addresses of its own). */
  async up(opts: { ipv6?: boolean; containers?: boolean } = {}): Promise<void> {
    process.on('exit', this.exitHook);
    const img = await run('docker', ['image', 'inspect', STANDIN_NODE], { check: false });
    if (img.code !== 0) throw new Error(`${STANDIN_NODE} is missing: run infra/images/standins/build.sh`);
    if (fs.existsSync('/run/containerd/containerd.sock')) {
      // dockerd would use the system containerd instead of its own, mixing the lab into it.
      throw new Error('a system containerd runs at /run/containerd/containerd.sock: the lab needs its own');
    }
    fs.mkdirSync(this.filesRoot, { recursive: true });
    this.cleanups.push(() => fs.promises.rm(this.tmpDir, { recursive: true, force: true }));
    await this.network();
    await this.startWorld();
    await this.startDockerd();
    this.cleanups.push(() => fs.promises.rm(this.dataRoot, { recursive: true, force: true }));
    await this.loadImage();
    await this.engine.request('POST', '/networks/create', networkCreateBody(cellNetworkSpec(this.config)));
    await this.startListener('host', [A.hostUplink, A.gateway, ...(opts.ipv6 ? [A.hostUplink6] : [])], this.hostNs);
    if (opts.containers === false) return;
    await this.startContainer(this.probeContainer, ['sleep', 'infinity']);
    await this.startContainer(this.peerContainer, ['node', '/cjm/world.js', '--role', 'peer', '--daemon', '--udp', '0.0.0.0']);
  }

  /** More arguments for the world's listener (world.js), e.g. `--names` for fixed DNS answers. */
  protected worldExtraArgs(): string[] {
    return [];
  }

  private async network(): Promise<void> {
    const h = this.hostNs;
    const w = this.worldNs;
    const ip = (...a: string[]) => run('ip', a);
    await ip('netns', 'add', h);
    this.cleanups.push(() => run('ip', ['netns', 'del', h], { check: false }));
    await ip('netns', 'add', w);
    this.cleanups.push(() => run('ip', ['netns', 'del', w], { check: false }));
    // The veth is created straight inside the namespaces: it never exists in the root namespace.
    await ip('-n', h, 'link', 'add', `${this.prefix}u`, 'type', 'veth', 'peer', 'name', `${this.prefix}l`, 'netns', w);
    const inH = (...a: string[]) => ip('-n', h, ...a);
    const inW = (...a: string[]) => ip('-n', w, ...a);
    await inH('link', 'set', 'lo', 'up');
    await inW('link', 'set', 'lo', 'up');
    await inH('addr', 'add', `${A.hostUplink}/24`, 'dev', `${this.prefix}u`);
    await inH('-6', 'addr', 'add', `${A.hostUplink6}/64`, 'dev', `${this.prefix}u`, 'nodad');
    await inH('link', 'set', `${this.prefix}u`, 'up');
    await inW('addr', 'add', `${A.router}/24`, 'dev', `${this.prefix}l`);
    await inW('addr', 'add', `${A.nas}/24`, 'dev', `${this.prefix}l`);
    await inW('-6', 'addr', 'add', `${A.lan6}/64`, 'dev', `${this.prefix}l`, 'nodad');
    await inW('link', 'set', `${this.prefix}l`, 'up');
    for (const a of [A.internet, A.metadata, A.cgnat, A.ietf, A.benchmarking, A.azure]) await inW('addr', 'add', `${a}/32`, 'dev', 'lo');
    await inW('-6', 'addr', 'add', `${A.internet6}/128`, 'dev', 'lo');
    await inH('route', 'add', 'default', 'via', A.router);
    await inH('-6', 'route', 'add', 'default', 'via', A.lan6);
    await inW('-6', 'route', 'add', 'fd99::/64', 'via', A.hostUplink6);
    // The jail host routes IPv6 too, so that only the moat stands between the cell and v6.
    await run('ip', ['netns', 'exec', h, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  }

  /** Exits of the lab's listeners that the lab did not ask for (reported by down()). */
  readonly unexpectedExits: string[] = [];
  private stopping = false;

  protected spawnTracked(args: string[]): ChildProcess {
    const proc = spawn(args[0], args.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.listeners.push(proc);
    let stderr = '';
    proc.stderr!.on('data', (d) => {
      stderr += d;
    });
    proc.on('exit', (code, signal) => {
      if (!this.stopping) this.unexpectedExits.push(`${args.slice(4).join(' ')}: ${signal ?? code} ${stderr.slice(-500)}`);
    });
    return proc;
  }

  protected async waitReady(proc: ChildProcess, what: string): Promise<readline.Interface> {
    const lines = readline.createInterface({ input: proc.stdout! });
    let stderr = '';
    proc.stderr!.on('data', (d) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} not ready: ${stderr}`)), 20_000);
      lines.on('line', (l) => {
        if (l === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`${what} exited ${code}: ${stderr}`)));
    });
    return lines;
  }

  private async startWorld(): Promise<void> {
    const udp = [A.router, A.nas, A.internet, A.metadata, A.cgnat, A.lan6, A.internet6];
    const proc = this.spawnTracked([
      'ip', 'netns', 'exec', this.worldNs, process.execPath, path.join(FIXTURES, 'world.js'),
      '--role', 'world', '--dns', this.dnsSecret, '--bench', '--udp', udp.join(','), ...this.worldExtraArgs(),
    ]);
    this.world = { proc, lines: await this.waitReady(proc, 'world listener') };
  }

  private async startListener(role: string, udp: string[], ns: string): Promise<void> {
    const proc = this.spawnTracked(['ip', 'netns', 'exec', ns, process.execPath, path.join(FIXTURES, 'world.js'), '--role', role, '--udp', udp.join(',')]);
    await this.waitReady(proc, `${role} listener`);
  }

  /** Datagrams of a flood that reached the world (any of its addresses). */
  async worldCount(n: string): Promise<number> {
    const w = this.world;
    if (!w) throw new Error('no world');
    return new Promise((resolve) => {
      const on = (l: string) => {
        const m = /^count (\S+) (\d+)$/.exec(l);
        if (m && m[1] === n) {
          w.lines.off('line', on);
          resolve(Number(m[2]));
        }
      };
      w.lines.on('line', on);
      w.proc.stdin!.write(`count ${n}\n`);
    });
  }

  /** The A record the lab's resolver gives for a name (what a probe must get back). */
  expectedAddress(name: string): string {
    return [...crypto.createHmac('sha256', this.dnsSecret).update(name.toLowerCase()).digest().subarray(0, 4)].join('.');
  }

  async startDockerd(): Promise<void> {
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.writeFileSync(path.join(this.tmpDir, 'daemon.json'), '{}\n');
    // dockerd (and so Docker's embedded DNS) sees the lab's resolver, not the machine's.
    fs.writeFileSync(path.join(this.tmpDir, 'resolv.conf'), `nameserver ${A.resolver}\n`);
    const log = fs.openSync(path.join(this.tmpDir, 'dockerd.log'), 'a');
    // nsenter keeps the machine's mounts (cgroups), unshare -m gives a private mount namespace for
    // the resolv.conf bind mount; both exec, so the child's PID is dockerd's.
    const proc = spawn(
      'nsenter',
      [
        `--net=/run/netns/${this.hostNs}`, 'unshare', '-m', '--propagation', 'slave', 'sh', '-c',
        `mount --bind ${this.tmpDir}/resolv.conf /etc/resolv.conf && exec dockerd --config-file ${this.tmpDir}/daemon.json ` +
          `--data-root ${this.dataRoot} --exec-root ${this.execRoot} --pidfile ${this.execRoot}.pid ` +
          `-H unix://${this.dockerSock} --cgroup-parent ${this.prefix}-docker`,
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.dockerd = proc;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!alive(proc)) break;
      const r = await run('docker', ['-H', this.dockerHost, 'version', '--format', '{{.Server.Version}}'], { check: false, timeoutMs: 5000 });
      if (r.code === 0) return;
      await sleep(500);
    }
    throw new Error(`lab dockerd did not start:\n${fs.readFileSync(path.join(this.tmpDir, 'dockerd.log'), 'utf8').slice(-3000)}`);
  }

  /** Stops the lab's dockerd (its containers stop with it: no live-restore). */
  async stopDockerd(): Promise<void> {
    const proc = this.dockerd;
    if (!proc || !alive(proc) || proc.pid === undefined) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    process.kill(proc.pid, 'SIGTERM');
    if (!(await within(exited, 45_000)) && alive(proc)) {
      process.kill(proc.pid, 'SIGKILL');
      await exited;
    }
    this.dockerd = null;
  }

  async restartDockerd(): Promise<void> {
    await this.stopDockerd();
    await this.startDockerd();
    await this.waitRunning(this.probeContainer);
    await this.waitRunning(this.peerContainer);
  }

  /** An image of this machine's Docker, copied into the lab's dockerd (docker save | docker load). */
  protected async loadImage(image = STANDIN_NODE): Promise<void> {
    const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('docker', ['-H', this.dockerHost, 'load', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    save.stdout.pipe(load.stdin);
    let err = '';
    save.stderr.on('data', (d) => (err += d));
    load.stderr.on('data', (d) => (err += d));
    const [a, b] = await Promise.all([
      new Promise<number>((r) => save.on('close', (c) => r(c ?? -1))),
      new Promise<number>((r) => load.on('close', (c) => r(c ?? -1))),
    ]);
    if (a !== 0 || b !== 0) throw new Error(`loading ${image} into the lab failed: ${err}`);
  }

  /** A container shaped like the cell where it matters here: uid 1000, no capabilities. */
  private async startContainer(name: string, cmd: string[]): Promise<void> {
    await this.engine.request('POST', `/containers/create?name=${name}`, {
      Image: STANDIN_NODE,
      Cmd: cmd,
      User: '1000:1000',
      StopTimeout: 2,
      HostConfig: {
        NetworkMode: cellNetworkSpec(this.config).name,
        Binds: [`${FIXTURES}:/cjm:ro`],
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        Init: true,
        RestartPolicy: { Name: 'unless-stopped' },
      },
    });
    await this.engine.request('POST', `/containers/${name}/start`);
    await this.waitRunning(name);
  }

  async waitRunning(name: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const info = await this.engine
        .request<{ State: { Running: boolean } }>('GET', `/containers/${name}/json`)
        .catch(() => undefined);
      if (info?.State.Running) return;
      await sleep(300);
    }
    throw new Error(`${name} is not running`);
  }

  async containerIp(name: string): Promise<string> {
    const info = await this.engine.request<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>(
      'GET',
      `/containers/${name}/json`,
    );
    return Object.values(info.NetworkSettings.Networks)[0].IPAddress;
  }

  async containerPid(name: string): Promise<number> {
    const info = await this.engine.request<{ State: { Pid: number } }>('GET', `/containers/${name}/json`);
    return info.State.Pid;
  }

  /** Runs probes from inside a container on the moat network. */
  async probe(probes: Probe[], container = this.probeContainer): Promise<Record<string, ProbeResult>> {
    const r = await run('docker', ['exec', container, 'node', '/cjm/probe.js', JSON.stringify(probes)], {
      env: this.dockerEnv,
      timeoutMs: 120_000,
    });
    const list = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as ProbeResult[];
    return Object.fromEntries(list.map((x) => [x.id, x]));
  }

  /**
   * Plays an attacker who got IPv6 configured in the cell (the real cell cannot: no
   * CAP_NET_ADMIN, IPv6 off on its network): done from outside, in the container's netns.
   */
  async armIPv6(container = this.probeContainer): Promise<void> {
    await this.hostSh(`ip -6 addr replace ${A.bridge6}/64 dev ${this.bridge} nodad`);
    const pid = await this.containerPid(container);
    const nsArgs = ['--net=/proc/' + pid + '/ns/net'];
    await run('nsenter', [...nsArgs, 'sysctl', '-qw', 'net.ipv6.conf.eth0.disable_ipv6=0']);
    await run('nsenter', [...nsArgs, 'ip', '-6', 'addr', 'replace', `${A.cell6}/64`, 'dev', 'eth0', 'nodad']);
    await run('nsenter', [...nsArgs, 'ip', '-6', 'route', 'replace', 'default', 'via', A.bridge6, 'dev', 'eth0']);
  }

  /** Removes everything the lab made; runs every step even when some fail. */
  async down(): Promise<void> {
    process.off('exit', this.exitHook);
    const { errors, step } = steps();
    if (this.dockerd && alive(this.dockerd)) {
      for (const c of [this.probeContainer, this.peerContainer]) {
        await step(`remove ${c}`, () => this.engine.remove(`/containers/${c}?force=true`));
      }
      await step('remove network', () => this.engine.remove(`/networks/${cellNetworkSpec(this.config).name}`));
    }
    await step('stop dockerd', () => this.stopDockerd());
    this.stopping = true;
    for (const p of this.listeners) {
      if (alive(p)) {
        await step('stop listener', async () => {
          const exited = new Promise<void>((r) => p.once('exit', () => r()));
          p.stdin?.end();
          p.kill('SIGTERM');
          await within(exited, 5000);
          if (alive(p)) p.kill('SIGKILL');
        });
      }
    }
    if (this.unexpectedExits.length) errors.push(`listeners exited early: ${this.unexpectedExits.join(' | ')}`);
    for (const fn of [...this.cleanups].reverse()) await step('cleanup', fn);
    for (const f of [this.dockerSock, `${this.execRoot}.pid`]) await step(`rm ${f}`, () => fs.promises.rm(f, { force: true }));
    await step('rm exec root', () => fs.promises.rm(this.execRoot, { recursive: true, force: true }));
    if (errors.length) throw new Error(`lab ${this.prefix} teardown: ${errors.join('; ')}`);
  }

  private killAllSync(): void {
    for (const p of [this.dockerd, ...this.listeners]) {
      if (p && alive(p) && p.pid !== undefined) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
  }
}
