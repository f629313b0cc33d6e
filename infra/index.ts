// The clawjail stack: one jail on one Docker host.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_NAMESPACE, parseConfig, type RawConfig } from './config';
import { hostBuildArgs } from './buildArgs';
import { Cell } from './components/cell';
import { CellNetwork } from './components/network';
import { Workspace } from './components/workspace';
import { buildJailSpec, jailNames } from './spec';

/** The `clawjail:*` values of the stack, keys without the namespace. */
function rawStackConfig(): RawConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
  }
  return raw;
}

const { config, secrets } = parseConfig(rawStackConfig());
const spec = buildJailSpec(config);
const names = jailNames(config);
const cellSpec = spec.containers.find((c) => c.role === 'cell');
if (!cellSpec) throw new Error('the jail spec has no cell');

const provider = new docker.Provider('docker', { host: config.dockerHost });
const network = new CellNetwork('cell', { spec: spec.networks[0], provider });
const workspace = new Workspace('workspace', { volumes: spec.volumes, provider });
const cell = new Cell('cell', {
  spec: cellSpec,
  provider,
  dockerHost: config.dockerHost,
  secrets: pulumi.secret(secrets),
  hostBuildArgs: hostBuildArgs(config),
  dependsOn: [network, workspace],
});

export const cellContainer = cell.containerName;
export const cellImage = cell.image.imageName;
export const cellNetwork = network.name;
export const workspaceLocation = config.cell.workspaceHostPath || names.workspaceVolume;
