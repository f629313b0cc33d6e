// Test-only deployer: realises a JailSpec on the local Docker engine through the Engine API,
// field for field as infra/components/dockerArgs.ts hands it to the Pulumi docker provider,
// and applies the pids limit with the very script the stack runs. It never holds settings of its
// own: everything comes from the spec.
import { execFile } from 'child_process';
import * as fs from 'fs';
import { promisify } from 'util';
import * as path from 'path';
import type { JailSecrets } from '../../infra/config';
import { REPO_ROOT } from '../../infra/paths';
import { hostGroupIds, type HostGroupIds } from '../../infra/components/dockerArgs';
import { pidsLimitScript, renderReleasePrefixScript, renderStoresApplyScript, waitHealthyScript, type ContainerSpec, type ImageSpec, type JailSpec, type NetworkSpec } from '../../infra/model';
import { Engine, socketPathOf } from './engine';
import { tarOf } from './tar';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const ns = (seconds: number) => seconds * 1e9;

export interface ContainerState {
  Status: string;
  Running: boolean;
  OOMKilled: boolean;
  ExitCode: number;
  Health?: { Status: string; Log?: { Output: string; ExitCode: number }[] };
}

export function containerCreateBody(spec: ContainerSpec, secrets: JailSecrets, groups: HostGroupIds = {}): Record<string, unknown> {
  const env = [
    ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...Object.entries(spec.secretEnv).map(([k, key]) => `${k}=${secrets[key]}`),
  ];
  const [primary] = spec.networks;
  return {
    Image: spec.image.name,
    User: spec.user,
    Cmd: spec.command,
    Env: env,
    Labels: spec.labels,
    StopTimeout: spec.stopTimeoutSeconds,
    Healthcheck: {
      Test: spec.healthcheck.test,
      Interval: ns(spec.healthcheck.intervalSeconds),
      Timeout: ns(spec.healthcheck.timeoutSeconds),
      StartPeriod: ns(spec.healthcheck.startPeriodSeconds),
      Retries: spec.healthcheck.retries,
    },
    HostConfig: {
      GroupAdd: spec.hostGroups.length ? hostGroupIds(spec, groups) : null,
      CapDrop: spec.capDrop,
      CapAdd: spec.capAdd,
      Privileged: false,
      SecurityOpt: [...spec.securityOpts, ...(spec.seccompProfile ? [`seccomp=${spec.seccompProfile}`] : [])],
      ReadonlyRootfs: spec.readOnlyRootfs,
      Tmpfs: spec.tmpfs,
      Memory: spec.memoryMb * MiB,
      MemorySwap: spec.memorySwapMb * MiB,
      NanoCpus: Math.round(spec.cpus * 1e9),
      LogConfig: { Type: spec.logDriver, Config: spec.logOpts },
      Init: spec.init,
      RestartPolicy: { Name: spec.restart },
      Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      NetworkMode: spec.networkMode ?? primary,
      PortBindings: Object.fromEntries(
        spec.ports.map((p) => [`${p.internal}/tcp`, [{ HostIp: p.ip, HostPort: String(p.external) }]]),
      ),
      Dns: spec.dns.length ? spec.dns : null,
      Runtime: spec.runtime,
      IpcMode: spec.ipcMode,
    },
    // Engine API 1.41 takes one network at create; the others are connected before the start.
    NetworkingConfig: { EndpointsConfig: primary ? { [primary]: endpointConfig(spec, primary) } : {} },
  };
}

/** The endpoint of a container on one of its networks: its fixed address there, if any. */
export function endpointConfig(spec: ContainerSpec, network: string): Record<string, unknown> {
  const ip = spec.networkAddresses?.[network];
  return ip ? { IPAMConfig: { IPv4Address: ip } } : {};
}

export function networkCreateBody(spec: NetworkSpec): Record<string, unknown> {
  return {
    Name: spec.name,
    Driver: 'bridge',
    Internal: spec.internal,
    EnableIPv6: spec.ipv6,
    CheckDuplicate: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet }] },
    Options: spec.options,
    Labels: spec.labels,
  };
}

