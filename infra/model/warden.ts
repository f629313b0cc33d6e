// The warden and its scanner: every file the prisoner writes to the workspace is streamed to clamd;
// malware goes to the jail volume, which only the warden mounts.
//
// Three containers, each with one job and the least it needs for it:
//  - warden: uid 1000 (the owner of every file the prisoner can create, see warden/Dockerfile), the
//    workspace and the jail, and one network: the internal scan network, to reach clamd.
//  - clamd: parses hostile files, so it gets nothing it could leak them through: the internal scan
//    network only (no route out), no workspace, the signatures read-only.
//  - freshclam (clamdSignatures=freshclam): the one part that talks to the internet, through the
//    moat on the cell's bridge (no host, no LAN beyond the stack's egressExceptions); it never
//    sees a prisoner's file.
import type { JailConfig } from '../config';
import { WORKSPACE_DIR } from './cell';
import { bridgeAddresses } from './firewall';
import { jailNames } from './names';
import { ownContextImageSpec, serviceImageSpec } from './images';
import { hardening, type Hardening, scratchTmpfs } from './hardening';
import { ROLE_LABEL, type ContainerSpec, type ImageSpec, type NetworkSpec, type Role, STACK_LABEL } from './types';

/** The prisoner's uid: see warden/Dockerfile for why the warden shares it. */
export const WARDEN_USER = '1000:1000';
export const WARDEN_QUARANTINE_DIR = '/quarantine';
export const WARDEN_HEALTH_PORT = 8079;
/** The warden's health report, on a volume of its own that the sentry mounts read-only. */
export const WARDEN_HEALTH_DIR = '/run/warden-health';
export const WARDEN_HEALTH_FILE = `${WARDEN_HEALTH_DIR}/health.json`;
/** Fixed in warden/clamd/Dockerfile. */
export const CLAMD_USER = '10310:10310';
export const CLAMD_PORT = 3310;
/**
 * clamd's ReadTimeout, told to the warden too: its scans (WARDEN_SCAN_TIMEOUT_MS, 120 s) run in
 * clamd sessions only when they end well before it (warden/src/clamdClient.ts).
 */
export const CLAMD_READ_TIMEOUT_S = 300;
export const SIGNATURE_DIR = '/var/lib/clamav';
/** How long clamd waits for freshclam's first download before it exits (and is restarted). */
const CLAMD_DB_WAIT_S = 1800;

export function scanNetworkSpec(config: JailConfig): NetworkSpec {
  return {
    name: jailNames(config).scanNetwork,
    bridgeName: config.network.scanBridgeName,
    subnet: config.network.scanSubnet,
    internal: true,
    // The warden must reach clamd; nothing else is on this network.
    interContainer: true,
    ipv6: false,
    options: {
      'com.docker.network.bridge.name': config.network.scanBridgeName,
      'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      // An internal network still gives its bridge a host address, and the host answers there:
      // a clamd exploited by a hostile file could reach every host service on 0.0.0.0. Without
      // it the warden and clamd still reach each other (one L2 segment) and nothing else.
      'com.docker.network.bridge.inhibit_ipv4': 'true',
    },
    labels: { [STACK_LABEL]: config.namePrefix },
  };
}

export const wardenImageSpec = (config: JailConfig): ImageSpec => serviceImageSpec(jailNames(config).wardenImage, 'warden', config.nodeBaseImage);
export const clamdImageSpec = (config: JailConfig): ImageSpec =>
  ownContextImageSpec(jailNames(config).clamdImage, 'warden/clamd', { BASE_IMAGE: config.debianBaseImage });

/** What the warden's services share besides the jail's hardening: no secrets, no ports, always restarted. */
export function serviceBase(config: JailConfig, role: Role, name: string): Hardening & Pick<
  ContainerSpec,
  'name' | 'role' | 'secretEnv' | 'secretFiles' | 'init' | 'restart' | 'networkMode' | 'ports' | 'runtime' | 'ipcMode' | 'labels' | 'hostGroups'
> {
  return {
    ...hardening(config),
    name,
    role,
    secretEnv: {},
    secretFiles: {},
    hostGroups: [],
    init: true,
    // The warden's services always come back: a scanner that stays down is a hole.
    restart: 'unless-stopped',
    networkMode: null,
    ports: [],
    // gVisor is the prisoner's option; these run only trusted code under runc.
    runtime: 'runc',
    ipcMode: 'private',
    labels: { [ROLE_LABEL]: role, [STACK_LABEL]: config.namePrefix },
  };
}

export function wardenContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const w = config.warden;
  return {
    ...serviceBase(config, 'warden', names.wardenContainer),
    image: wardenImageSpec(config),
    user: WARDEN_USER,
    command: [],
    env: {
      WARDEN_WATCH: WORKSPACE_DIR,
      WARDEN_QUARANTINE: WARDEN_QUARANTINE_DIR,
      WARDEN_CLAMD: `tcp://${names.clamdContainer}:${CLAMD_PORT}`,
      WARDEN_UNSCANNABLE: w.unscannable,
      WARDEN_MAX_FILE_SIZE: `${w.maxFileSizeMb}M`,
      WARDEN_CONCURRENCY: 'auto',
      WARDEN_CLAMD_READ_TIMEOUT_S: String(CLAMD_READ_TIMEOUT_S),
      WARDEN_HEALTH_PORT: String(WARDEN_HEALTH_PORT),
      WARDEN_HEALTH_HOST: '127.0.0.1',
      WARDEN_HEALTH_FILE,
    },
    tmpfs: { '/tmp': scratchTmpfs(16, 'mode=1777') },
    memoryMb: 512,
    memorySwapMb: 512,
    cpus: 1,
    pidsLimit: 64,
    healthcheck: {
      test: ['CMD', 'node', '/app/dist/main.js', '--healthcheck'],
      intervalSeconds: 15,
      timeoutSeconds: 5,
      startPeriodSeconds: 60,
      retries: 3,
    },
    mounts: [
      {
        type: config.cell.workspaceHostPath ? 'bind' : 'volume',
        source: config.cell.workspaceHostPath || names.workspaceVolume,
        target: WORKSPACE_DIR,
        readOnly: false,
      },
      { type: 'volume', source: names.quarantineVolume, target: WARDEN_QUARANTINE_DIR, readOnly: false },
      { type: 'volume', source: names.wardenHealthVolume, target: WARDEN_HEALTH_DIR, readOnly: false },
    ],
    networks: [names.scanNetwork],
    // Container names resolve inside Docker's resolver; nothing else needs resolving, so nothing
    // is forwarded out.
    dns: ['127.0.0.1'],
    stopTimeoutSeconds: 10,
  };
}

