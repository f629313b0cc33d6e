// The vault's gateway: the only way in to OpenClaw. It owns the jail's network namespace (it sits
// on the moat's bridge and publishes the operator's port) and the cell joins it, so OpenClaw's
// loopback-only port is reachable from the gateway and from nowhere else. The cell, not the
// gateway, is the one the prisoner can crash and restart at will; as a joiner it comes back into
// the same namespace, and the operator's channel survives.
import { hostInCidr, type JailConfig } from '../config';
import { gateAddresses } from './egress';
import { bridgeAddresses } from './firewall';
import { jailNames } from './names';
import { serviceImageSpec } from './images';
import { hardening, scratchTmpfs } from './hardening';
import { ROLE_LABEL, type ContainerSpec, STACK_LABEL } from './types';

/** Not the prisoner's uid: the prisoner must not own the gateway's files or processes. */
export const GATEWAY_USER = '10443:10443';
export const GATEWAY_STATE_DIR = '/var/lib/clawjail-gateway';
/** Port inside the shared namespace; the host side is config.gateway.port. */
export const GATEWAY_INTERNAL_PORT = 8443;
/** The login origin's port inside the namespace; the host side is config.gateway.loginPort. */
export const GATEWAY_LOGIN_INTERNAL_PORT = 8444;

/**
 * With `cellEgress none` the cell's network is internal: no route out, and so Docker publishes
 * no port on it. The gateway then gets a fixed address on the bridge (the first after the
 * bridge's own), which only this host can reach, and the operator connects there.
 */
export function internalGatewayAddress(config: JailConfig): string | null {
  return config.cell.egress === 'none' ? hostInCidr(config.network.subnet, 2) : null;
}

export function gatewayContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const c = config.cell;
  const internal = internalGatewayAddress(config);
  return {
    name: names.gatewayContainer,
    role: 'gateway',
    image: serviceImageSpec(names.gatewayImage, 'gateway', config.nodeBaseImage),
    user: GATEWAY_USER,
    command: [],
    env: {
      // All addresses of the shared namespace: the port publish reaches it on the bridge address.
      GATEWAY_LISTEN: `0.0.0.0:${GATEWAY_INTERNAL_PORT}`,
      GATEWAY_LOGIN_LISTEN: `0.0.0.0:${GATEWAY_LOGIN_INTERNAL_PORT}`,
      // The two origins link to each other by the ports browsers use.
      ...(internal ? {} : { GATEWAY_PUBLIC_PORT: String(config.gateway.port), GATEWAY_LOGIN_PUBLIC_PORT: String(config.gateway.loginPort) }),
      GATEWAY_UPSTREAM: `ws://127.0.0.1:${c.openclawPort}`,
      GATEWAY_STATE_DIR,
      GATEWAY_CERT_NAMES: internal ?? config.gateway.listenAddress,
      GATEWAY_TOKEN_FILE: `${GATEWAY_STATE_DIR}/operator.token`,
      GATEWAY_UPSTREAM_TOKEN_FILE: `${GATEWAY_STATE_DIR}/openclaw.token`,
    },
    secretEnv: {},
    hostGroups: [],
    secretFiles: {
      [`${GATEWAY_STATE_DIR}/operator.token`]: 'gatewayToken',
      [`${GATEWAY_STATE_DIR}/openclaw.token`]: 'openclawToken',
    },
    ...hardening(config),
    tmpfs: { '/tmp': scratchTmpfs(64, 'mode=1777') },
    memoryMb: 256,
    memorySwapMb: 256,
    cpus: 0.5,
    pidsLimit: 64,
    init: true,
    restart: c.restart,
    healthcheck: {
      test: ['CMD', 'node', '/app/dist/main.js', '--healthcheck'],
      intervalSeconds: 15,
      timeoutSeconds: 5,
      startPeriodSeconds: 20,
      retries: 3,
    },
    // The certificate and key are made at first start in this volume, which no other container
    // mounts: the key never enters the cell.
    mounts: [{ type: 'volume', source: names.gatewayStateVolume, target: GATEWAY_STATE_DIR, readOnly: false }],
    ...gatewayNetworks(config),
    ports: internal
      ? []
      : [
          { internal: GATEWAY_INTERNAL_PORT, external: config.gateway.port, ip: config.gateway.listenAddress },
          { internal: GATEWAY_LOGIN_INTERNAL_PORT, external: config.gateway.loginPort, ip: config.gateway.listenAddress },
        ],
    // With no egress, or only the gate's, even DNS stays inside: Docker's resolver forwards to
    // loopback (the gate resolves names itself).
    dns: c.egress === 'internet' ? [] : ['127.0.0.1'],
    runtime: c.runtime,
    ipcMode: 'private',
    labels: { [ROLE_LABEL]: 'gateway', [STACK_LABEL]: config.namePrefix },
    stopTimeoutSeconds: 10,
  };
}

/**
 * The namespace the cell shares: on the cell's bridge (at the fixed .2 unless the cell has the
 * internet), and with cellEgress allowlist also on the gate link, its one way out.
 */
function gatewayNetworks(config: JailConfig): Pick<ContainerSpec, 'networks' | 'networkMode' | 'networkAddresses'> {
  const names = jailNames(config);
  switch (config.cell.egress) {
    case 'internet':
      return { networks: [names.cellNetwork], networkMode: null };
    case 'none':
      return { networks: [names.cellNetwork], networkMode: null, networkAddresses: { [names.cellNetwork]: hostInCidr(config.network.subnet, 2) } };
    case 'allowlist':
      return {
        networks: [names.cellNetwork, names.gateNetwork],
        networkMode: null,
        networkAddresses: { [names.cellNetwork]: bridgeAddresses(config).gateway, [names.gateNetwork]: gateAddresses(config).gateway },
      };
  }
}

/** Where the operator connects. */
export function gatewayUrl(config: JailConfig): string {
  const internal = internalGatewayAddress(config);
  if (internal) return `wss://${internal}:${GATEWAY_INTERNAL_PORT}`;
  return `wss://${config.gateway.listenAddress}:${config.gateway.port}`;
}

/** Where a browser logs in: the login origin, never the dashboard's. */
export function gatewayLoginUrl(config: JailConfig): string {
  const internal = internalGatewayAddress(config);
  const at = internal ? `${internal}:${GATEWAY_LOGIN_INTERNAL_PORT}` : `${config.gateway.listenAddress}:${config.gateway.loginPort}`;
  return `https://${at}/__clawjail/login`;
}
