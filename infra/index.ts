// The clawjail stack: one jail on one Docker host.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_NAMESPACE, parseConfig, type RawConfig } from './config';
import { hostBuildArgs } from './buildArgs';
import { EgressGate } from './components/egressGate';
import { Cell, Gateway } from './components/jailContainer';
import { Moat, moatRulesInputs } from './components/moat';
import { QuarantineMigration } from './components/quarantineMigration';
import { JailVolumes } from './components/volumes';
import { CappedStores } from './components/stores';
import { Warden } from './components/warden';
import { legacyQuarantineVolume } from './model/quarantineMigration';
import { buildJailSpec, egressPolicyDocument, gatewayLoginUrl as loginUrlOf, gatewayUrl as urlOf, gateProxyUrl, jailNames, type Role } from './model';

/** The `clawjail:*` values of the stack, keys without the namespace. */
function rawStackConfig(): RawConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
  }
  return raw;
}

const raw = rawStackConfig();
// The model keys must be encrypted in the stack file: a key written in plain text would sit in
// the repository checkout and in every copy of the stack file.
const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
if (raw.modelKeys !== undefined && isConfigSecret && !isConfigSecret(`${CONFIG_NAMESPACE}:modelKeys`)) {
  throw new Error(`${CONFIG_NAMESPACE}:modelKeys must be a secret: pulumi config set --secret --path ${CONFIG_NAMESPACE}:modelKeys.<provider> <key>`);
}
const { config, secrets } = parseConfig(raw);
const spec = buildJailSpec(config);
const names = jailNames(config);
const specIfAny = (role: Role) => spec.containers.find((x) => x.role === role);
const specOf = (role: Role) => {
  const c = specIfAny(role);
  if (!c) throw new Error(`the jail spec has no ${role}`);
  return c;
};
const networkOf = (name: string) => {
  const n = spec.networks.find((x) => x.name === name);
  if (!n) throw new Error(`the jail spec has no network ${name}`);
  return n;
};

const provider = new docker.Provider('docker', { host: config.dockerHost });
// The cell's bridge and its firewall; the cell is created only after both exist.
const cellNet = networkOf(names.cellNetwork);
const moat = new Moat('moat', { network: cellNet, rules: moatRulesInputs(config, cellNet), provider });
const volumes = new JailVolumes('volumes', { volumes: spec.volumes, provider });
const common = {
  provider,
  dockerHost: config.dockerHost,
  secrets: pulumi.secret(secrets),
  hostBuildArgs: hostBuildArgs(config),
};
// An earlier version's quarantine volume, copied into the new one before the warden mounts it.
const migration = new QuarantineMigration(
  'quarantine-migration',
  { dockerHost: config.dockerHost, namePrefix: config.namePrefix, from: legacyQuarantineVolume(config.namePrefix), to: names.quarantineVolume, image: config.nodeBaseImage },
  { dependsOn: [volumes] },
);
// The workspace and the quarantine on filesystems of their own, of fixed size (infra/model/stores.ts),
// mounted before anything that writes to them starts.
const storeList = spec.stores;
const stores = storeList.length
  ? new CappedStores('stores', { target: { dockerHost: config.dockerHost, sudo: config.moat.sudo }, namePrefix: config.namePrefix, stores: storeList }, { dependsOn: [volumes, migration] })
  : undefined;
const storage = [volumes, migration, ...(stores ? [stores] : [])];
// freshclam sits on the moated cell bridge, so the warden too waits for the moat.
const warden = new Warden('warden', {
  ...common,
  scanNetwork: networkOf(names.scanNetwork),
  freshclam: specIfAny('freshclam'),
  clamd: specOf('clamd'),
  warden: specOf('warden'),
  sentry: specOf('sentry'),
  dependsOn: [moat, ...storage],
});
// cellEgress allowlist: the gate, its link network and its policy, before the gateway (which
// joins that network) and the cell (which must find the policy enforced).
const gate =
  config.cell.egress === 'allowlist'
    ? new EgressGate('egress', {
        ...common,
        gateNetwork: networkOf(names.gateNetwork),
        proxy: specOf('egress'),
        policy: egressPolicyDocument(config),
        dependsOn: [moat, volumes],
      })
    : undefined;
// The gateway owns the jail's network namespace, so it starts first; the cell joins it.
const gateway = new Gateway('gateway', { ...common, spec: specOf('gateway'), dependsOn: [moat, volumes, ...(gate ? [gate.gateNetwork] : [])] });
const cell = new Cell('cell', {
  ...common,
  spec: specOf('cell'),
  // The warden watches the workspace before the prisoner can write to it.
  dependsOn: [moat, ...storage, warden.started, gateway.started, ...(gate ? [gate.ready] : [])],
  extraLabels: { 'clawjail.netns-owner': gateway.container.id },
});

export const cellContainer = cell.containerName;
export const cellImage = cell.image.name;
export const gatewayContainer = gateway.containerName;
export const gatewayUrl = urlOf(config);
/** Where a browser logs in (the gateway's own origin; the dashboard is on gatewayUrl's). */
export const gatewayLoginUrl = loginUrlOf(config);
export const gatewayFingerprint = gateway.fingerprint;
/** For `clawjail connect --stack`: `pulumi stack output --show-secrets gatewayToken`. */
export const gatewayToken = pulumi.secret(secrets.gatewayToken);
export const cellNetwork = moat.networkName;
export const moatChains = moat.chains;
export const workspaceLocation = config.cell.workspaceHostPath || names.workspaceVolume;
export const wardenContainer = warden.warden.containerName;
export const clamdContainer = warden.clamd.containerName;
/** Freezes the cell while the warden is down. */
export const sentryContainer = warden.sentry.containerName;
export const scanNetwork = warden.scanNetwork.name;
/** For `clawjail quarantine --stack`: the volume that holds the quarantine and the audit log. */
export const quarantineVolume = names.quarantineVolume;
/** The capped stores: which directory is which image of what size (clawjail:workspaceSizeMb, quarantineSizeMb). */
export const cappedStoreImages = Object.fromEntries(storeList.map((s) => [s.name, `${s.image} (${s.sizeMb} MiB, ${s.inodes} inodes)`]));
/** What became of an earlier version's `<prefix>-jail` volume: none, not-ours, copied, done-before. */
export const quarantineMigration = migration.outcome;
/** cellEgress allowlist: the gate's container, the proxy URL the cell uses, the policy it enforces. */
export const egressContainer = gate?.proxy.containerName;
export const egressProxyUrl = gate ? gateProxyUrl(config) : undefined;
export const egressAllow = gate?.policy.allow;
