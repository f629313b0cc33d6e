// The stack through the real Pulumi engine: the source-built CLI, our language host and the
// docker provider plugin (scripts/pulumi-engine.sh) deploy the whole jail on this host's Docker
// engine, through the policy pack, on a test stack of its own. Never the test-only deployer.
//
// One stack, one sequence: up, read back, operate, drift and heal, update, destroy, up again.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fetchPresentedCertificate } from '../../gateway/src/pinned';
import { moatChainNames } from '../../infra/model/firewall';
import { moatPaths, renderRemoveScript } from '../../infra/model/moatHost';
import { renderReleasePrefixScript } from '../../infra/model/stores';
import { REPO_ROOT } from '../../infra/paths';
import { EICAR } from '../../warden/test/clamdHarness';
import { run } from '../helpers/run';
import { until as waitUntil } from '../helpers/wait';
import { clawjailWith } from './cli';
import { LEGACY_ID, seedLegacyQuarantine } from './legacyQuarantine';
import { Engine } from './engine';
import { failureOf, PulumiSandbox } from './pulumiCli';
import { DEBIAN_STANDIN, NODE_STANDIN, localCaBundle, seedSignatures } from './testJail';

jest.setTimeout(30 * 60_000);

const STACK = 'cjtest-engine';
const PREFIX = 'cjeng';
const CONTAINERS = ['warden', 'clamd', 'sentry', 'egress', 'gateway', 'cell'].map((r) => `${PREFIX}-${r}`);
const CHAINS = moatChainNames(PREFIX);
const SUBNET = '172.29.205.0/24';
const CONFIG: Record<string, string> = {
  namePrefix: PREFIX,
  nodeBaseImage: NODE_STANDIN,
  debianBaseImage: DEBIAN_STANDIN,
  bridgeName: 'cjeng0',
  subnet: SUBNET,
  scanBridgeName: 'cjeng1',
  scanSubnet: '172.29.206.0/24',
  gatewayPort: '18453',
  gatewayLoginPort: '18454',
  // The default: the egress gate. Its allowlist names nothing the tests resolve, and every probe
  // below asks the gate for names off the list, which it refuses without resolving them.
  cellEgress: 'allowlist',
  gateBridgeName: 'cjeng2',
  gateSubnet: '172.29.207.0/24',
  egressAllow: '["allowed.cjeng.invalid"]',
  clamdSignatures: 'custom',
  // Small capped stores: the real ones, sized for a test.
  workspaceSizeMb: '128',
  quarantineSizeMb: '64',
  // This machine has no systemd; the boot restore is tested on its own (test/moat).
  moatBootRestore: 'none',
  buildCaFile: localCaBundle(),
};