/** clamd's PING over bash's /dev/tcp: the image carries no other client. */
function clamdPingProbe(): string[] {
  const script = `exec 3<>/dev/tcp/127.0.0.1/${CLAMD_PORT} && printf 'zPING\\0' >&3 && IFS= read -r -d '' r <&3 && [ "$r" = PONG ]`;
  return ['CMD', 'bash', '-c', script];
}

export function clamdContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  const w = config.warden;
  // INSTREAM spools every stream in flight into /tmp before scanning it.
  const spoolMb = w.clamdThreads * w.maxFileSizeMb + 64;
  return {
    ...serviceBase(config, 'clamd', names.clamdContainer),
    image: clamdImageSpec(config),
    user: CLAMD_USER,
    command: ['clamd'],
    env: {
      CLAMD_SIGNATURES: 'custom',
      CLAMD_DB_DIR: SIGNATURE_DIR,
      CLAMD_DB_WAIT_S: String(w.signatures === 'freshclam' ? CLAMD_DB_WAIT_S : 0),
      CLAMD_PORT: String(CLAMD_PORT),
      CLAMD_MAX_THREADS: String(w.clamdThreads),
      CLAMD_STREAM_MAX: `${w.maxFileSizeMb}M`,
      CLAMD_MAX_FILE_SIZE: `${w.maxFileSizeMb}M`,
      CLAMD_MAX_SCAN_SIZE: `${Math.max(4 * w.maxFileSizeMb, 400)}M`,
      CLAMD_SELF_CHECK_S: '300',
      CLAMD_READ_TIMEOUT_S: String(CLAMD_READ_TIMEOUT_S),
      CLAMD_TMP: '/tmp',
    },
    tmpfs: { '/tmp': scratchTmpfs(spoolMb, 'mode=1777') },
    memoryMb: w.clamdMemoryMb,
    memorySwapMb: w.clamdMemoryMb,
    cpus: Math.min(w.clamdThreads, 4),
    pidsLimit: 64 + w.clamdThreads,
    healthcheck: {
      test: clamdPingProbe(),
      intervalSeconds: 15,
      timeoutSeconds: 5,
      // Loading the official signatures takes a minute or more; the first download much longer.
      startPeriodSeconds: w.signatures === 'freshclam' ? CLAMD_DB_WAIT_S : 300,
      retries: 3,
    },
    mounts: [{ type: 'volume', source: names.signatureVolume, target: SIGNATURE_DIR, readOnly: true }],
    networks: [names.scanNetwork],
    dns: ['127.0.0.1'],
    stopTimeoutSeconds: 10,
  };
}

export function freshclamContainerSpec(config: JailConfig): ContainerSpec {
  const names = jailNames(config);
  return {
    ...serviceBase(config, 'freshclam', names.freshclamContainer),
    image: clamdImageSpec(config),
    user: CLAMD_USER,
    command: ['freshclam'],
    env: {
      CLAMD_DATABASE_MIRROR: config.warden.databaseMirror,
      CLAMD_FRESHCLAM_CHECKS: '12',
      CLAMD_TMP: '/tmp',
    },
    tmpfs: { '/tmp': scratchTmpfs(16, 'mode=1777') },
    // freshclam test-loads every new database before it keeps it: as much memory as clamd's.
    memoryMb: config.warden.clamdMemoryMb,
    memorySwapMb: config.warden.clamdMemoryMb,
    cpus: 0.5,
    pidsLimit: 32,
    healthcheck: {
      test: ['CMD', 'sh', '-c', `ls ${SIGNATURE_DIR} | grep -Eq '[.]c[lv]d$'`],
      intervalSeconds: 60,
      timeoutSeconds: 5,
      startPeriodSeconds: 1800,
      retries: 3,
    },
    mounts: [{ type: 'volume', source: names.signatureVolume, target: SIGNATURE_DIR, readOnly: false }],
    // The moat's bridge: internet (and the stack's egressExceptions), never the rest of the LAN or
    // the host; its icc=false keeps it and the cell apart.
    networks: [names.cellNetwork],
    // With cellEgress allowlist the moat lets only this fixed address (and the gate's) out.
    ...(config.cell.egress === 'allowlist' ? { networkAddresses: { [names.cellNetwork]: bridgeAddresses(config).freshclam } } : {}),
    dns: [],
    stopTimeoutSeconds: 10,
  };
}

/** In start order: the signatures, the scanner, then the warden (before the prisoner). */
export function wardenContainerSpecs(config: JailConfig): ContainerSpec[] {
  return [
    ...(config.warden.signatures === 'freshclam' ? [freshclamContainerSpec(config)] : []),
    clamdContainerSpec(config),
    wardenContainerSpec(config),
  ];
}
