// A container of the jail healthy by Docker's own healthcheck, as a Pulumi resource: what must be
// proven working before something that relies on it starts (the sentry, before the cell it
// guards). Waited for when created and whenever the container is replaced; a dynamic provider
// with nothing but the docker CLI.
//
// Pulumi serializes the provider object with what it references: the pure model and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { waitHealthyScript } from '../model/pids';
import { runDockerScript } from './dockerCli';

export interface ContainerHealthyInputs {
  dockerHost: string;
  container: string;
  /** The container's id: a new container is waited for again. */
  containerId: string;
}

export const containerHealthyProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: ContainerHealthyInputs, news: ContainerHealthyInputs) {
    const replaces = (['dockerHost', 'container', 'containerId'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: ContainerHealthyInputs) {
    await runDockerScript(inputs.dockerHost, waitHealthyScript(inputs.container));
    return { id: `${inputs.container}@${inputs.dockerHost}`, outs: { ...inputs } };
  },
};

export type ContainerHealthyArgs = { [K in keyof ContainerHealthyInputs]: pulumi.Input<ContainerHealthyInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class ContainerHealthy extends pulumi.dynamic.Resource {
  constructor(name: string, args: ContainerHealthyArgs, opts?: pulumi.CustomResourceOptions) {
    super(containerHealthyProvider, name, { ...args }, opts);
  }
}
