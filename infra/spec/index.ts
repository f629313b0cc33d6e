// Config in, the whole jail out: no Pulumi, no I/O. The Pulumi components and the end-to-end
// deployer both realise exactly this object.
import type { JailConfig } from '../config';
import { cellContainerSpec } from './cell';
import { gatewayContainerSpec } from './gateway';
import { jailNames } from './names';
import { cellNetworkSpec } from './network';
import type { JailSpec } from './types';

export function buildJailSpec(config: JailConfig): JailSpec {
  const names = jailNames(config);
  const labels = { 'clawjail.stack': config.namePrefix };
  const gateway = gatewayContainerSpec(config);
  const cell = cellContainerSpec(config);
  return {
    namePrefix: config.namePrefix,
    dockerHost: config.dockerHost,
    images: [gateway.image, cell.image],
    networks: [cellNetworkSpec(config)],
    volumes: [
      ...(config.cell.workspaceHostPath ? [] : [{ name: names.workspaceVolume, labels }]),
      { name: names.gatewayStateVolume, labels },
    ],
    // In start order: the cell joins the gateway's network namespace.
    containers: [gateway, cell],
  };
}

export * from './types';
export { jailNames, JAIL_VERSION } from './names';
export { gatewayUrl, GATEWAY_INTERNAL_PORT } from './gateway';
export { gatewayFingerprintScript, pidsLimitScript, shellQuote } from './pids';
