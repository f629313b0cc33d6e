// The jail as data: what every component declares, independent of Pulumi and of any host.
import type { RestartPolicy, Runtime, JailSecrets } from '../config';
import type { CappedStore } from './stores';

export type Role = 'cell' | 'gateway' | 'warden' | 'clamd' | 'freshclam' | 'egress' | 'sentry';

/**
 * Supplementary groups named for what they grant on the Docker host, resolved to that host's gid
 * where the container is created (the program reads it on the host, the test deployer here).
 */
export type HostGroup = 'engine-socket';

/** Label that marks a container as part of the jail and names its part (the policy pack reads it). */
export const ROLE_LABEL = 'clawjail.role';
/** The stack (namePrefix) a resource belongs to. */
export const STACK_LABEL = 'clawjail.stack';

export interface ImageSpec {
  /** Local image reference, always pinned by tag. */
  name: string;
  /** Build context, relative to the repository root ("." for the services, which copy lib/). */
  context: string;
  /**
   * The directories of the context the build copies from, relative to the repository root: the
   * image's digest (infra/contextDigest.ts) is taken over these, so that a change elsewhere in a
   * shared context rebuilds nothing. A test holds every COPY of the Dockerfile inside them.
   */
  sources: string[];
  /** Dockerfile, relative to the repository root. */
  dockerfile: string;
  buildArgs: Record<string, string>;
}

export interface MountSpec {
  type: 'volume' | 'bind';
  /** Volume name, or absolute host path for a bind. */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface HealthcheckSpec {
  test: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  startPeriodSeconds: number;
  retries: number;
}

export interface PortSpec {
  internal: number;
  external: number;
  /** Host address the port is published on. */
  ip: string;
}

export interface ContainerSpec {
  name: string;
  role: Role;
  image: ImageSpec;
  /** "uid:gid"; numeric, so that no passwd entry in the image can change who it is. */
  user: string;
  /** Supplementary groups of the Docker host (the sentry's engine socket); empty for all others. */
  hostGroups: HostGroup[];
  command: string[];
  env: Record<string, string>;
  /** Environment variables whose values are stack secrets: variable name to secret key. */
  secretEnv: Record<string, keyof JailSecrets>;
  /**
   * Files written into the (created, not yet started) container before it first runs: path to
   * secret key. Paths must lie on a writable volume of the container's own.
   */
  secretFiles: Record<string, keyof JailSecrets>;
  capDrop: string[];
  capAdd: string[];
  securityOpts: string[];
  /** Seccomp profile as JSON; applied as security option `seccomp=<json>`. */
  seccompProfile: string | null;
  readOnlyRootfs: boolean;
  /** Mount point to mount options, e.g. "rw,noexec,nosuid,nodev,size=256m". */
  tmpfs: Record<string, string>;
  memoryMb: number;
  /** Memory plus swap; equal to memoryMb means no swap at all. */
  memorySwapMb: number;
  cpus: number;
  pidsLimit: number;
  logDriver: 'json-file';
  logOpts: Record<string, string>;
  init: boolean;
  restart: RestartPolicy;
  healthcheck: HealthcheckSpec;
  mounts: MountSpec[];
  /** Networks joined, by name; the first is the primary one. Empty when networkMode is set. */
  networks: string[];
  /** "container:<name>": share that container's network namespace instead of joining networks. */
  networkMode: string | null;
  /** Fixed IPv4 addresses, by network name; a network not named here: Docker picks one. */
  networkAddresses?: Record<string, string>;
  ports: PortSpec[];
  /** DNS servers Docker's embedded resolver forwards to; empty for the host's. */
  dns: string[];
  runtime: Runtime;
  ipcMode: 'private' | 'none';
  labels: Record<string, string>;
  stopTimeoutSeconds: number;
}

export interface NetworkSpec {
  name: string;
  bridgeName: string;
  subnet: string;
  /** No route out of the host at all (Docker's --internal). */
  internal: boolean;
  /** Containers on the network cannot reach each other. */
  interContainer: boolean;
  ipv6: false;
  options: Record<string, string>;
  labels: Record<string, string>;
}

export interface VolumeSpec {
  name: string;
  labels: Record<string, string>;
}

export interface JailSpec {
  namePrefix: string;
  dockerHost: string;
  /** The workspace and the quarantine on filesystems of their own (infra/model/stores.ts). */
  stores: CappedStore[];
  images: ImageSpec[];
  networks: NetworkSpec[];
  volumes: VolumeSpec[];
  containers: ContainerSpec[];
}
