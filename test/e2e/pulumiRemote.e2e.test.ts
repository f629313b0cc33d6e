// One stack per host: a second stack whose clawjail:dockerHost is another Docker host, reached
// over ssh (test/e2e/remoteHost.ts: a netns with its own dockerd and sshd), deployed by the real
// Pulumi CLI through the policy pack. Everything of the jail must land on THAT host: its
// containers and networks on the remote engine (the docker provider over ssh), the images built
// there, the moat in the remote kernel's iptables (`ssh ... sh -s`), the dynamic providers'
// docker CLI calls with DOCKER_HOST=ssh://; and nothing on this machine, at any moment (a
// `docker events` stream and an iptables sampler watch this machine for the whole run).
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { moatChainNames } from '../../infra/model/firewall';
import { moatPaths } from '../../infra/model/moatHost';
import { clawjailWith } from './cli';
import { failureOf, PulumiSandbox, type RunResult as PulumiRun } from './pulumiCli';
import { steps } from '../helpers/run';
import { RemoteDockerHost, run, STANDIN_IMAGES } from './remoteHost';
import { remoteNames as remoteNamesOf, scrubRemote as scrubRemoteOf, openRemoteStack, timed as timedIn } from './remoteStack';
import { DEBIAN_STANDIN, NODE_STANDIN, localCaBundle } from './testJail';

jest.setTimeout(45 * 60_000);

const STACK = 'cjtest-remote';
const PREFIX = 'cjrem';
const ROLES = ['warden', 'clamd', 'gateway', 'cell'];
// the sentry runs in the warden's image: a container of its own, no image of its own
const CONTAINERS = [...ROLES, 'sentry'].map((r) => `${PREFIX}-${r}`).sort();
const CHAINS = moatChainNames(PREFIX);
const TAG = `clawjail/${PREFIX}:`;
const SUBNET = '172.29.215.0/24';

let host: RemoteDockerHost;
let pulumi: PulumiSandbox;
/** The sandbox's env with the lab's ssh wrapper on PATH after the engine's bin, no ssh agent. */
let env: NodeJS.ProcessEnv;
const timings: Record<string, number> = {};
/** What the up built on the remote engine: image creation and size, per-resource durations. */
const built: Record<string, unknown> = {};
const facts: Record<string, unknown> = {};

const config = (dockerHost: string): Record<string, string> => ({
  dockerHost,
  namePrefix: PREFIX,
  nodeBaseImage: NODE_STANDIN,
  debianBaseImage: DEBIAN_STANDIN,
  bridgeName: 'cjrem0',
  subnet: SUBNET,
  scanBridgeName: 'cjrem1',
  scanSubnet: '172.29.216.0/24',
  gatewayPort: '18463',
  gatewayLoginPort: '18464',
  cellEgress: 'none',
  clamdSignatures: 'custom',
  // The capped stores are tested on this machine's engine (the deploy, the engine and the jail
  // tests run the same script); the lab hosts here share this machine's mounts.
  workspaceSizeMb: '0',
  quarantineSizeMb: '0',
  // The lab host has no systemd (nor has this machine); the boot restore is tested in test/moat.
  moatBootRestore: 'none',
  buildCaFile: localCaBundle(),
});

const timed = <T>(what: string, fn: () => Promise<T>): Promise<T> => timedIn(timings, what, fn);

const pulumiRun = (args: string[], timeoutMs = 20 * 60_000): Promise<PulumiRun> => pulumi.run(args, { env, timeoutMs });
const failure = (r: PulumiRun) => failureOf(r);

const remoteNames = (kind: 'container' | 'network' | 'volume') => remoteNamesOf(host, PREFIX, kind);

async function remoteInspect(name: string): Promise<Record<string, any>> {
  return (JSON.parse((await host.docker(['inspect', name])).stdout) as Record<string, any>[])[0];
}

const moatLines = (save: string) =>
  save.split('\n').filter((l) => l.includes(CHAINS.forward) || l.includes(CHAINS.input) || l.includes(TAG));
