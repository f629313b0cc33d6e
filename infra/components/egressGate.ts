// The EgressGate (clawjail:cellEgress allowlist): the gate link network, the gate's container and
// its policy file. The cell depends on `ready`, so the prisoner never runs before the gate
// enforces the stack's policy (infra/model/egress.ts says why the kernel, not the proxy variables,
// keeps the cell to it).
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ContainerSpec, NetworkSpec } from '../model';
import { networkArgs } from './dockerArgs';
import { EgressPolicy } from './egressPolicy';
import { JailContainer, type JailContainerArgs } from './jailContainer';

/** The proxy: the cell's one way out, and the holder of the model providers' keys. */
export class EgressProxy extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:EgressProxy', name, args, opts);
    this.registerOutputs({ containerName: this.containerName });
  }
}

export interface EgressGateArgs extends Omit<JailContainerArgs, 'spec' | 'image' | 'extraLabels'> {
  gateNetwork: NetworkSpec;
  proxy: ContainerSpec;
  /** The declared policy (infra/model/egress.ts egressPolicyDocument). */
  policy: { allow: string[]; deny: string[] };
}

export class EgressGate extends pulumi.ComponentResource {
  readonly gateNetwork: docker.Network;
  readonly proxy: EgressProxy;
  readonly policy: EgressPolicy;
  /** Done once the gate runs with the stack's policy. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: EgressGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:EgressGate', name, {}, opts);
    const { gateNetwork, proxy, policy, ...common } = args;
    if (!gateNetwork.internal || gateNetwork.options['com.docker.network.bridge.inhibit_ipv4'] !== 'true') {
      throw new Error(`the gate link ${gateNetwork.name} must be internal with no host address: from it the cell may reach the gate only`);
    }
    this.gateNetwork = new docker.Network(`${name}-network`, networkArgs(gateNetwork), { parent: this, provider: args.provider });
    this.proxy = new EgressProxy(`${name}-proxy`, { ...common, spec: proxy, dependsOn: [...args.dependsOn, this.gateNetwork] }, { parent: this });
    this.policy = new EgressPolicy(
      `${name}-policy`,
      {
        dockerHost: args.dockerHost,
        container: this.proxy.containerName,
        containerId: this.proxy.container.id,
        allow: policy.allow,
        deny: policy.deny,
      },
      { parent: this, dependsOn: [this.proxy.started] },
    );
    this.ready = this.policy;
    this.registerOutputs({ gateNetwork: this.gateNetwork.name, proxyContainer: this.proxy.containerName, allow: this.policy.allow });
  }
}
