// The fingerprint of the certificate the gateway made at its first start, as a Pulumi resource:
// read once the gateway is healthy (serving that certificate), again whenever the gateway
// container is replaced. A dynamic provider (no @pulumi/command): nothing but the docker CLI.
//
// Pulumi serializes the provider object with what it references: the pure spec and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { gatewayFingerprintScript } from '../model/pids';
import { runDockerScript } from './dockerCli';

export interface GatewayFingerprintInputs {
  dockerHost: string;
  container: string;
  /** The gateway container's id: a new container (new certificate volume or not) is read again. */
  containerId: string;
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

export const gatewayFingerprintProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: GatewayFingerprintInputs, news: GatewayFingerprintInputs) {
    const replaces = (['dockerHost', 'container', 'containerId'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: GatewayFingerprintInputs) {
    const fingerprint = (await runDockerScript(inputs.dockerHost, gatewayFingerprintScript(inputs.container))).trim();
    if (!FINGERPRINT.test(fingerprint)) {
      throw new Error(`${inputs.container} printed no SHA-256 fingerprint: ${JSON.stringify(fingerprint.slice(0, 200))}`);
    }
    const outs = { dockerHost: inputs.dockerHost, container: inputs.container, containerId: inputs.containerId, fingerprint };
    return { id: `${inputs.container}@${inputs.dockerHost}`, outs };
  },
};

export type GatewayFingerprintArgs = { [K in keyof GatewayFingerprintInputs]: pulumi.Input<GatewayFingerprintInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class GatewayFingerprint extends pulumi.dynamic.Resource {
  declare readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: GatewayFingerprintArgs, opts?: pulumi.CustomResourceOptions) {
    super(gatewayFingerprintProvider, name, { ...args, fingerprint: undefined }, opts);
  }
}