/** A host command that never rejects: the test reads its exit code. */
const sh = (cmd: string, args: string[], input?: string | Buffer) => run(cmd, args, { input, check: false });
const docker = (...args: string[]) => sh('docker', args);
async function dockerOk(...args: string[]): Promise<string> {
  const r = await docker(...args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const prisoner = async (script: string, input?: string | Buffer) => {
  // The sentry freezes the cell while the warden is down or catching up (after a deploy, or a
  // part stopped by hand and healed): the prisoner runs again once the warden has caught up.
  await waitUntil('the cell to be thawed', async () => ((await sh('docker', ['inspect', '--format', '{{.State.Paused}}', `${PREFIX}-cell`])).stdout.trim() === 'true' ? undefined : true), 180_000, { everyMs: 500 });
  const r = await sh('docker', ['exec', '-i', `${PREFIX}-cell`, 'sh', '-c', script], input);
  if (r.code !== 0) throw new Error(`in the cell: ${script}: ${r.stderr}`);
  return r.stdout;
};
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000) => waitUntil(what, probe, timeoutMs, { everyMs: 1000 });
const LIST: Record<'container' | 'network' | 'volume', string[]> = {
  container: ['ps', '-a', '--format', '{{.Names}}'],
  network: ['network', 'ls', '--format', '{{.Name}}'],
  volume: ['volume', 'ls', '--format', '{{.Name}}'],
};
const names = async (kind: keyof typeof LIST) =>
  (await dockerOk(...LIST[kind]))
    .split('\n')
    .filter((n) => n.startsWith(`${PREFIX}-`))
    .sort();
const iptablesLines = async () => {
  const r = (await sh('iptables-save', [])).stdout + (await sh('ip6tables-save', [])).stdout;
  return r.split('\n').filter((l) => l.includes(CHAINS.forward) || l.includes(CHAINS.input) || l.includes(`clawjail/${PREFIX}:`));
};
const moatFiles = () => {
  const p = moatPaths(PREFIX, '/');
  return [p.rulesV4, p.rulesV6, p.script, p.unit, p.dropIn].filter((f) => fs.existsSync(f));
};
async function inspect(name: string): Promise<Record<string, any>> {
  return (JSON.parse(await dockerOk('inspect', name)) as Record<string, any>[])[0];
}
async function readyOpenClaw(): Promise<void> {
  const ready = `fetch('http://127.0.0.1:18789/readyz').then(r=>r.json()).then(j=>console.log(j.ready===true?'ready':'not'),()=>console.log('down'))`;
  await until('OpenClaw ready', async () => ((await prisoner(`node -e "${ready}"`)).trim() === 'ready' ? true : undefined), 300_000);
}

/** `clawjail status --json` of the stack: its exit code and the parts it says are failing. */
async function jailStatus(): Promise<{ code: number; failing: string[]; lines: { part: string; level: string; summary: string }[] }> {
  const r = await clawjailWith({ env: pulumi.env }, 'status', '--stack', STACK, '--json');
  const report = JSON.parse(r.stdout) as { safe: boolean; lines: { part: string; level: string; summary: string }[] };
  expect(report.safe).toBe(r.code === 0);
  return { code: r.code, failing: report.lines.filter((l) => l.level === 'fail').map((l) => l.part), lines: report.lines };
}
/** Waits for `clawjail status` to exit 0 (a healed part takes a moment to be healthy again). */
const statusSafe = () => until('clawjail status to say safe', async () => ((await jailStatus()).code === 0 ? true : undefined), 180_000);

let pulumi: PulumiSandbox;
let engine: Engine;

/** Whatever a failed run left: containers, networks, the moat, the test's volumes. */
async function scrub(): Promise<void> {
  for (const c of await names('container')) await docker('rm', '-f', c);
  for (const n of await names('network')) await docker('network', 'rm', n);
  await sh('sh', ['-s'], renderRemoveScript({ namePrefix: PREFIX }));
  // the capped stores are mounts over the volumes' directories: undone before the volumes go
  await sh('sh', ['-s'], renderReleasePrefixScript('unix:///var/run/docker.sock', PREFIX));
  for (const v of await names('volume')) await docker('volume', 'rm', '-f', v);
}

beforeAll(async () => {
  pulumi = new PulumiSandbox(STACK);
  engine = new Engine('/var/run/docker.sock');
  await scrub();
  await pulumi.init(CONFIG, { openclawToken: crypto.randomBytes(32).toString('hex'), gatewayToken: crypto.randomBytes(32).toString('hex') });
  // clamdSignatures custom: the operator fills the volume; here, the tests' own database.
  await seedSignatures(engine, `${PREFIX}-clamd-db`, { 'clawjail.stack': PREFIX });
  // An earlier version's quarantine volume, for the stack to carry over into its new one.
  await seedLegacyQuarantine(`${PREFIX}-jail`, PREFIX);
}, 60 * 60_000);

afterAll(async () => {
  if (pulumi) {
    await pulumi.run(['destroy', '--yes', '--stack', STACK], { timeoutMs: 10 * 60_000 });
    await scrub();
    await pulumi.cleanup();
  }
}, 20 * 60_000);

describe('pulumi up --policy-pack policies', () => {
  let up: string;

  it('deploys the whole jail on this host, through the policy pack', async () => {
    const r = await pulumi.ok(['up', '--yes', '--stack', STACK, '--policy-pack', 'policies', '--skip-preview'], { timeoutMs: 40 * 60_000 });
    up = r.all;
    expect(up).toMatch(/clawjail@v0\.1\.0/);
    expect(await names('container')).toEqual([...CONTAINERS].sort());
    for (const c of CONTAINERS) expect((await inspect(c)).State.Running).toBe(true);
  });

  it('each container runs hardened, as Docker and the kernel report it', async () => {
    for (const c of CONTAINERS) {
      const i = await inspect(c);
      const hc = i.HostConfig;
      expect({ c, capDrop: hc.CapDrop, capAdd: hc.CapAdd, privileged: hc.Privileged, readOnly: hc.ReadonlyRootfs }).toEqual({
        c,
        capDrop: ['ALL'],
        capAdd: null,
        privileged: false,
        readOnly: true,
      });
      expect(hc.SecurityOpt).toEqual(expect.arrayContaining(['no-new-privileges:true']));
      expect(hc.SecurityOpt.some((o: string) => o.startsWith('seccomp='))).toBe(true);
      expect(hc.PidsLimit).toBeGreaterThan(0);
      expect(hc.Memory).toBeGreaterThan(0);
      expect(hc.MemorySwap).toBe(hc.Memory);
      // The kernel's word for it: no capability at all, a seccomp filter, the cgroup limits.
      const status = await dockerOk('exec', c, 'cat', '/proc/1/status');
      for (const f of ['CapEff', 'CapPrm', 'CapBnd']) expect(status).toMatch(new RegExp(`${f}:\\s+0000000000000000`));
      expect(status).toMatch(/Seccomp:\s+2/);
      expect(status).toMatch(/NoNewPrivs:\s+1/);
      const pidsMax = fs.readFileSync(`/sys/fs/cgroup/pids/docker/${i.Id}/pids.max`, 'utf8').trim();
      expect(pidsMax).toBe(String(hc.PidsLimit));
      const mem = fs.readFileSync(`/sys/fs/cgroup/memory/docker/${i.Id}/memory.limit_in_bytes`, 'utf8').trim();
      expect(mem).toBe(String(hc.Memory));
    }
    // The cell as the stack declares it: in the gateway's namespace, the prisoner's uid.
    const cell = await inspect(`${PREFIX}-cell`);
    expect(cell.HostConfig.NetworkMode).toBe(`container:${(await inspect(`${PREFIX}-gateway`)).Id}`);
    expect(cell.Config.User).toBe('1000:1000');
    expect(cell.HostConfig.PidsLimit).toBe(256);
  });

  it('exports real outputs: the gateway URL and the fingerprint the gateway serves', async () => {
    const out = await pulumi.outputs();
    expect(out.gatewayUrl).toBe('wss://127.0.0.1:18453');
    expect(out).toMatchObject({ egressContainer: `${PREFIX}-egress`, egressProxyUrl: 'http://172.29.207.2:3128', egressAllow: ['allowed.cjeng.invalid'] });
    const served = (await dockerOk('exec', `${PREFIX}-gateway`, 'node', '/app/dist/main.js', '--print-fingerprint')).trim();
    expect(out.gatewayFingerprint).toBe(served);
    expect(served).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    // The login page on its own published port, with the same certificate.
    expect(out.gatewayLoginUrl).toBe('https://127.0.0.1:18454/__clawjail/login');
    expect((await fetchPresentedCertificate({ host: '127.0.0.1', port: 18454, timeoutMs: 10_000 })).fingerprint).toBe(served);
    expect(out).toMatchObject({ cellContainer: `${PREFIX}-cell`, quarantineVolume: `${PREFIX}-quarantine`, workspaceLocation: `${PREFIX}-sandbox_data` });
    // The earlier version's quarantine volume was copied in before the warden started.
    expect(out.quarantineMigration).toBe('copied');
    expect(typeof out.gatewayToken).toBe('string');
  });

  it('clawjail connect --stack reaches OpenClaw through the gateway, with the stack outputs', async () => {
    await readyOpenClaw();
    const env = { ...pulumi.env };
    const r = await clawjailWith({ env }, 'connect', '--stack', STACK, '--send', '{"method":"health"}');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stdout).toMatch(/"ok":\s*true/);
    // The same command with a wrong pin is refused before a byte is sent.
    const wrong = await clawjailWith({ env }, 'connect', 'wss://127.0.0.1:18453', '--fingerprint', Array(32).fill('00').join(':'), '--send', '{"method":"health"}');
    expect(wrong.code).not.toBe(0);
  });

  it('the prisoner\'s EICAR becomes a tombstone, its clean file stays', async () => {
    await prisoner('mkdir -p /workspace/engine-test');
    await prisoner('cat > /workspace/engine-test/notes.txt', 'clean notes\n');
    await prisoner('cat > /workspace/engine-test/payload.com', EICAR);
    const listing = await until('the tombstone', async () => {
      const l = (await prisoner('ls /workspace/engine-test')).split('\n').filter(Boolean).sort();
      return l.includes('payload.com.quarantined.txt') && !l.includes('payload.com') ? l : undefined;
    });
    expect(listing).toEqual(['notes.txt', 'payload.com.quarantined.txt']);
  });
});

