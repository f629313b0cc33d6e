// The egress gate (clawjail:cellEgress allowlist): an allowlisting proxy that is the cell's only
// way out. The kernel enforces it, not the proxy variables:
//  - the cell lives in the gateway's network namespace, which is on two networks: the cell's
//    bridge, where the moat drops every new connection from that namespace (only the gate's and
//    freshclam's addresses may reach the internet and the resolvers), and the gate link;
//  - the gate link is internal (no route out) and its bridge has no host address, so from it the
//    cell reaches the gate's proxy port and nothing else: not the host, not the LAN.
// The gate itself resolves names, refuses private and special addresses (DNS rebinding), checks
// the TLS SNI against the CONNECT host, logs every decision, and adds the model providers' keys,
// which never enter the cell (egress/README.md).
import { hostInCidr, type JailConfig } from '../config';
import { bridgeAddresses, moatBlockedV4 } from './firewall';
import { hardening, scratchTmpfs } from './hardening';
import { EGRESS_STATE_DIR, egressFiles } from './egressPolicy';
import { jailNames } from './names';
import { serviceImageSpec } from './images';
import { ROLE_LABEL, type ContainerSpec, type ImageSpec, type NetworkSpec, STACK_LABEL } from './types';

/** Not the prisoner's uid, nor the gateway's: fixed in egress/Dockerfile. */
export const EGRESS_USER = '10480:10480';
export const EGRESS_PORT = 3128;
/** Docker's embedded resolver, which forwards to the host's (the moat lets only the gate's queries out). */
export const EGRESS_RESOLVER = '127.0.0.11:53';


/** The fixed addresses of the gate link: the gate first, then the cell's namespace. */
export function gateAddresses(config: JailConfig): { egress: string; gateway: string } {
  return { egress: hostInCidr(config.network.gateSubnet, 2), gateway: hostInCidr(config.network.gateSubnet, 3) };
}

/** The URL the cell's tools use as their proxy, and the base of the model routes. */
export function gateProxyUrl(config: JailConfig): string {
  return `http://${gateAddresses(config).egress}:${EGRESS_PORT}`;
}

export function gateNetworkSpec(config: JailConfig): NetworkSpec {
  return {
    name: jailNames(config).gateNetwork,
    bridgeName: config.network.gateBridgeName,
    subnet: config.network.gateSubnet,
    internal: true,
    // The cell's namespace must reach the gate; nothing else is on this network.
    interContainer: true,
    ipv6: false,
    options: {
      'com.docker.network.bridge.name': config.network.gateBridgeName,
      'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      // Without a host address on the bridge, the cell cannot reach any host service through it.
      'com.docker.network.bridge.inhibit_ipv4': 'true',
    },
    labels: { [STACK_LABEL]: config.namePrefix },
  };
}

export function egressImageSpec(config: JailConfig): ImageSpec {
  return serviceImageSpec(jailNames(config).egressImage, 'egress', config.nodeBaseImage);
}

/** The policy file as the stack declares it; the gate writes permanent live changes the same way. */
export function egressPolicyDocument(config: JailConfig): { allow: string[]; deny: string[] } {
  // parseConfig already keeps both lists sorted and unique, as the gate writes them.
  return { allow: config.egress.allow, deny: config.egress.deny };
}

/** What the cell's tools read to find the gate (npm, git, curl, Node with NODE_USE_ENV_PROXY). */
export function cellProxyEnv(config: JailConfig): Record<string, string> {
  if (config.cell.egress !== 'allowlist') return {};
  const url = gateProxyUrl(config);
  const noProxy = ['localhost', '127.0.0.1', '::1', gateAddresses(config).egress].join(',');
  return {
    HTTPS_PROXY: url,
    HTTP_PROXY: url,
    https_proxy: url,
    http_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node 24's own http, https and fetch honour the variables above only with this.
    NODE_USE_ENV_PROXY: '1',
  };
}

