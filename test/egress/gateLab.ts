// The egress gate's namespace lab: the moat's lab (test/moat/lab.ts) with cellEgress allowlist,
// and on the lab's OWN dockerd, everything from the stack's spec:
//   - the cell network (cellNetworkSpec) and the gate link (gateNetworkSpec), the moat applied
//     in allowlist mode with the real provider function (applyMoat);
//   - the gate (egressContainerSpec) from egress/Dockerfile, built on this machine's Docker and
//     loaded into the lab's, its providers file uploaded before its first start (as the stack's
//     secretFiles are), its policy written with the stack's own script (egressPolicyWriteScript);
//   - a stand-in for the gateway that owns the cell's namespace (gatewayContainerSpec's networks,
//     fixed addresses and dns) and a probe "cell" joined to it under the cell's hardening
//     (cellContainerSpec: uid 1000, no capabilities, seccomp, read-only root, the proxy env),
//     on the node stand-in with git.
// The world namespace answers fixed names (world.js --names) and runs nonce servers of its own
// (fixtures/gateWorld.js): TLS on 198.51.100.10:443 with a certificate of a CA made here, HTTP on
// :80 (both also serve a bare git repository made here), a recorder on the NAS 192.168.77.10:443. Test-only additions to the gate's create body:
// the test CA, bind-mounted read-only and named by NODE_EXTRA_CA_CERTS.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import type * as readline from 'readline';
import * as forge from 'node-forge';
import type { JailSecrets } from '../../infra/config';
import { hostBuildArgs } from '../../infra/buildArgs';
import { REPO_ROOT } from '../../infra/paths';
import { applyMoat, removeMoat } from '../../infra/components/moatRules';
import { cellContainerSpec } from '../../infra/model/cell';
import { egressContainerSpec, egressPolicyDocument, gateAddresses, gateNetworkSpec, EGRESS_PORT } from '../../infra/model/egress';
import { egressFiles, egressPolicyWriteScript } from '../../infra/model/egressPolicy';
import { bridgeAddresses } from '../../infra/model/firewall';
import { gatewayContainerSpec } from '../../infra/model/gateway';
import { jailNames } from '../../infra/model/names';
import { pidsLimitScript, type ContainerSpec } from '../../infra/model';
import { containerCreateBody, endpointConfig, networkCreateBody } from '../e2e/deployer';
import { tarOf } from '../e2e/tar';
import { A, FIXTURES, MoatLab, STANDIN_NODE, run, type RunResult } from '../moat/lab';

export const GATE_FIXTURES = path.join(REPO_ROOT, 'test', 'egress', 'fixtures');
/** The lab's cell image: the node stand-in with git (fixtures/gitCell.Dockerfile). */
export const GIT_CELL_IMAGE = 'cjtest/gate-cell-git:1';

/** The names the world's resolver answers with fixed addresses (Docker's DNS forwards to it). */
export const NAMES = {
  allowed: 'allowed.cjm.test',
  other: 'other.cjm.test',
  temp: 'temp.cjm.test',
  rebind: 'rebind.cjm.test',
  loop: 'loop.cjm.test',
  provider: 'provider.cjm.test',
} as const;

const NAME_ADDRESSES: Record<string, string> = {
  [NAMES.allowed]: A.internet,
  [NAMES.other]: A.internet,
  [NAMES.temp]: A.internet,
  [NAMES.rebind]: A.nas,
  [NAMES.loop]: '127.0.0.1',
  [NAMES.provider]: A.internet,
};

/** The stack's allowlist in this lab: rebind and loop are on it, so only the address check stops them. */
export const ALLOW = [NAMES.allowed, `${NAMES.allowed}:80`, NAMES.rebind, NAMES.loop];

/** In the gate's container only (test-only): the CA the world's TLS server's certificate chains to. */
const GATE_CA_PATH = '/etc/cjm-test/ca.pem';

export interface WorldStats {
  tlsConnections: number;
  hellos: string[];
  requests: { sni: string | null; method: string; path: string; host: string | null; authorization: string | null; nonce: string }[];
  httpRequests: { path: string; host: string | null; nonce: string }[];
  nasConnections: number;
}

export interface ContainerClock {
  startedAt: string;
  restartCount: number;
  running: boolean;
}