describe('drift: pulumi preview --refresh --expect-no-changes sees what was changed by hand', () => {
  async function expectDriftThenHeal(what: string, resource: RegExp, healed: () => Promise<void>, failing: string[] = []): Promise<void> {
    if (failing.length) {
      // clawjail status names the broken part, and exits 1 for cron and monitoring
      const st = await jailStatus();
      expect({ what, code: st.code, failing: st.failing }).toEqual({ what, code: 1, failing: expect.arrayContaining(failing) });
    }
    const preview = await pulumi.run(['preview', '--refresh', '--expect-no-changes', '--stack', STACK, '--diff']);
    expect({ what, drift: preview.code !== 0 }).toEqual({ what, drift: true });
    expect(preview.all).toMatch(resource);
    await pulumi.ok(['up', '--refresh', '--yes', '--skip-preview', '--stack', STACK]);
    await healed();
    const again = await pulumi.run(['preview', '--refresh', '--expect-no-changes', '--stack', STACK]);
    expect({ what, code: again.code, out: failureOf(again) }).toEqual({ what, code: 0, out: '' });
    if (failing.length) await statusSafe();
  }

  it('no drift right after the deploy', async () => {
    const r = await pulumi.run(['preview', '--refresh', '--expect-no-changes', '--stack', STACK]);
    expect({ code: r.code, out: failureOf(r) }).toEqual({ code: 0, out: '' });
    expect((await clawjailWith({ env: pulumi.env }, 'moat', 'check', '--stack', STACK)).code).toBe(0);
    // clawjail status: every part in place, the gateway at its URL with the stack's fingerprint
    await statusSafe();
    const st = await jailStatus();
    expect(st.failing).toEqual([]);
    expect(st.lines.map((l) => l.part)).toEqual(expect.arrayContaining(['container cell', 'container warden', 'container egress', 'moat', 'warden', 'gateway', 'egress']));
    expect(st.lines.find((l) => l.part === 'gateway')?.summary).toContain((await pulumi.outputs()).gatewayFingerprint as string);
    expect(st.lines.find((l) => l.part === 'moat')?.summary).toMatch(/in sync/);
    const screen = await clawjailWith({ env: pulumi.env }, 'status', '--stack', STACK);
    expect({ code: screen.code, out: screen.stdout }).toEqual({ code: 0, out: expect.stringMatching(/\] container cell +cjeng-cell: running[\s\S]*\n\[ ok \] moat +in sync[\s\S]*safe: every part is in place\n$/) });
  });

  it('the gate: the cell’s tools go through it, refusals are logged, a permanent allow leaves no drift', async () => {
    const log = async () =>
      (await dockerOk('exec', `${PREFIX}-egress`, 'cat', '/var/lib/clawjail-egress/decisions.jsonl'))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { host: string; decision: string; reason: string | null });
    // Node's own fetch (NODE_USE_ENV_PROXY), npm and git, from the prisoner: all ask the gate, which
    // refuses names off the list before resolving them.
    const fetched = await prisoner(`node -e "fetch('https://fetch.cjeng.invalid/').then(r=>console.log('status',r.status),e=>console.log('refused',String(e.cause?.message||e.message)))"`);
    expect(fetched).toMatch(/refused|status 403/);
    const npmRun = await sh('docker', ['exec', `${PREFIX}-cell`, 'sh', '-c', 'cd /tmp && npm view left-pad version --registry https://npm.cjeng.invalid/ --fetch-retries 0 2>&1; true']);
    expect(npmRun.code).toBe(0);
    // git of the cell image, with nothing but the proxy variables: the gate's 403 is what it meets.
    const gitRun = await sh('docker', ['exec', `${PREFIX}-cell`, 'sh', '-c', 'GIT_TERMINAL_PROMPT=0 git ls-remote https://git.cjeng.invalid/repo.git 2>&1; true']);
    expect(gitRun.stdout).toMatch(/403/);
    const decisions = await until('the refusals in the decision log', async () => {
      const d = await log();
      return ['fetch.cjeng.invalid', 'npm.cjeng.invalid', 'git.cjeng.invalid'].every((h) => d.some((x) => x.host === h && x.decision === 'deny' && x.reason === 'not-allowed')) ? d : undefined;
    }, 30_000);
    expect(decisions.length).toBeGreaterThanOrEqual(3);
    const env = pulumi.env;
    const pending = await clawjailWith({ env }, 'egress', 'pending', '--stack', STACK);
    expect({ code: pending.code, out: pending.stdout }).toEqual({ code: 0, out: expect.stringContaining('fetch.cjeng.invalid') });
    // clawjail status shows them too: a warning, not a failure
    const egressLine = (await jailStatus()).lines.find((l) => l.part === 'egress');
    expect(egressLine).toEqual({ part: 'egress', level: 'warn', summary: expect.stringMatching(/[1-9]\d* refused destinations? awaiting a decision/) });
    // A permanent allow: into the stack config and the running gate at once, no restart.
    const startedAt = (await inspect(`${PREFIX}-egress`)).State.StartedAt;
    const allow = await clawjailWith({ env }, 'egress', 'allow', 'fetch.cjeng.invalid', '--stack', STACK);
    expect({ code: allow.code, err: allow.stderr }).toEqual({ code: 0, err: expect.any(String) });
    expect(fs.readFileSync(pulumi.stackFile, 'utf8')).toContain('fetch.cjeng.invalid');
    const policy = JSON.parse(await dockerOk('exec', `${PREFIX}-egress`, 'cat', '/var/lib/clawjail-egress/policy.json')) as { allow: string[] };
    expect(policy.allow).toEqual(['allowed.cjeng.invalid', 'fetch.cjeng.invalid']);
    expect((await inspect(`${PREFIX}-egress`)).State.StartedAt).toBe(startedAt);
    const r = await pulumi.run(['preview', '--refresh', '--expect-no-changes', '--stack', STACK]);
    expect({ code: r.code, out: failureOf(r) }).toEqual({ code: 0, out: '' });
    // The policy file changed by any other hand is drift, and up puts the declared one back.
    await dockerOk('exec', `${PREFIX}-egress`, 'sh', '-c', `printf '{"allow":["*.cjeng.invalid"],"deny":[]}' > /var/lib/clawjail-egress/policy.json`);
    await expectDriftThenHeal('policy file rewritten', /egress-policy/, async () => {
      const back = JSON.parse(await dockerOk('exec', `${PREFIX}-egress`, 'cat', '/var/lib/clawjail-egress/policy.json')) as { allow: string[] };
      expect(back.allow).toEqual(['allowed.cjeng.invalid', 'fetch.cjeng.invalid']);
    });
  });

  it('a moat rule deleted by hand', async () => {
    await sh('iptables', ['-D', CHAINS.forward, '1']);
    expect((await clawjailWith({ env: pulumi.env }, 'moat', 'check', '--stack', STACK)).code).not.toBe(0);
    await expectDriftThenHeal('deleted rule', /moat-rules/, async () => {
      expect((await clawjailWith({ env: pulumi.env }, 'moat', 'check', '--stack', STACK)).code).toBe(0);
    }, ['moat']);
  });

  it('a rule added by hand', async () => {
    await sh('iptables', ['-I', CHAINS.forward, '1', '-s', SUBNET, '-d', '192.168.0.0/16', '-j', 'ACCEPT']);
    expect((await clawjailWith({ env: pulumi.env }, 'moat', 'check', '--stack', STACK)).code).not.toBe(0);
    await expectDriftThenHeal('added rule', /moat-rules/, async () => {
      expect((await iptablesLines()).some((l) => l.includes('192.168.0.0/16') && l.includes('ACCEPT'))).toBe(false);
    }, ['moat']);
  });

  it('a container stopped by hand', async () => {
    await dockerOk('stop', `${PREFIX}-warden`);
    await expectDriftThenHeal('stopped container', /warden-warden-start/, async () => {
      expect((await inspect(`${PREFIX}-warden`)).State.Running).toBe(true);
    }, ['container warden', 'warden']);
  });

  it('a container removed by hand', async () => {
    await dockerOk('rm', '-f', `${PREFIX}-clamd`);
    await expectDriftThenHeal('removed container', /warden-clamd-container/, async () => {
      const i = await inspect(`${PREFIX}-clamd`);
      expect(i.State.Running).toBe(true);
      expect(i.HostConfig.PidsLimit).toBeGreaterThan(0);
    }, ['container clamd']);
  });
});

