// The cell's dedicated bridge. The moat's firewall rules hang off its Linux bridge name.
import type { JailConfig } from '../config';
import { jailNames } from './names';
import { STACK_LABEL, type NetworkSpec } from './types';

export function cellNetworkSpec(config: JailConfig): NetworkSpec {
  return {
    name: jailNames(config).cellNetwork,
    bridgeName: config.network.bridgeName,
    subnet: config.network.subnet,
    internal: config.cell.egress === 'none',
    interContainer: false,
    ipv6: false,
    options: {
      'com.docker.network.bridge.name': config.network.bridgeName,
      // No container on the cell's bridge may talk to another one.
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
    labels: { [STACK_LABEL]: config.namePrefix },
  };
}
