// Maps the pure spec onto @pulumi/docker's argument shapes. Kept apart from the component
// classes so that the mapping itself is one function per resource kind.
import * as path from 'path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { JailSecrets } from '../config';
import { REPO_ROOT } from '../paths';
import type { ContainerSpec, ImageSpec, NetworkSpec, VolumeSpec } from '../spec';


export const labelEntries = (labels: Record<string, string>) =>
  Object.entries(labels).map(([label, value]) => ({ label, value }));

/** `hostArgs`: build arguments from the building machine (infra/buildArgs.ts), never secrets. */
export function imageArgs(spec: ImageSpec, hostArgs: Record<string, string> = {}): docker.ImageArgs {
  return {
    imageName: spec.name,
    build: {
      context: path.join(REPO_ROOT, spec.context),
      dockerfile: path.join(REPO_ROOT, spec.dockerfile),
      args: { ...spec.buildArgs, ...hostArgs },
      platform: 'linux/amd64',
    },
    // Built on the jail's own host; there is no registry in the loop.
    skipPush: true,
    buildOnPreview: false,
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

const seconds = (s: number) => `${s}s`;

/**
 * `image` is the reference the container runs (the built image's name, so the policy pack can
 * see its pinned tag); `secrets` fills the spec's secretEnv and stays a Pulumi secret.
 */
export function containerArgs(
  spec: ContainerSpec,
  image: pulumi.Input<string>,
  secrets: pulumi.Output<JailSecrets>,
): docker.ContainerArgs {
  const plainEnv = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
  const envs = pulumi
    .secret(secrets)
    .apply((s) => [...plainEnv, ...Object.entries(spec.secretEnv).map(([k, key]) => `${k}=${s[key]}`)]);
  return {
    name: spec.name,
    image,
    user: spec.user,
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
    cpus: String(spec.cpus),
    logDriver: spec.logDriver,
    logOpts: spec.logOpts,
    init: spec.init,
    restart: spec.restart,
    healthcheck: {
      tests: spec.healthcheck.test,
      interval: seconds(spec.healthcheck.intervalSeconds),
      timeout: seconds(spec.healthcheck.timeoutSeconds),
      startPeriod: seconds(spec.healthcheck.startPeriodSeconds),
      retries: spec.healthcheck.retries,
    },
    mounts: spec.mounts.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly })),
    networkMode: spec.networkMode ?? undefined,
    networksAdvanced: spec.networks.length ? spec.networks.map((name) => ({ name })) : undefined,
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