describe('the policy pack and the config, through the engine', () => {
  it('a program with a privileged cell and the Docker socket is refused by preview, and up creates nothing', async () => {
    const dir = path.join(REPO_ROOT, 'test', 'e2e', 'fixtures', 'unsafe-stack');
    const stack = 'cjtest-unsafe';
    const policies = path.join(REPO_ROOT, 'policies');
    try {
      await pulumi.run(['stack', 'rm', '--yes', '--force', '--stack', stack], { cwd: dir });
      const init = await pulumi.run(['stack', 'init', stack, '--secrets-provider', 'passphrase'], { cwd: dir });
      expect(init.code).toBe(0);
      const preview = await pulumi.run(['preview', '--stack', stack, '--policy-pack', policies], { cwd: dir });
      expect(preview.code).not.toBe(0);
      expect(preview.all).toMatch(/\[mandatory\].*container-not-privileged/);
      expect(preview.all).toMatch(/privileged is true/);
      expect(preview.all).toMatch(/docker\.sock/);
      const up = await pulumi.run(['up', '--yes', '--stack', stack, '--policy-pack', policies], { cwd: dir });
      expect(up.code).not.toBe(0);
      expect(await docker('inspect', 'cjunsafe-cell').then((r) => r.code)).not.toBe(0);
      const state = await pulumi.run(['stack', 'export', '--stack', stack], { cwd: dir });
      expect(state.stdout).not.toContain('docker:index/container:Container');
      // The control: without the policy pack the same engine would have run it.
      const unchecked = await pulumi.run(['preview', '--stack', stack], { cwd: dir });
      expect({ code: unchecked.code, out: failureOf(unchecked) }).toEqual({ code: 0, out: '' });
    } finally {
      await pulumi.run(['stack', 'rm', '--yes', '--force', '--stack', stack], { cwd: dir });
      fs.rmSync(path.join(dir, `Pulumi.${stack}.yaml`), { force: true });
      await docker('rm', '-f', 'cjunsafe-cell');
    }
  });

  it('a bad config value fails preview with the key named', async () => {
    const file = pulumi.stackFile;
    const saved = fs.readFileSync(file, 'utf8');
    try {
      await pulumi.set('cellMemoryMb', 'plenty');
      const r = await pulumi.run(['preview', '--stack', STACK]);
      expect(r.code).not.toBe(0);
      expect(r.all).toMatch(/clawjail:cellMemoryMb/);
    } finally {
      fs.writeFileSync(file, saved);
    }
  });
});