const remoteIptables = async () => moatLines((await host.nsSh('iptables-save; ip6tables-save')).stdout);
const localIptables = async () => moatLines((await run('iptables-save', [])).stdout + (await run('ip6tables-save', [])).stdout);
const localMoatFiles = () => {
  const p = moatPaths(PREFIX, '/');
  return [p.rulesV4, p.rulesV6, p.script, p.unit, p.dropIn].filter((f) => fs.existsSync(f));
};
const localContainers = async () =>
  (await run('docker', ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter((n) => n.startsWith(`${PREFIX}-`));
/** The jail's images on this machine's engine (a BuildKit build tags without an image event). */
const localImages = async () =>
  (await run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n').filter((n) => n.startsWith(`${PREFIX}/`));


const scrubRemote = () => scrubRemoteOf(host, PREFIX);

/**
 * Watches THIS machine for the whole run: every Docker event (containers, networks, volumes,
 * images) and, every 2 s, the iptables rules. Anything of the remote stack seen here is recorded.
 */
class LocalWatch {
  readonly seen: string[] = [];
  samples = 0;
  private events: ChildProcess | null = null;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  start(): void {
    this.events = spawn('docker', ['events', '--format', '{{json .}}'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    this.events.stdout!.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.includes(PREFIX)) this.seen.push(`docker event: ${l.slice(0, 300)}`);
    });
    this.loop = (async () => {
      while (!this.stopped) {
        for (const l of await localIptables().catch(() => [])) this.seen.push(`iptables: ${l}`);
        for (const f of localMoatFiles()) this.seen.push(`file: ${f}`);
        for (const i of await localImages().catch(() => [])) this.seen.push(`image: ${i}`);
        for (const n of (await run('docker', ['network', 'ls', '--format', '{{.Name}}'], { check: false })).stdout.split('\n')) {
          if (n.startsWith(`${PREFIX}-`)) this.seen.push(`network: ${n}`);
        }
        this.samples++;
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    const p = this.events;
    this.events = null;
    if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('close', r));
      p.kill('SIGTERM');
      await gone;
    }
  }
}
const watch = new LocalWatch();

beforeAll(async () => {
  // Nothing of the stack may be on this machine to begin with, or "none appeared here" means nothing.
  expect({ containers: await localContainers(), images: await localImages(), rules: await localIptables() }).toEqual({ containers: [], images: [], rules: [] });
  watch.start();
  host = new RemoteDockerHost();
  await timed('labUp', () => host.up());
  // The stack's builds run on the remote engine: it needs the base images there.
  await timed('loadImages', () => host.loadImages([...STANDIN_IMAGES]));
  ({ pulumi, env } = await openRemoteStack(host, STACK, PREFIX, config(host.dockerHost)));
}, 30 * 60_000);

afterAll(async () => {
  const { errors, step } = steps();
  if (pulumi && host) await step('destroy', () => pulumiRun(['destroy', '--yes', '--skip-preview', '--stack', STACK], 10 * 60_000));
  if (host) await step('scrub', () => scrubRemote());
  if (pulumi) await step('sandbox', () => pulumi.cleanup());
  fs.rmSync(path.join(__dirname, '..', '..', `Pulumi.${STACK}.yaml`), { force: true });
  if (host) {
    await step('lab', () => host.down());
    timings.labDown = host.downMs;
    await step('lab leftovers', async () => {
      const left = await RemoteDockerHost.leftovers(host.prefix);
      if (left.length) throw new Error(left.join('; '));
    });
  }
  await watch.stop();
  // eslint-disable-next-line no-console
  console.log(`stack ${STACK} on ${host?.dockerHost}: durations (ms) ${JSON.stringify(timings)}; local samples ${watch.samples}; built ${JSON.stringify(built)}; ${JSON.stringify(facts)}`);
  if (errors.length) throw new Error(errors.join('\n'));
}, 20 * 60_000);

describe('one stack per host: a jail on a remote Docker host over ssh, by the real engine', () => {
  it('pulumi up deploys the five containers on the remote engine, none here', async () => {
    const upStarted = Date.now() - 5000; // the remote engine's clock is this machine's
    const r = await timed('up', () =>
      pulumiRun(['up', '--yes', '--skip-preview', '--stack', STACK, '--policy-pack', 'policies'], 40 * 60_000),
    );
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
    expect(r.all).toMatch(/clawjail@v0\.1\.0/); // the policy pack ran
    const ps = (await host.docker(['ps', '--filter', `name=^${PREFIX}-`, '--format', '{{.Names}} {{.State}}'])).stdout;
    expect(ps.split('\n').filter(Boolean).sort()).toEqual(CONTAINERS.map((c) => `${c} running`));
    for (const c of CONTAINERS) {
      const i = await remoteInspect(c);
      expect({ c, running: i.State.Running, pids: i.HostConfig.PidsLimit > 0 }).toEqual({ c, running: true, pids: true });
    }
    // Built there: the remote engine holds the jail's images, this machine's engine saw nothing.
    const images = (await host.docker(['images', '--format', '{{.Repository}}'])).stdout.split('\n');
    expect(images).toEqual(expect.arrayContaining(ROLES.map((r) => `${PREFIX}/${r}`)));
    // ... during this up (the lab's engine is new: no image of the jail existed there before).
    for (const role of ROLES) {
      const i = await remoteInspect(`${PREFIX}/${role}:${role === 'cell' ? 'openclaw-2026.9.6' : '0.1.0'}`);
      built[role] = { created: i.Created, sizeMb: Math.round(i.Size / 1e6) };
      expect({ role, new: Date.parse(i.Created) >= upStarted }).toEqual({ role, new: true });
    }
    // The cell image holds OpenClaw, installed by npm on the remote engine.
    const openclaw = await host.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'sh', `${PREFIX}/cell:openclaw-2026.9.6`, '-c', 'node -p "require(\'/usr/local/lib/node_modules/openclaw/package.json\').version"']);
    expect(openclaw.stdout.trim()).toBe('2026.9.6');
    for (const m of r.all.matchAll(/docker:index:RemoteImage (\S+) created \((\d+)s\)/g)) built[m[1]] = { seconds: Number(m[2]) };
    expect(await localContainers()).toEqual([]);
    expect(await localImages()).toEqual([]);
    expect(await remoteNames('network')).toEqual([`${PREFIX}-cell`, `${PREFIX}-scan`].sort());
  });

  it('the moat is in the remote kernel, not here; clawjail moat check agrees', async () => {
    const remote = await remoteIptables();
    expect(remote).toEqual(expect.arrayContaining([`:${CHAINS.forward} - [0:0]`, `:${CHAINS.input} - [0:0]`]));
    expect(remote.some((l) => l.startsWith('-A DOCKER-USER -i cjrem0') && l.includes(`-j ${CHAINS.forward}`))).toBe(true);
    expect(remote.some((l) => l.startsWith('-A INPUT -i cjrem0') && l.includes(`-j ${CHAINS.input}`))).toBe(true);
    expect(remote.filter((l) => l.includes(TAG)).length).toBeGreaterThan(10);
    expect(await localIptables()).toEqual([]);
    // Its files went to the remote host's /etc (the lab's overlay), not this machine's.
    expect(fs.existsSync(path.join(host.etcUpper, 'clawjail', `moat-${PREFIX}.sh`))).toBe(true);
    expect(fs.existsSync(path.join(host.etcUpper, 'clawjail', `moat-${PREFIX}.v4.rules`))).toBe(true);
    expect(localMoatFiles()).toEqual([]);
    const check = await clawjailWith({ env }, 'moat', 'check', '--stack', STACK);
    expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(check.stdout).toContain(`on ${host.dockerHost}: in sync`);
    facts.moatCheck = check.stdout.trim();
    facts.remoteMoatLines = remote.length;
    // Control: without the lab's ssh (the plain environment) it cannot tell, and never says "in sync".
    const blind = await clawjailWith({ env: { ...pulumi.env, SSH_AUTH_SOCK: undefined } }, 'moat', 'check', '--stack', STACK);
    expect(blind.code).toBe(2);
  });

  it('the stack outputs are the remote jail: the fingerprint the remote gateway prints', async () => {
    const out = await pulumi.outputs();
    const served = (await host.docker(['exec', `${PREFIX}-gateway`, 'node', '/app/dist/main.js', '--print-fingerprint'])).stdout.trim();
    expect(served).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(out.gatewayFingerprint).toBe(served);
    facts.fingerprint = served;
    expect(out).toMatchObject({
      gatewayUrl: 'wss://172.29.215.2:8443',
      cellContainer: `${PREFIX}-cell`,
      gatewayContainer: `${PREFIX}-gateway`,
      cellNetwork: `${PREFIX}-cell`,
      quarantineVolume: `${PREFIX}-quarantine`,
      moatChains: CHAINS,
    });
    // The gateway address the URL names is the remote gateway's, on the remote cell network.
    const gw = await remoteInspect(`${PREFIX}-gateway`);
    expect(gw.NetworkSettings.Networks[`${PREFIX}-cell`].IPAddress).toBe('172.29.215.2');
  });

  it('pulumi preview --refresh --expect-no-changes: no drift, read back over ssh', async () => {
    const r = await timed('preview', () => pulumiRun(['preview', '--refresh', '--expect-no-changes', '--stack', STACK, '--policy-pack', 'policies']));
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
  });

  it('pulumi destroy leaves nothing of the jail on the remote host, and nothing ever appeared here', async () => {
    const r = await timed('destroy', () => pulumiRun(['destroy', '--yes', '--skip-preview', '--stack', STACK], 10 * 60_000));
    expect({ code: r.code, out: failure(r) }).toEqual({ code: 0, out: '' });
    expect(await remoteNames('container')).toEqual([]);
    expect(await remoteNames('network')).toEqual([]);
    expect(await remoteIptables()).toEqual([]);
    expect(fs.existsSync(path.join(host.etcUpper, 'clawjail', `moat-${PREFIX}.sh`))).toBe(false);
    // The workspace and the quarantine are kept (retainOnDelete), on the remote host.
    expect(await remoteNames('volume')).toEqual(expect.arrayContaining([`${PREFIX}-quarantine`, `${PREFIX}-sandbox_data`]));
    expect(await localContainers()).toEqual([]);
    expect(watch.samples).toBeGreaterThan(5);
    expect(watch.seen).toEqual([]);
  });
});
