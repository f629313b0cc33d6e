// Config in, the whole jail out: no Pulumi, no I/O. The Pulumi components and the end-to-end
// deployer both realise exactly this object.
import type { JailConfig } from '../config';
import { cellContainerSpec } from './cell';
import { egressContainerSpec, gateNetworkSpec } from './egress';
import { gatewayContainerSpec } from './gateway';
import { jailNames } from './names';
import { cellNetworkSpec } from './network';
import { STACK_LABEL, type ImageSpec, type JailSpec } from './types';
import { scanNetworkSpec, wardenContainerSpecs } from './warden';
import { sentryContainerSpec } from './sentry';
import { cappedStores } from './stores';

/** Each image once, in first-use order (clamd and freshclam share one). */
function uniqueImages(images: ImageSpec[]): ImageSpec[] {
  return [...new Map(images.map((i) => [i.name, i])).values()];
}

export function buildJailSpec(config: JailConfig): JailSpec {
  const names = jailNames(config);
  const labels = { [STACK_LABEL]: config.namePrefix };
  const gateway = gatewayContainerSpec(config);
  const cell = cellContainerSpec(config);
  const warden = wardenContainerSpecs(config);
  const gated = config.cell.egress === 'allowlist';
  // In start order: the warden is watching before the prisoner runs and the sentry is there to
  // freeze it, the gate is up before anything uses it, and the cell joins the gateway's network
  // namespace.
  const containers = [...warden, sentryContainerSpec(config), ...(gated ? [egressContainerSpec(config)] : []), gateway, cell];
  return {
    namePrefix: config.namePrefix,
    dockerHost: config.dockerHost,
    stores: cappedStores(config),
    images: uniqueImages(containers.map((c) => c.image)),
    // The cell's (moated) bridge first: the Moat component takes it.
    networks: [cellNetworkSpec(config), scanNetworkSpec(config), ...(gated ? [gateNetworkSpec(config)] : [])],
    volumes: [
      ...(config.cell.workspaceHostPath ? [] : [{ name: names.workspaceVolume, labels }]),
      { name: names.gatewayStateVolume, labels },
      { name: names.quarantineVolume, labels },
      { name: names.signatureVolume, labels },
      { name: names.wardenHealthVolume, labels },
      ...(gated ? [{ name: names.egressStateVolume, labels }] : []),
    ],
    containers,
  };
}

export * from './types';
export { jailNames, JAIL_VERSION } from './names';
export { gatewayLoginUrl, gatewayUrl, GATEWAY_INTERNAL_PORT, GATEWAY_LOGIN_INTERNAL_PORT } from './gateway';
export { egressPolicyDocument, egressFiles, gateProxyUrl, EGRESS_STATE_DIR } from './egress';
export { CLAMD_PORT, SIGNATURE_DIR, WARDEN_HEALTH_FILE, WARDEN_QUARANTINE_DIR } from './warden';
export { cappedStores, renderApplyScript as renderStoresApplyScript, renderReleasePrefixScript, renderReadScript as renderStoresReadScript, parseReadOutput as parseStoresReadOutput, STORE_ROOT, type CappedStore, type StoreState } from './stores';
export { ENGINE_SOCKET_GROUP, engineSocketPath, SENTRY_COMMAND, SENTRY_USER } from './sentry';
export { containerRunStateScript, waitHealthyScript, gatewayFingerprintScript, parseContainerRunState, pidsLimitScript, type ContainerRunState } from './pids';
export { shellQuote } from './shell';
