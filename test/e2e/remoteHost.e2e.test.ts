// The remote Docker host lab (test/e2e/remoteHost.ts): a second Docker host in a netns, reached
// over ssh exactly as a stack with clawjail:dockerHost ssh://root@<addr> reaches it: the docker
// CLI (`ssh ... docker system dial-stdio`) and the moat's `ssh ... sh -s` (runOnHost).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { hostShellArgv } from '../../infra/model/moatHost';
import { RemoteDockerHost, run, STANDIN_IMAGES } from './remoteHost';

jest.setTimeout(10 * 60_000);

const REPO = path.resolve(__dirname, '..', '..');

const DEBIAN = 'clawjail-standin/debian:bookworm-slim';
let host: RemoteDockerHost;
const before = {
  ipForward: '',
  machineSock: null as fs.Stats | null,
  rootSsh: '',
};
const timings: Record<string, number> = {};

/**
 * Runs the moat's own runOnHost in a child process started with the lab's env, as the dynamic
 * provider runs under `pulumi up` (jest's process.env is a sandbox copy that child_process does
 * not see, so changing it here would prove nothing).
 */
async function runOnHostIn(env: NodeJS.ProcessEnv, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const code = [
    `const { runOnHost } = require(${JSON.stringify(path.join(REPO, 'infra/components/moatExec'))});`,
    `runOnHost(${JSON.stringify(host.moatTarget)}, ${JSON.stringify(script)}, 60000)`,
    '  .then((out) => process.stdout.write(out), (e) => { console.error(e.message); process.exit(3); });',
  ].join('\n');
  return run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], {
    env: { ...env, TS_NODE_PROJECT: path.join(REPO, 'tsconfig.json'), NODE_PATH: path.join(REPO, 'node_modules') },
    timeoutMs: 90_000,
    check: false,
  });
}
async function runOnHostWithLabEnv(script: string): Promise<string> {
  const r = await runOnHostIn(host.env, script);
  if (r.code !== 0) throw new Error(`runOnHost failed: ${r.stderr}`);
  return r.stdout;
}

const netnsInode = (name: string) => `net:[${fs.statSync(`/run/netns/${name}`).ino}]`;
const lsRootSsh = () => (fs.existsSync('/root/.ssh') ? fs.readdirSync('/root/.ssh').sort().join(',') + readOr('/root/.ssh/config') : 'absent');
const readOr = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');

beforeAll(async () => {
  before.ipForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  before.machineSock = fs.existsSync('/run/docker.sock') ? fs.statSync('/run/docker.sock') : null;
  before.rootSsh = lsRootSsh();
  host = new RemoteDockerHost();
  await host.up();
  timings.up = host.upMs;
  const t = Date.now();
  await host.loadImages([...STANDIN_IMAGES]);
  timings.loadImages = Date.now() - t;
});

afterAll(async () => {
  if (!host) return;
  const prefix = host.prefix;
  try {
    await host.down();
  } finally {
    timings.down = host.downMs;
    // eslint-disable-next-line no-console
    console.log(`remote host ${prefix} at ${host.addr}: ${JSON.stringify(timings)}; swept on up: ${host.swept.join(' ') || 'none'}`);
  }
  expect(await RemoteDockerHost.leftovers(prefix)).toEqual([]);
  expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(before.ipForward);
  expect(lsRootSsh()).toBe(before.rootSsh); // nothing written under ~/.ssh, ever
  const sock = fs.existsSync('/run/docker.sock') ? fs.statSync('/run/docker.sock') : null;
  expect(sock?.ino).toBe(before.machineSock?.ino);
  expect((await run('docker', ['info', '--format', '{{.DockerRootDir}}'])).stdout.trim()).not.toBe(host.dataRoot);
});

