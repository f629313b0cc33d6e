// What the engine tests on a second Docker host share (test/e2e/pulumiRemote.e2e.test.ts,
// pulumiMoatUpdate.e2e.test.ts): the stack's objects on the remote engine, its signature volume
// filled there, and a scrub of whatever a failed run left.
import * as crypto from 'crypto';
import { renderRemoveScript } from '../../infra/model/moatHost';
import { hdbLines, testSignatures } from '../../warden/test/clamdHarness';
import { PulumiSandbox } from './pulumiCli';
import { RemoteDockerHost, run } from './remoteHost';
import { tarOf } from './tar';
import { DEBIAN_STANDIN } from './testJail';

const LIST = {
  container: ['ps', '-a', '--format', '{{.Names}}'],
  network: ['network', 'ls', '--format', '{{.Name}}'],
  volume: ['volume', 'ls', '--format', '{{.Name}}'],
} as const;

/** Names on the remote engine that carry the stack's prefix. */
export async function remoteNames(host: RemoteDockerHost, prefix: string, kind: keyof typeof LIST): Promise<string[]> {
  return (await host.docker([...LIST[kind]])).stdout
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}-`))
    .sort();
}

/**
 * clamdSignatures custom: the operator fills `<prefix>-clamd-db` on the Docker host. Here, on
 * the remote engine: the volume, a created (never started) helper with it mounted, and the test
 * database streamed in as a tar through `docker cp -` over ssh.
 */
export async function seedRemoteSignatures(host: RemoteDockerHost, prefix: string): Promise<void> {
  const volume = `${prefix}-clamd-db`;
  const helper = `${volume}-seed`;
  await host.docker(['volume', 'create', '--label', `clawjail.stack=${prefix}`, volume]);
  await host.docker(['rm', '-f', helper], { check: false });
  await host.docker(['create', '--name', helper, '--network', 'none', '-v', `${volume}:/signatures`, DEBIAN_STANDIN, 'true']);
  try {
    const archive = tarOf([{ name: 'clawjail-test.hdb', content: Buffer.from(hdbLines(testSignatures())), mode: 0o644 }]);
    await run('docker', ['-H', host.dockerHost, 'cp', '-', `${helper}:/signatures`], { input: archive, env: host.env });
  } finally {
    await host.docker(['rm', '-f', helper], { check: false });
  }
}

/** Whatever a failed run left on the remote host: containers, networks, the moat, volumes. */
export async function scrubRemote(host: RemoteDockerHost, prefix: string): Promise<void> {
  for (const c of await remoteNames(host, prefix, 'container')) await host.docker(['rm', '-f', c], { check: false });
  for (const n of await remoteNames(host, prefix, 'network')) await host.docker(['network', 'rm', n], { check: false });
  await host.ssh(renderRemoveScript({ namePrefix: prefix }), { check: false });
  for (const v of await remoteNames(host, prefix, 'volume')) await host.docker(['volume', 'rm', '-f', v], { check: false });
}

/** Runs `fn` and records how long it took under `what`, also when it fails. */
export async function timed<T>(timings: Record<string, number>, what: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings[what] = Date.now() - t;
  }
}

/**
 * A stack on the remote host, ready for `pulumi up`: its sandbox, the environment its CLI runs
 * in (the engine first on PATH, then the lab's ssh; no agent), leftovers of a killed run
 * removed, the config and fresh tokens set, the signature volume filled there.
 */
export async function openRemoteStack(
  host: RemoteDockerHost,
  stack: string,
  prefix: string,
  config: Record<string, string>,
): Promise<{ pulumi: PulumiSandbox; env: NodeJS.ProcessEnv }> {
  const pulumi = new PulumiSandbox(stack);
  const env = { ...pulumi.env, PATH: `${pulumi.bin}:${host.env.PATH}`, SSH_AUTH_SOCK: undefined, SSH_AGENT_PID: undefined };
  await scrubRemote(host, prefix);
  await pulumi.init(config, { openclawToken: crypto.randomBytes(32).toString('hex'), gatewayToken: crypto.randomBytes(32).toString('hex') });
  await seedRemoteSignatures(host, prefix);
  return { pulumi, env };
}
