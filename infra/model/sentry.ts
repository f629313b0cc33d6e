// The sentry: freezes the prisoner (docker pause of the cell: the cgroup freezer, which nothing
// inside the cell can undo) while the warden is down, unhealthy or still catching up, and thaws
// it after (warden/src/sentry/). A scanner that is down must not be a window for the prisoner.
//
// It is the one container of the jail that holds the engine's socket, so it holds nothing else:
// no network at all, no workspace, no quarantine, a read-only root, no capabilities, a uid of its
// own with the socket's group only, and the warden's health file read-only. The policy pack
// allows the socket to this shape alone (policies/checks/mounts.ts, checkEngineSocketHolder).
import type { JailConfig } from '../config';
import { scratchTmpfs } from './hardening';
import { jailNames } from './names';
import { ROLE_LABEL, STACK_LABEL, type ContainerSpec } from './types';
import { serviceBase, wardenImageSpec, WARDEN_HEALTH_DIR, WARDEN_HEALTH_FILE } from './warden';

/** Fixed: no passwd entry needed, and no other container of the jail runs as it. */
export const SENTRY_USER = '10320:10320';
/** What the sentry's command is, always: the policy pack ties the socket to it. */
export const SENTRY_COMMAND: readonly string[] = ['--sentry'];
/** Its healthcheck, always: the policy pack holds the socket's holder to it. */
export const SENTRY_HEALTHCHECK: readonly string[] = ['CMD', 'node', '/app/dist/main.js', '--sentry', '--healthcheck'];
/** The sentry's own state (why the cell runs or is frozen), read by `clawjail status`. */
export const SENTRY_STATE_FILE = '/tmp/sentry.json';
/** The supplementary group a container gets the engine socket's gid for (resolved on the host). */
export const ENGINE_SOCKET_GROUP = 'engine-socket';

/** Where the engine's socket is on the Docker host: the unix:// path, else Docker's default. */
export function engineSocketPath(dockerHost: string): string {
  return dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : '/var/run/docker.sock';
}

export function sentryContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const socket = engineSocketPath(config.dockerHost);
  return {
    ...serviceBase(config, 'sentry', names.sentryContainer),
    image: wardenImageSpec(config),
    user: SENTRY_USER,
    hostGroups: [ENGINE_SOCKET_GROUP],
    command: [...SENTRY_COMMAND],
    env: {
      SENTRY_ENGINE_SOCKET: '/run/engine.sock',
      SENTRY_CELL: names.cellContainer,
      SENTRY_WARDEN: names.wardenContainer,
      SENTRY_CLAMD: names.clamdContainer,
      SENTRY_WARDEN_HEALTH_FILE: WARDEN_HEALTH_FILE,
      SENTRY_STATE_FILE,
    },
    tmpfs: { '/tmp': scratchTmpfs(4, 'mode=1777') },
    memoryMb: 128,
    memorySwapMb: 128,
    cpus: 0.25,
    pidsLimit: 32,
    // Healthy once it has looked at the engine and the report and the cell is as it wants it: the
    // stack waits for that before it starts the cell (infra/components/warden.ts).
    healthcheck: {
      test: [...SENTRY_HEALTHCHECK],
      intervalSeconds: 5,
      timeoutSeconds: 5,
      startPeriodSeconds: 10,
      retries: 3,
    },
    mounts: [
      { type: 'bind', source: socket, target: '/run/engine.sock', readOnly: true },
      { type: 'volume', source: names.wardenHealthVolume, target: WARDEN_HEALTH_DIR, readOnly: true },
    ],
    networks: [],
    networkMode: 'none',
    dns: [],
    labels: { [ROLE_LABEL]: 'sentry', [STACK_LABEL]: config.namePrefix },
    stopTimeoutSeconds: 5,
  };
}