function makeCerts(names: string[]): { caPem: string; certPem: string; keyPem: string } {
  const pki = forge.pki;
  const keyPair = () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      privateKey: pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string),
      publicKey: pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string),
    };
  };
  const validity = (c: forge.pki.Certificate) => {
    c.validity.notBefore = new Date(Date.now() - 3600_000);
    c.validity.notAfter = new Date(Date.now() + 2 * 86400_000);
  };
  const caKeys = keyPair();
  const ca = pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01' + crypto.randomBytes(8).toString('hex');
  validity(ca);
  const caName = [{ name: 'commonName', value: `clawjail gate lab test CA ${crypto.randomBytes(3).toString('hex')}` }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = keyPair();
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02' + crypto.randomBytes(8).toString('hex');
  validity(cert);
  cert.setSubject([{ name: 'commonName', value: names[0] }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: pki.certificateToPem(ca), certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

/** The CAs this machine's npm must trust (a TLS-intercepting proxy), as test/e2e/testJail.ts finds them. */
function machineCaBundle(): string {
  const dir = '/usr/local/share/ca-certificates';
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.crt'))
      .sort()
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
      .join('\n');
  } catch {
    return '';
  }
}

export class GateLab extends MoatLab {
  readonly names = jailNames(this.config);
  readonly gate = gateAddresses(this.config);
  readonly bridgeAddr = bridgeAddresses(this.config);
  /** The proxy as the cell's env names it. */
  readonly proxy = `${gateAddresses(this.config).egress}:${EGRESS_PORT}`;
  readonly providerKey = `cjmkey-${crypto.randomBytes(18).toString('hex')}`;
  /** What the world's repository holds (nonce.txt): a clone that shows it came from the world. */
  readonly repoNonce = `cjmrepo${crypto.randomBytes(8).toString('hex')}`;
  readonly repoDir = path.join(this.tmpDir, 'repo.git');
  readonly caFile = path.join(this.tmpDir, 'ca.pem');
  readonly buildCaFile = path.join(this.tmpDir, 'build-ca.pem');
  private certs: { caPem: string; certPem: string; keyPem: string } | null = null;
  private gateWorld: { lines: readline.Interface; stdin: NodeJS.WritableStream } | null = null;
  private readonly gateCleanups: Array<[string, () => Promise<unknown>]> = [];
  readonly secrets: JailSecrets;
  readonly specs: { egress: ContainerSpec; owner: ContainerSpec; cell: ContainerSpec };

  /** extraConfig: more stack settings on top of the lab's (the benchmark lifts the moat's connection rate). */
  constructor(extraConfig: Record<string, string> = {}) {
    super((prefix) => ({
      cellEgress: 'allowlist',
      gateBridgeName: `${prefix}2`,
      gateSubnet: '172.30.79.0/24',
      egressAllow: JSON.stringify(ALLOW),
      nodeBaseImage: STANDIN_NODE,
      buildCaFile: `/tmp/${prefix}/build-ca.pem`,
      ...extraConfig,
    }));
    const providers = {
      providers: [{ name: 'fake', baseUrl: `https://${NAMES.provider}/v1`, header: 'authorization', prefix: 'Bearer ', key: this.providerKey }],
    };
    this.secrets = {
      openclawToken: crypto.randomBytes(32).toString('hex'),
      gatewayToken: crypto.randomBytes(32).toString('hex'),
      egressProviders: JSON.stringify(providers),
    };
    const egress = egressContainerSpec(this.config);
    const gw = gatewayContainerSpec(this.config);
    const cell = cellContainerSpec(this.config);
    const fixtureMounts = [
      { type: 'bind' as const, source: FIXTURES, target: '/cjm', readOnly: true },
      { type: 'bind' as const, source: GATE_FIXTURES, target: '/cjg', readOnly: true },
    ];
    this.specs = {
      // The gate exactly as the stack declares it, plus the test CA (see gateCreateBody).
      egress,
      // The namespace owner: the gateway's networks, addresses and dns; a process that only sleeps.
      owner: {
        ...gw,
        image: { ...gw.image, name: STANDIN_NODE },
        command: ['sleep', 'infinity'],
        secretFiles: {},
        mounts: [],
        // Nothing of the lab on the jail host's loopback: the operator's port is not under test.
        ports: [],
      },
      // The cell's hardening and env; the stand-in node running the probes instead of OpenClaw.
      cell: {
        ...cell,
        image: { ...cell.image, name: GIT_CELL_IMAGE },
        command: ['sleep', 'infinity'],
        mounts: [...cell.mounts, ...fixtureMounts],
      },
    };
  }

  protected override worldExtraArgs(): string[] {
    return ['--names', Object.entries(NAME_ADDRESSES).map(([n, a]) => `${n}=${a}`).join(',')];
  }

  private later(what: string, fn: () => Promise<unknown>): void {
    this.gateCleanups.push([what, fn]);
  }

  async upGate(): Promise<void> {
    await this.up({ containers: false });
    this.certs = makeCerts([NAMES.allowed, NAMES.other, NAMES.temp, NAMES.provider]);
    fs.writeFileSync(this.caFile, this.certs.caPem, { mode: 0o644 });
    fs.writeFileSync(path.join(this.tmpDir, 'world.pem'), this.certs.certPem, { mode: 0o600 });
    fs.writeFileSync(path.join(this.tmpDir, 'world.key'), this.certs.keyPem, { mode: 0o600 });
    this.makeRepo();
    await this.startGateWorld();
    await this.loadEgressImage();
    await this.loadGitCellImage();

    // The networks, then the moat on the cell's bridge (allowlist mode), as `pulumi up` orders them.
    const gateNet = gateNetworkSpec(this.config);
    await this.engine.request('POST', '/networks/create', networkCreateBody(gateNet));
    this.later('remove the gate network', () => this.engine.remove(`/networks/${gateNet.name}`));
    const inputs = this.moatInputs();
    this.later('remove the moat', () => removeMoat(inputs));
    await applyMoat(inputs);

    await this.engine.request('POST', '/volumes/create', { Name: this.names.egressStateVolume, Labels: { 'clawjail.stack': this.prefix } });
    await this.engine.request('POST', '/volumes/create', { Name: this.names.workspaceVolume, Labels: { 'clawjail.stack': this.prefix } });
    this.later('remove the volumes', async () => {
      await this.engine.remove(`/volumes/${this.names.egressStateVolume}?force=true`);
      await this.engine.remove(`/volumes/${this.names.workspaceVolume}?force=true`);
    });

    // The gate: created, networks connected, its providers file uploaded, the pids limit set and
    // started (pidsLimitScript starts it), then the stack's policy written.
    const egress = this.specs.egress;
    await this.create(egress, this.gateCreateBody());
    await this.uploadSecretFiles(egress);
    await run('/bin/sh', ['-c', pidsLimitScript(egress.name, egress.pidsLimit)], { env: this.dockerEnv });
    await this.waitRunning(egress.name);
    await run('/bin/sh', ['-c', egressPolicyWriteScript(egress.name, egressPolicyDocument(this.config))], { env: this.dockerEnv });
    await this.waitPolicy();

    const owner = this.specs.owner;
    await this.create(owner, { ...containerCreateBody(owner, this.secrets), Healthcheck: { Test: ['NONE'] } });
    await run('/bin/sh', ['-c', pidsLimitScript(owner.name, owner.pidsLimit)], { env: this.dockerEnv });
    await this.waitRunning(owner.name);
    const cell = this.specs.cell;
    await this.create(cell, { ...containerCreateBody(cell, this.secrets), Healthcheck: { Test: ['NONE'] } });
    await run('/bin/sh', ['-c', pidsLimitScript(cell.name, cell.pidsLimit)], { env: this.dockerEnv });
    await this.waitRunning(cell.name);
  }

  /** The stack's create body of the gate, plus the test CA (read-only) and NODE_EXTRA_CA_CERTS. */
  gateCreateBody(): Record<string, unknown> {
    const body = containerCreateBody(this.specs.egress, this.secrets) as { Env: string[]; HostConfig: { Mounts: unknown[] } };
    return {
      ...body,
      Env: [...body.Env, `NODE_EXTRA_CA_CERTS=${GATE_CA_PATH}`],
      HostConfig: { ...body.HostConfig, Mounts: [...body.HostConfig.Mounts, { Type: 'bind', Source: this.caFile, Target: GATE_CA_PATH, ReadOnly: true }] },
    };
  }

  private async create(spec: ContainerSpec, body: Record<string, unknown>): Promise<void> {
    this.later(`remove ${spec.name}`, () => this.engine.remove(`/containers/${spec.name}?force=true&v=true`));
    await this.engine.request('POST', `/containers/create?name=${encodeURIComponent(spec.name)}`, body);
    for (const n of spec.networks.slice(1)) {
      await this.engine.request('POST', `/networks/${n}/connect`, { Container: spec.name, EndpointConfig: endpointConfig(spec, n) });
    }
  }

  /** As the deployer (and the Docker provider's `uploads`): one archive per file, before the start. */
  private async uploadSecretFiles(c: ContainerSpec): Promise<void> {
    for (const [file, key] of Object.entries(c.secretFiles)) {
      const dir = path.posix.dirname(file);
      const archive = tarOf([{ name: path.posix.basename(file), content: Buffer.from(this.secrets[key]), mode: 0o644 }]);
      await this.engine.request('PUT', `/containers/${c.name}/archive?path=${encodeURIComponent(dir)}`, archive);
    }
  }

  /** egress/Dockerfile built on this machine's Docker (its layer cache), then loaded into the lab's. */
  private async loadEgressImage(): Promise<void> {
    const image = this.specs.egress.image;
    fs.writeFileSync(this.buildCaFile, machineCaBundle());
    const buildArgs = { ...image.buildArgs, ...(fs.statSync(this.buildCaFile).size ? hostBuildArgs(this.config) : {}) };
    const args = ['build', '-q', '-t', image.name, '-f', path.join(REPO_ROOT, image.dockerfile)];
    for (const [k, v] of Object.entries(buildArgs)) args.push('--build-arg', `${k}=${v}`);
    args.push(path.join(REPO_ROOT, image.context));
    this.later(`untag ${image.name} on this machine`, () => run('docker', ['rmi', image.name], { check: false }));
    await run('docker', args, { timeoutMs: 20 * 60_000 });
    await this.loadImage(image.name);
  }

  /**
   * The lab's cell image: the node stand-in plus Debian's git (the stack's cell image has git
   * too), built on this machine's Docker (kept, like the stand-ins: its layer cache makes the
   * next run cheap), then loaded into the lab's.
   */
  private async loadGitCellImage(): Promise<void> {
    const args = ['build', '-q', '-t', GIT_CELL_IMAGE, '--build-arg', `BASE_IMAGE=${STANDIN_NODE}`, '-f', path.join(GATE_FIXTURES, 'gitCell.Dockerfile'), GATE_FIXTURES];
    await run('docker', args, { timeoutMs: 20 * 60_000 });
    await this.loadImage(GIT_CELL_IMAGE);
  }

  /** A bare repository with one commit of a file holding `repoNonce`, served by the world over git's dumb HTTP. */
  private makeRepo(): void {
    const work = path.join(this.tmpDir, 'repo-work');
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=cjm', '-c', 'user.email=cjm@lab.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
    fs.mkdirSync(work, { recursive: true });
    git(work, 'init', '-q');
    fs.writeFileSync(path.join(work, 'nonce.txt'), `${this.repoNonce}\n`);
    git(work, 'add', 'nonce.txt');
    git(work, 'commit', '-q', '-m', 'lab');
    git(this.tmpDir, 'clone', '-q', '--bare', work, this.repoDir);
    git(this.repoDir, 'update-server-info');
  }

  private async startGateWorld(): Promise<void> {
    const proc = this.spawnTracked([
      'ip', 'netns', 'exec', this.worldNs, process.execPath, path.join(GATE_FIXTURES, 'gateWorld.js'),
      '--internet', A.internet, '--nas', A.nas, '--cert', path.join(this.tmpDir, 'world.pem'), '--key', path.join(this.tmpDir, 'world.key'),
      '--repo', this.repoDir,
    ]);
    this.gateWorld = { lines: await this.waitReady(proc, 'gate world'), stdin: proc.stdin! };
  }

  /** What the world's gate servers saw so far. */
  async worldStats(): Promise<WorldStats> {
    const w = this.gateWorld;
    if (!w) throw new Error('no gate world');
    return new Promise((resolve) => {
      const on = (l: string) => {
        if (l.startsWith('stats ')) {
          w.lines.off('line', on);
          resolve(JSON.parse(l.slice(6)) as WorldStats);
        }
      };
      w.lines.on('line', on);
      w.stdin.write('stats\n');
    });
  }

  get caPem(): string {
    if (!this.certs) throw new Error('no certificates yet');
    return this.certs.caPem;
  }

  /** The gate's state directory on the jail host: the volume's mountpoint in the lab's data root. */
  async stateDir(): Promise<string> {
    const r = await run('docker', ['-H', this.dockerHost, 'volume', 'inspect', '-f', '{{.Mountpoint}}', this.names.egressStateVolume]);
    return r.stdout.trim();
  }

  /** Waits until the gate runs the stack's policy (read back through its admin socket). */
  private async waitPolicy(): Promise<void> {
    const want = egressPolicyDocument(this.config).allow;
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      const r = await this.cli(['status', '--json']).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      last = r.stdout + r.stderr;
      try {
        const s = JSON.parse(r.stdout) as { allow?: string[]; policyError?: string | null };
        if (JSON.stringify(s.allow) === JSON.stringify(want) && !s.policyError) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r2) => setTimeout(r2, 500));
    }
    const logs = await run('docker', ['-H', this.dockerHost, 'logs', '--tail', '50', this.specs.egress.name], { check: false });
    throw new Error(`the gate never applied the policy: ${last}\n${logs.stdout}${logs.stderr}`);
  }

  /**
   * `clawjail egress ... --dir <state dir>`: the built CLI (bin/clawjail) when dist/ has the egress
   * command, else the same entry point (cli/main.ts) through ts-node.
   */
  async cli(args: string[]): Promise<RunResult & { how: string }> {
    const dir = await this.stateDir();
    const built = fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'cli', 'commands', 'egress.js'));
    const argv = ['egress', ...args, '--dir', dir];
    if (built) return { ...(await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'clawjail'), ...argv], { check: false })), how: 'bin/clawjail' };
    const js =
      `require(${JSON.stringify(path.join(REPO_ROOT, 'cli', 'main'))}).main(process.argv.slice(1), ` +
      '{ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 99; })';
    const r = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', js, ...argv], {
      check: false,
      env: { ...process.env, TS_NODE_PROJECT: path.join(REPO_ROOT, 'tsconfig.json') },
      timeoutMs: 60_000,
    });
    return { ...r, how: 'cli/main.ts (ts-node; dist/ has no egress command)' };
  }

  /** Runs gateProbe.js inside the cell (as its user, under its hardening). */
  async cellProbe(probes: Record<string, unknown>[]): Promise<Record<string, GateResult>> {
    const r = await run('docker', ['-H', this.dockerHost, 'exec', this.specs.cell.name, 'node', '/cjg/gateProbe.js', JSON.stringify(probes)], { timeoutMs: 120_000 });
    return byId(r.stdout);
  }

  /** Runs gateProbe.js in the jail host's namespace itself (outside the cell): the controls. */
  async hostProbe(probes: Record<string, unknown>[]): Promise<Record<string, GateResult>> {
    const r = await run('ip', ['netns', 'exec', this.hostNs, process.execPath, path.join(GATE_FIXTURES, 'gateProbe.js'), JSON.stringify(probes)], { timeoutMs: 120_000 });
    return byId(r.stdout);
  }

  /** The gate's decision log, read from its volume inside the gate. */
  async decisions(): Promise<Record<string, unknown>[]> {
    const r = await run('docker', ['-H', this.dockerHost, 'exec', this.specs.egress.name, 'cat', egressFiles.log], { check: false });
    return r.stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async clock(name: string): Promise<ContainerClock> {
    const info = await this.engine.request<{ RestartCount: number; State: { StartedAt: string; Running: boolean } }>('GET', `/containers/${name}/json`);
    return { startedAt: info.State.StartedAt, restartCount: info.RestartCount, running: info.State.Running };
  }

  docker(args: string[], opts: { input?: string; check?: boolean } = {}): Promise<RunResult> {
    return run('docker', ['-H', this.dockerHost, ...args], { input: opts.input, check: opts.check ?? true, timeoutMs: 120_000 });
  }

  override async down(): Promise<void> {
    const errors: string[] = [];
    if (fs.existsSync(this.dockerSock)) {
      for (const [what, fn] of [...this.gateCleanups].reverse()) {
        try {
          await fn();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
        }
      }
    } else {
      // Only what lives outside the lab's dockerd.
      for (const [what, fn] of this.gateCleanups.filter(([w]) => w.startsWith('untag'))) await fn().catch((e: Error) => errors.push(`${what}: ${e.message}`));
    }
    try {
      await super.down();
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (errors.length) throw new Error(`gate lab ${this.prefix} teardown: ${errors.join('; ')}`);
  }
}

export interface GateResult {
  id: string;
  ok: boolean;
  ms: number;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  json?: { error?: string; host?: string; port?: number; reason?: string; detail?: string };
  reply?: string;
  tls?: string;
  error?: string;
  [k: string]: unknown;
}

function byId(stdout: string): Record<string, GateResult> {
  const list = JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as GateResult[];
  return Object.fromEntries(list.map((x) => [x.id, x]));
}
