// Maps the pure spec onto @pulumi/docker's argument shapes. Kept apart from the component
// classes so that the mapping itself is one function per resource kind.
import * as path from 'path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { JailSecrets } from '../config';
import { REPO_ROOT } from '../paths';
import type { ContainerSpec, HostGroup, ImageSpec, NetworkSpec, VolumeSpec } from '../model';


export const labelEntries = (labels: Record<string, string>) =>
  Object.entries(labels).map(([label, value]) => ({ label, value }));

/**
 * `hostArgs`: build arguments from the building machine (infra/buildArgs.ts), never secrets.
 * `digest`: what the build sees (infra/contextDigest.ts); a new digest rebuilds the image.
 *
 * Always the provider's "legacy" builder (still BuildKit, through a session on the provider's
 * own client), so the image is built on the stack's engine. The default (buildx) path ignores
 * the provider's `host`: it builds through a docker CLI context of its own (DOCKER_HOST, else
 * this machine's socket), so for a remote host the images were built HERE and the remote engine
 * then tried to pull them (test/e2e/pulumiRemote.e2e.test.ts), and a local stack would build on
 * whatever engine DOCKER_HOST named.
 */
export function imageArgs(spec: ImageSpec, hostArgs: Record<string, string> = {}, digest = ''): docker.RemoteImageArgs {
  return {
    name: spec.name,
    build: {
      context: path.join(REPO_ROOT, spec.context),
      // The Engine API takes the Dockerfile's path inside the context.
      dockerfile: path.relative(path.join(REPO_ROOT, spec.context), path.join(REPO_ROOT, spec.dockerfile)),
      buildArgs: { ...spec.buildArgs, ...hostArgs },
      platform: 'linux/amd64',
      useLegacyBuilder: true,
    },
    triggers: { context: digest },
    // Built on the jail's own host, no registry in the loop; kept when the stack is destroyed
    // (a second stack on the host may run the same tag, and the next `up` starts from the cache).
    keepLocally: true,
  };
}

export function networkArgs(spec: NetworkSpec): docker.NetworkArgs {
  return {
    name: spec.name,
    driver: 'bridge',
    internal: spec.internal,
    ipv6: spec.ipv6,
    ipamConfigs: [{ subnet: spec.subnet }],
    options: spec.options,
    labels: labelEntries(spec.labels),
  };
}

export function volumeArgs(spec: VolumeSpec): docker.VolumeArgs {
  return { name: spec.name, labels: labelEntries(spec.labels) };
}

/**
 * A duration as the docker provider reads it back (Go's time.Duration String: "15s", "1m0s",
 * "5m0s", "1h0m0s"); spelled any other way it would differ from the state at every refresh.
 */
export function goDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`a whole number of seconds, got ${seconds}`);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * CPUs as the docker provider reads them back from NanoCPUs: "1.0", "2.0", "0.5", "1.25". Its
 * rule counts the zeros of the number written with nine decimals: exactly nine, and it is
 * rounded to one decimal; otherwise trailing zeros go (so 10 whole CPUs come back as "10.").
 * Mirrored here, quirks included, or the state would differ at every refresh.
 */
export function cpusString(cpus: number): string {
  const nano = Math.round(cpus * 1e9);
  if (nano <= 0) throw new Error(`cpus must be positive, got ${cpus}`);
  const fixed = `${Math.floor(nano / 1e9)}.${String(nano % 1e9).padStart(9, '0')}`;
  if ((fixed.match(/0/g) ?? []).length === 9) return (nano / 1e9).toFixed(1);
  return fixed.replace(/0+$/, '');
}

/** The gid of each host group on the Docker host (infra/components/hostGroups.ts reads them). */
export type HostGroupIds = Partial<Record<HostGroup, string>>;

/** The spec's host groups as gids; a group the host was not asked about is an error, not a skip. */
export function hostGroupIds(spec: ContainerSpec, ids: HostGroupIds): string[] {
  return spec.hostGroups.map((g) => {
    const id = ids[g];
    if (!id || !/^\d+$/.test(id)) throw new Error(`${spec.name} needs the Docker host's ${g} group, and its gid is not known (${JSON.stringify(id)})`);
    return id;
  });
}

/**
 * `image` is the reference the container runs (the built image's name, so the policy pack can
 * see its pinned tag); `secrets` fills the spec's secretEnv and stays a Pulumi secret;
 * `groups` gives the gids of the spec's hostGroups.
 */
export function containerArgs(
  spec: ContainerSpec,
  image: pulumi.Input<string>,
  secrets: pulumi.Output<JailSecrets>,
  groups: pulumi.Input<HostGroupIds> = {},
): docker.ContainerArgs {
  const plainEnv = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  const envs = pulumi
    .secret(secrets)
    .apply((s) => [...plainEnv, ...Object.entries(spec.secretEnv).map(([k, key]) => `${k}=${s[key]}`)]);
  return {
    name: spec.name,
    image,
    user: spec.user,
    groupAdds: spec.hostGroups.length ? pulumi.output(groups).apply((ids) => hostGroupIds(spec, ids)) : undefined,
    command: spec.command,
    envs,
    capabilities: { drops: spec.capDrop, adds: spec.capAdd },
    privileged: false,
    securityOpts: [
      ...spec.securityOpts,
      ...(spec.seccompProfile ? [`seccomp=${spec.seccompProfile}`] : []),
    ],
    readOnly: spec.readOnlyRootfs,
    tmpfs: spec.tmpfs,
    memory: spec.memoryMb,
    memorySwap: spec.memorySwapMb,
    cpus: cpusString(spec.cpus),
    logDriver: spec.logDriver,
    logOpts: spec.logOpts,
    init: spec.init,
    restart: spec.restart,
    healthcheck: {
      tests: spec.healthcheck.test,
      interval: goDuration(spec.healthcheck.intervalSeconds),
      timeout: goDuration(spec.healthcheck.timeoutSeconds),
      startPeriod: goDuration(spec.healthcheck.startPeriodSeconds),
      retries: spec.healthcheck.retries,
    },
    mounts: spec.mounts.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly })),
    networkMode: spec.networkMode ?? undefined,
    networksAdvanced: spec.networks.length
      ? spec.networks.map((name) => {
          const ipv4Address = spec.networkAddresses?.[name];
          return ipv4Address ? { name, ipv4Address } : { name };
        })
      : undefined,
    // Written before the first start (the container is created stopped), onto the container's
    // own volume; the provider sends them through the Engine API, never on a command line.
    uploads: Object.entries(spec.secretFiles).map(([file, key]) => ({
      file,
      content: pulumi.secret(secrets).apply((s) => s[key]),
    })),
    ports: spec.ports.map((p) => ({ internal: p.internal, external: p.external, ip: p.ip, protocol: 'tcp' })),
    dns: spec.dns.length ? spec.dns : undefined,
    runtime: spec.runtime,
    ipcMode: spec.ipcMode,
    labels: labelEntries(spec.labels),
    stopTimeout: spec.stopTimeoutSeconds,
    destroyGraceSeconds: spec.stopTimeoutSeconds,
    // Created stopped: the pids limit (no field in @pulumi/docker) is applied before first start.
    start: false,
    mustRun: false,
  };
}
