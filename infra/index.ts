// The clawjail stack: one jail on one Docker host.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_NAMESPACE, parseConfig, type RawConfig } from './config';
import { hostBuildArgs } from './buildArgs';
import { Cell, Gateway } from './components/jailContainer';
import { Moat, moatRulesInputs } from './components/moat';
import { JailVolumes } from './components/volumes';
import { buildJailSpec, gatewayUrl as urlOf, jailNames, type Role } from './spec';

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
const specOf = (role: Role) => {
  const c = spec.containers.find((x) => x.role === role);
  if (!c) throw new Error(`the jail spec has no ${role}`);
  return c;
};

const provider = new docker.Provider('docker', { host: config.dockerHost });
// The cell's bridge and its firewall; the cell is created only after both exist.
const moat = new Moat('moat', {
  network: spec.networks[0],
  rules: moatRulesInputs(config, spec.networks[0]),
  provider,
});
const workspace = new JailVolumes('volumes', { volumes: spec.volumes, provider });
const common = {
  provider,
  dockerHost: config.dockerHost,
  secrets: pulumi.secret(secrets),
  hostBuildArgs: hostBuildArgs(config),
};
// The gateway owns the jail's network namespace, so it starts first; the cell joins it.
const gateway = new Gateway('gateway', { ...common, spec: specOf('gateway'), dependsOn: [moat, workspace] });
const cell = new Cell('cell', {
  ...common,
  spec: specOf('cell'),
  dependsOn: [moat, workspace, gateway.started],
  extraLabels: { 'clawjail.netns-owner': gateway.container.id },
});

export const cellContainer = cell.containerName;
export const cellImage = cell.image.imageName;
export const gatewayContainer = gateway.containerName;
export const gatewayUrl = urlOf(config);
export const gatewayFingerprint = gateway.fingerprint;
/** For `clawjail connect --stack`: `pulumi stack output --show-secrets gatewayToken`. */
export const gatewayToken = pulumi.secret(secrets.gatewayToken);
export const cellNetwork = moat.networkName;
export const moatChains = moat.chains;
export const workspaceLocation = config.cell.workspaceHostPath || names.workspaceVolume;