describe('update: a changed setting is applied by pulumi up', () => {
  it('the cell memory limit', async () => {
    await pulumi.set('cellMemoryMb', '1800');
    await pulumi.ok(['up', '--yes', '--skip-preview', '--stack', STACK, '--policy-pack', 'policies']);
    expect((await inspect(`${PREFIX}-cell`)).HostConfig.Memory).toBe(1800 * 1024 * 1024);
    const r = await pulumi.run(['preview', '--refresh', '--expect-no-changes', '--stack', STACK]);
    expect({ code: r.code, out: failureOf(r) }).toEqual({ code: 0, out: '' });
  });
});

describe('pulumi destroy', () => {
  it('leaves no container, network, chain, rule or moat file; keeps the workspace and the jail', async () => {
    await pulumi.ok(['destroy', '--yes', '--skip-preview', '--stack', STACK], { timeoutMs: 10 * 60_000 });
    expect(await names('container')).toEqual([]);
    expect(await names('network')).toEqual([]);
    expect(await iptablesLines()).toEqual([]);
    expect(moatFiles()).toEqual([]);
    expect(await names('volume')).toEqual(expect.arrayContaining([`${PREFIX}-quarantine`, `${PREFIX}-sandbox_data`]));
  });

  it('a new pulumi up finds the workspace and the quarantine again', async () => {
    await pulumi.ok(['up', '--yes', '--skip-preview', '--stack', STACK, '--policy-pack', 'policies'], { timeoutMs: 20 * 60_000 });
    expect((await prisoner('ls /workspace/engine-test')).split('\n').filter(Boolean).sort()).toEqual(['notes.txt', 'payload.com.quarantined.txt']);
    const list = await clawjailWith({ env: pulumi.env }, 'quarantine', 'list', '--stack', STACK);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('payload.com');
    // The entry carried over from the earlier version's volume, which is still there, copied once.
    expect(list.stdout).toContain(LEGACY_ID);
    expect(await names('volume')).toContain(`${PREFIX}-jail`);
    expect((await pulumi.outputs()).quarantineMigration).toBe('done-before');
  });
});

// The stack file is the test's: never leave it in the checkout.
afterAll(() => fs.rmSync(path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`), { force: true }));