/** What OpenClaw is given instead of a key: the gate replaces it with the real one. */
export const PLACEHOLDER_KEY = 'clawjail-placeholder-key';
const BUILTIN_PROVIDER_IDS = ['openai', 'anthropic', 'openrouter'];
const OPENCLAW_API: Record<string, string> = { openai: 'openai-completions', openrouter: 'openai-completions', anthropic: 'anthropic-messages' };

/**
 * OpenClaw's configuration with cellEgress allowlist: each model provider on its route through
 * the gate with a placeholder key, web_fetch through the proxy (by default it connects directly,
 * which the cell cannot), and no catalog download or update check (they would only be refused).
 * Not a security boundary: the prisoner may rewrite it; the gate is what decides.
 */
export function openclawGatedConfig(config: JailConfig): Record<string, unknown> {
  const base = gateProxyUrl(config);
  const providers = Object.fromEntries(
    config.egress.providers.map((p) => [
      p.name,
      {
        baseUrl: `${base}/providers/${p.name}`,
        apiKey: PLACEHOLDER_KEY,
        // OpenClaw's own providers take only a base URL and a key.
        ...(BUILTIN_PROVIDER_IDS.includes(p.name) ? {} : { api: OPENCLAW_API[p.api] }),
      },
    ]),
  );
  return {
    models: { catalogRefresh: { enabled: false }, ...(config.egress.providers.length ? { providers } : {}) },
    tools: { web: { fetch: { useTrustedEnvProxy: true } } },
    update: { checkOnStart: false },
  };
}

export function egressContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const gate = gateAddresses(config);
  return {
    ...hardening(config),
    name: names.egressContainer,
    role: 'egress',
    image: egressImageSpec(config),
    user: EGRESS_USER,
    command: [],
    env: {
      // The gate link only: never its address on the cell's bridge.
      EGRESS_LISTEN: `${gate.egress}:${EGRESS_PORT}`,
      EGRESS_POLICY_FILE: egressFiles.policy,
      EGRESS_RESOLVER,
      EGRESS_LOG: egressFiles.log,
      EGRESS_PROVIDERS_FILE: egressFiles.providers,
      EGRESS_ADMIN_SOCKET: egressFiles.adminSocket,
      // The moat's whole list (its ranges and moatExtraBlocked): the gate refuses what the moat
      // drops, from the one list, whatever its own built-in copy says.
      EGRESS_EXTRA_BLOCKED: moatBlockedV4(config).join(','),
    },
    secretEnv: {},
    // The keys: into the gate's own volume before it first starts, never into the cell.
    hostGroups: [],
    secretFiles: { [egressFiles.providers]: 'egressProviders' },
    tmpfs: { '/tmp': scratchTmpfs(16, 'mode=1777') },
    memoryMb: 256,
    memorySwapMb: 256,
    cpus: 1,
    pidsLimit: 64,
    init: true,
    // A gate that stays down only cuts the cell off (fail closed); it comes back on its own.
    restart: 'unless-stopped',
    healthcheck: {
      test: ['CMD', 'node', '/app/dist/main.js', '--healthcheck'],
      intervalSeconds: 15,
      timeoutSeconds: 5,
      startPeriodSeconds: 20,
      retries: 3,
    },
    mounts: [{ type: 'volume', source: names.egressStateVolume, target: EGRESS_STATE_DIR, readOnly: false }],
    // The cell's bridge first: its route out (through the moat, from this fixed address only).
    networks: [names.cellNetwork, names.gateNetwork],
    networkMode: null,
    networkAddresses: { [names.cellNetwork]: bridgeAddresses(config).egress, [names.gateNetwork]: gate.egress },
    ports: [],
    // The host's resolvers, through Docker's: the moat lets this address's queries out.
    dns: [],
    // gVisor is the prisoner's option; the gate runs only trusted code under runc.
    runtime: 'runc',
    ipcMode: 'private',
    labels: { [ROLE_LABEL]: 'egress', [STACK_LABEL]: config.namePrefix },
    stopTimeoutSeconds: 10,
  };
}

export { EGRESS_STATE_DIR, egressFiles, egressPolicyReadScript, egressPolicyWriteScript, parseEgressPolicy } from './egressPolicy';