describe('remote Docker host over ssh', () => {
  it('docker -H ssh://root@<addr> drives the lab daemon, and the machine engine is not it', async () => {
    expect(host.dockerHost).toBe(`ssh://root@${host.addr}`);
    const remote = (await host.docker(['info', '--format', '{{.DockerRootDir}} {{.Name}}'])).stdout.trim();
    expect(remote).toBe(`${host.dataRoot} ${host.prefix}`);
    // The same through DOCKER_HOST (how infra/components/dockerCli.ts runs the CLI).
    const viaEnv = await run('docker', ['info', '--format', '{{.DockerRootDir}}'], { env: host.dockerEnv });
    expect(viaEnv.stdout.trim()).toBe(host.dataRoot);
    const machine = (await run('docker', ['info', '--format', '{{.DockerRootDir}} {{.Name}}'])).stdout.trim();
    expect(machine).not.toContain(host.prefix);
    // On the remote side, /var/run/docker.sock is the lab daemon's socket, not the machine's.
    const seen = await host.ssh('readlink -f /var/run/docker.sock; docker info --format "{{.DockerRootDir}}"');
    expect(seen.stdout.trim().split('\n')).toEqual([host.dockerSock, host.dataRoot]);
    // The lab's images are there, and only because loadImages put them there.
    for (const img of STANDIN_IMAGES) {
      const here = (await run('docker', ['image', 'inspect', '--format', '{{.Id}}', img])).stdout.trim();
      expect((await host.docker(['image', 'inspect', '--format', '{{.Id}}', img])).stdout.trim()).toBe(here);
    }
  });

  it('the moat’s own `ssh <host> sh -s` (runOnHost) runs in the remote netns', async () => {
    const argv = hostShellArgv(host.moatTarget);
    expect(argv.slice(0, 1).concat(argv.slice(-2))).toEqual(['ssh', host.addr, 'sh -s']);
    const out = await runOnHostWithLabEnv('ip -o -4 addr show; echo "ns $(readlink /proc/self/ns/net)"; echo "host $(hostname)"\n');
    expect(out).toContain(`inet ${host.addr}/30`);
    expect(out).not.toContain('192.0.2.2');
    expect(out).toContain(`ns ${netnsInode(host.netns)}`);
    expect(out).toContain(`host ${host.prefix}`);
    // Control: without the lab's env (no wrapper on PATH) the same call cannot get in.
    const plain = { ...process.env };
    delete plain.SSH_AUTH_SOCK;
    const denied = await runOnHostIn(plain, 'echo in\n');
    expect(denied.code).not.toBe(0);
    expect(denied.stdout).not.toContain('in');
    expect(denied.stderr).toMatch(/Host key verification failed|Permission denied/);
    // Files written under /etc by a session stay on the remote host (the overlay), not here.
    const name = `${host.prefix}-probe-${crypto.randomBytes(4).toString('hex')}`;
    await runOnHostWithLabEnv(`mkdir -p /etc/clawjail && echo ok > /etc/clawjail/${name}\n`);
    expect(fs.existsSync(`/etc/clawjail/${name}`)).toBe(false);
    expect(fs.readFileSync(`${host.etcUpper}/clawjail/${name}`, 'utf8')).toBe('ok\n');
  });

  it('reaches the resolver and the Debian mirror from the remote netns, through the NAT', async () => {
    const dns = await host.exec(['getent', 'hosts', 'deb.debian.org']);
    expect(dns.stdout).toMatch(/^\d+\.\d+\.\d+\.\d+\s+deb\.debian\.org/);
    const release = await host.exec(['curl', '-fsS', '--max-time', '60', 'http://deb.debian.org/debian/dists/bookworm/Release'], { timeoutMs: 90_000 });
    expect(release.stdout).toMatch(/^Origin: Debian$/m);
    expect(release.stdout).toMatch(/^Codename: bookworm$/m);
    const npm = await host.exec(['curl', '-fsS', '--max-time', '60', 'https://registry.npmjs.org/left-pad'], { timeoutMs: 90_000 });
    expect(JSON.parse(npm.stdout).name).toBe('left-pad');
    // The only way out is the lab's chain: NAT for its /30 only, and only to resolvers/egress.
    const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
    expect(nat).toContain(`-A POSTROUTING -s ${host.subnet} ! -o ${host.vethHost} -j ${host.natChain}`);
    const filter = (await run('iptables-save', ['-t', 'filter'])).stdout;
    expect(filter.split('\n')).toContain(`-A FORWARD -j ${host.fwdChain}`);
    expect(filter).toContain(`-A ${host.fwdChain} -i ${host.vethHost} -m comment --comment "${host.prefix}: nothing else out" -j REJECT`);
  });

  it('docker -H ssh://... build runs apt-get on the remote engine', async () => {
    const nonce = crypto.randomBytes(8).toString('hex');
    const tag = `${host.prefix}-build:1`;
    const dockerfile = `FROM ${DEBIAN}\nRUN apt-get update && apt-get install -y --no-install-recommends iproute2 >/dev/null && echo ${nonce} > /nonce\n`;
    // No buildx plugin on this machine: the classic builder (as the stack's own builds here).
    const env = { ...host.env, DOCKER_BUILDKIT: '0' };
    const t = Date.now();
    await run('docker', ['-H', host.dockerHost, 'build', '-q', '-t', tag, '-'], { input: dockerfile, env, timeoutMs: 600_000 });
    timings.build = Date.now() - t;
    const out = await host.docker(['run', '--rm', tag, 'sh', '-c', 'cat /nonce; ip -V']);
    expect(out.stdout).toContain(nonce);
    expect(out.stdout).toMatch(/iproute2/);
    expect((await run('docker', ['image', 'inspect', tag], { check: false })).code).not.toBe(0);
    await host.docker(['image', 'rm', tag]);
  });

  it('iptables rules made over ssh land in the remote netns, not on this machine', async () => {
    const r = await host.ssh('iptables -w 10 -N CJRHTEST && iptables -w 10 -A CJRHTEST -j RETURN && iptables -S CJRHTEST');
    expect(r.stdout).toContain('-N CJRHTEST');
    expect((await host.exec(['iptables-save', '-t', 'filter'])).stdout).toMatch(/^:CJRHTEST /m);
    expect((await run('iptables-save', ['-t', 'filter'])).stdout).not.toContain('CJRHTEST');
    // The remote dockerd's own chains live there too, the machine's are not visible there.
    expect((await host.exec(['iptables-save', '-t', 'filter'])).stdout).not.toContain(host.fwdChain);
    await host.ssh('iptables -w 10 -F CJRHTEST && iptables -w 10 -X CJRHTEST');
  });
});
