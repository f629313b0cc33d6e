// The Cell: the container the prisoner (OpenClaw) lives in.
import type { JailConfig } from '../config';
import { cellProxyEnv, openclawGatedConfig } from './egress';
import { jailNames } from './names';
import { ownContextImageSpec } from './images';
import { hardening, scratchTmpfs } from './hardening';
import { ROLE_LABEL, type ContainerSpec, type ImageSpec, STACK_LABEL } from './types';

/** uid:gid of the prisoner, the `node` user of the official Node image. */
export const CELL_USER = '1000:1000';
export const CELL_HOME = '/home/node';
export const WORKSPACE_DIR = '/workspace';

export function cellImageSpec(config: JailConfig): ImageSpec {
  return ownContextImageSpec(jailNames(config).cellImage, 'infra/images/cell', { BASE_IMAGE: config.nodeBaseImage, OPENCLAW_VERSION: config.openclawVersion });
}

/** OpenClaw's own health endpoint, probed from inside the cell (the image has no curl). */
export function cellHealthProbe(port: number): string[] {
  const js =
    `fetch('http://127.0.0.1:${port}/healthz')` +
    `.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return ['CMD', 'node', '-e', js];
}

/** How often the cell checks that it still shares the gateway's network namespace, seconds. */
export const FOLLOW_OWNER_INTERVAL_S = 2;

/**
 * The cell follows its namespace owner. It joins the gateway's network namespace
 * (`container:<gateway>`); a gateway that restarts (by hand, or by its own restart policy) comes
 * back in a new namespace and leaves the cell in the old one, which has lost every interface but
 * `lo`, with OpenClaw out of the operator's reach. A watcher sees that (`/proc/net/dev` lists `lo`
 * alone) and stops OpenClaw (SIGTERM, SIGKILL 20 s later), so that Docker's restart policy starts
 * the cell again, in the gateway's new namespace. It runs as the prisoner, who can kill it: that
 * only leaves a stranded cell stranded, with no network at all (fail closed).
 */
export const FOLLOW_OWNER_SCRIPT =
  `(while sleep ${FOLLOW_OWNER_INTERVAL_S}; do ` +
  "if ! tail -n +3 /proc/net/dev | grep -qv '^ *lo:'; then " +
  'echo "clawjail cell: the gateway left this network namespace (it restarted): stopping, to rejoin it" >&2; ' +
  'kill -TERM $$; sleep 20; kill -KILL $$; exit 0; fi; done) &';

function cellCommand(config: JailConfig): string[] {
  const openclaw = ['openclaw', 'gateway', '--allow-unconfigured', '--bind', 'loopback', '--port', String(config.cell.openclawPort), '--auth', 'token'];
  // $HOME is a fresh tmpfs at every start: the gated configuration is written there first.
  const gated =
    config.cell.egress === 'allowlist'
      ? 'mkdir -p "$OPENCLAW_STATE_DIR" && printf \'%s\\n\' "$CLAWJAIL_OPENCLAW_CONFIG" > "$OPENCLAW_STATE_DIR/openclaw.json" && '
      : '';
  // exec: OpenClaw takes the shell's pid, the one the watcher (started first) signals.
  return ['sh', '-c', `${gated}${FOLLOW_OWNER_SCRIPT} exec "$@"`, 'cell', ...openclaw];
}

export function cellContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const c = config.cell;
  return {
    name: names.cellContainer,
    role: 'cell',
    image: cellImageSpec(config),
    user: CELL_USER,
    command: cellCommand(config),
    env: {
      HOME: CELL_HOME,
      NODE_ENV: 'production',
      NO_UPDATE_NOTIFIER: '1',
      NPM_CONFIG_UPDATE_NOTIFIER: 'false',
      // cellEgress allowlist: where the gate is, for the tools that honour it. The kernel is what
      // enforces the gate (infra/model/egress.ts); these only make the way out usable.
      ...cellProxyEnv(config),
      ...(c.egress === 'allowlist' ? { CLAWJAIL_OPENCLAW_CONFIG: JSON.stringify(openclawGatedConfig(config)) } : {}),
    },
    secretEnv: { OPENCLAW_GATEWAY_TOKEN: 'openclawToken' },
    hostGroups: [],
    secretFiles: {},
    ...hardening(config),
    // Scratch space only: everything OpenClaw writes outside the workspace is gone at the next
    // start, so the workspace (which the warden scans) is the one place anything can persist.
    tmpfs: {
      '/tmp': scratchTmpfs(c.tmpfsMb, 'mode=1777'),
      // OpenClaw's state directory lives here; a root-owned mount point would stop it at start.
      [CELL_HOME]: scratchTmpfs(c.tmpfsMb, 'uid=1000,gid=1000,mode=0700'),
    },
    memoryMb: c.memoryMb,
    memorySwapMb: c.memoryMb,
    cpus: c.cpus,
    pidsLimit: c.pidsLimit,
    init: true,
    restart: c.restart,
    healthcheck: {
      test: cellHealthProbe(c.openclawPort),
      intervalSeconds: 15,
      timeoutSeconds: 5,
      // OpenClaw is ready in about 6 s here; slow hosts and gVisor need more.
      startPeriodSeconds: 60,
      retries: 3,
    },
    mounts: [
      {
        type: c.workspaceHostPath ? 'bind' : 'volume',
        source: c.workspaceHostPath || names.workspaceVolume,
        target: WORKSPACE_DIR,
        readOnly: false,
      },
    ],
    // The gateway owns the network namespace (infra/model/gateway.ts); the cell joins it.
    networks: [],
    networkMode: `container:${names.gatewayContainer}`,
    dns: [],
    ports: [],
    runtime: c.runtime,
    ipcMode: 'private',
    labels: { [ROLE_LABEL]: 'cell', [STACK_LABEL]: config.namePrefix },
    // OpenClaw must stop gracefully: a hard kill leaves a state lease that blocks the next start.
    stopTimeoutSeconds: 30,
  };
}
