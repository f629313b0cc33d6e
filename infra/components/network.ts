// The cell's dedicated bridge network.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { NetworkSpec } from '../spec';
import { networkArgs } from './dockerArgs';

export interface CellNetworkArgs {
  spec: NetworkSpec;
  provider: docker.Provider;
}

export class CellNetwork extends pulumi.ComponentResource {
  readonly network: docker.Network;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: CellNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:CellNetwork', name, {}, opts);
    this.network = new docker.Network(`${name}-network`, networkArgs(args.spec), {
      parent: this,
      provider: args.provider,
    });
    this.name = this.network.name;
    this.registerOutputs({ name: this.name });
  }
}
