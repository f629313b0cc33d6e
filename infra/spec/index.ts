// Config in, the whole jail out: no Pulumi, no I/O. The Pulumi components and the end-to-end
// deployer both realise exactly this object.
import type { JailConfig } from '../config';
import { cellContainerSpec } from './cell';
import { jailNames } from './names';
import { cellNetworkSpec } from './network';
import type { JailSpec } from './types';

export function buildJailSpec(config: JailConfig): JailSpec {
  const cell = cellContainerSpec(config);
  return {
    namePrefix: config.namePrefix,
    dockerHost: config.dockerHost,
    images: [cell.image],
    networks: [cellNetworkSpec(config)],
    volumes: config.cell.workspaceHostPath
      ? []
      : [{ name: jailNames(config).workspaceVolume, labels: { 'clawjail.stack': config.namePrefix } }],
    containers: [cell],
  };
}

export * from './types';
export { jailNames } from './names';
export { pidsLimitScript, shellQuote } from './pids';