export class JailDeployment {
  readonly engine: Engine;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly spec: JailSpec,
    private readonly secrets: JailSecrets,
    /** Build arguments from this machine (infra/buildArgs.ts), as the stack passes them. */
    private readonly hostBuildArgs: Record<string, string> = {},
  ) {
    this.engine = new Engine(socketPathOf(spec.dockerHost));
    this.env = { ...process.env, DOCKER_HOST: spec.dockerHost };
  }

  async buildImage(image: ImageSpec): Promise<void> {
    const args = ['build', '-q', '-t', image.name, '-f', path.join(REPO_ROOT, image.dockerfile)];
    for (const [k, v] of Object.entries({ ...image.buildArgs, ...this.hostBuildArgs })) args.push('--build-arg', `${k}=${v}`);
    args.push(path.join(REPO_ROOT, image.context));
    await run('docker', args, { env: this.env, maxBuffer: 64 * MiB, timeout: 30 * 60_000 });
  }

  async up(): Promise<void> {
    for (const image of this.spec.images) await this.buildImage(image);
    for (const net of this.spec.networks) await this.engine.request('POST', '/networks/create', networkCreateBody(net));
    for (const vol of this.spec.volumes) {
      await this.engine.request('POST', '/volumes/create', { Name: vol.name, Labels: vol.labels });
    }
    // The capped stores, with the very script the stack runs, before anything writes to them.
    if (this.spec.stores.length) {
      await run('/bin/sh', ['-c', renderStoresApplyScript(this.spec.dockerHost, this.spec.namePrefix, this.spec.stores)], { env: this.env, maxBuffer: 16 * MiB });
    }
    // The engine socket's group, read here as the program reads it on the jail's host.
    const groups: HostGroupIds = { 'engine-socket': String(fs.statSync(socketPathOf(this.spec.dockerHost)).gid) };
    for (const c of this.spec.containers) {
      await this.engine.request('POST', `/containers/create?name=${encodeURIComponent(c.name)}`, containerCreateBody(c, this.secrets, groups));
      for (const n of c.networks.slice(1)) {
        await this.engine.request('POST', `/networks/${n}/connect`, { Container: c.name, EndpointConfig: endpointConfig(c, n) });
      }
      await this.uploadSecretFiles(c);
      await run('/bin/sh', ['-c', pidsLimitScript(c.name, c.pidsLimit)], { env: this.env });
      // As the stack does: the cell starts only after the sentry has proven it can freeze it.
      if (c.role === 'sentry') await run('/bin/sh', ['-c', waitHealthyScript(c.name)], { env: this.env });
    }
  }

  /** Like the provider's `uploads`: one archive per file, extracted into its directory. */
  private async uploadSecretFiles(c: ContainerSpec): Promise<void> {
    for (const [file, key] of Object.entries(c.secretFiles)) {
      const dir = path.posix.dirname(file);
      const archive = tarOf([{ name: path.posix.basename(file), content: Buffer.from(this.secrets[key]), mode: 0o644 }]);
      await this.engine.request('PUT', `/containers/${c.name}/archive?path=${encodeURIComponent(dir)}`, archive);
    }
  }

  async state(container: string): Promise<ContainerState> {
    const info = await this.engine.request<{ State: ContainerState }>('GET', `/containers/${container}/json`);
    return info.State;
  }

  async inspect(container: string): Promise<Record<string, unknown>> {
    return this.engine.request('GET', `/containers/${container}/json`);
  }

  /** Waits for Docker's own healthcheck verdict, so the test sees what the restart policy sees. */
  async waitHealthy(container: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: ContainerState | undefined;
    while (Date.now() < deadline) {
      last = await this.state(container);
      if (last.Health?.Status === 'healthy') return;
      if (!last.Running && last.Status !== 'restarting' && last.Status !== 'created') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const logs = await this.logs(container).catch(() => '');
    throw new Error(`${container} not healthy: ${JSON.stringify(last)}\n${logs.slice(-4000)}`);
  }

  /** The docker CLI against the jail's engine; its trimmed stdout. */
  async docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', args, { env: this.env, maxBuffer: 64 * MiB });
    return stdout.trim();
  }

  async logs(container: string): Promise<string> {
    const { stdout, stderr } = await run('docker', ['logs', '--tail', '200', container], { env: this.env, maxBuffer: 64 * MiB });
    return stdout + stderr;
  }

  /** Runs a command inside a container as the prisoner (the container's own user and limits). */
  exec(container: string, argv: string[], opts: { input?: Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = execFile(
        'docker',
        ['exec', ...(opts.input ? ['-i'] : []), container, ...argv],
        { env: this.env, maxBuffer: 64 * MiB, timeout: opts.timeoutMs ?? 120_000, encoding: 'buffer' },
        (err, stdout, stderr) => {
          resolve({ code: exitCodeOf(err), stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
        },
      );
      if (opts.input) child.stdin?.end(opts.input);
    });
  }

  /** Stops gracefully (OpenClaw leaves a lease behind after a hard kill), then removes everything. */
  async down(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const c of [...this.spec.containers].reverse()) {
      await attempt(() => this.engine.request('POST', `/containers/${c.name}/stop?t=${c.stopTimeoutSeconds}`, undefined, (c.stopTimeoutSeconds + 30) * 1000).catch((e) => {
        if ((e as { status?: number }).status !== 304 && (e as { status?: number }).status !== 404) throw e;
      }));
      await attempt(() => this.engine.remove(`/containers/${c.name}?force=true&v=true`));
    }
    for (const n of this.spec.networks) await attempt(() => this.engine.remove(`/networks/${n.name}`));
    // A capped store is a mount over the volume's directory: undone first, or the volume cannot go.
    await attempt(() => run('/bin/sh', ['-c', renderReleasePrefixScript(this.spec.dockerHost, this.spec.namePrefix)], { env: this.env }));
    for (const v of this.spec.volumes) await attempt(() => this.engine.remove(`/volumes/${v.name}?force=true`));
    if (errors.length) throw new AggregateError(errors, `teardown of ${this.spec.namePrefix} left errors`);
  }
}

/** A child's exit status from execFile's callback error: 0 on success, -1 if it did not exit. */
export function exitCodeOf(err: unknown): number {
  if (!err) return 0;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : -1;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}
