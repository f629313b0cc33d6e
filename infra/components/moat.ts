// The Moat: the cell's dedicated bridge network and the firewall rules around it.
//
// The rules are created first and the network depends on them, so the bridge never exists
// without its moat; the cell depends on the whole component (infra/index.ts), so it is created
// after both and destroyed before them.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { JailConfig } from '../config';
import { moatChainNames, moatRulesPlan } from '../model/firewall';
import type { NetworkSpec } from '../model';
import { networkArgs } from './dockerArgs';
import { MoatRules, type MoatRulesInputs } from './moatRules';

export interface MoatArgs {
  /** The cell's network (infra/model/network.ts); its bridge name is what the rules hook. */
  network: NetworkSpec;
  rules: MoatRulesInputs;
  provider: docker.Provider;
}

/** The moat's rule inputs for a stack: applied on the stack's Docker host. Pure. */
export function moatRulesInputs(config: JailConfig, network: NetworkSpec): MoatRulesInputs {
  if (network.bridgeName !== config.network.bridgeName) {
    throw new Error(`the cell network's bridge ${network.bridgeName} is not the configured ${config.network.bridgeName}`);
  }
  const { internetFrom } = moatRulesPlan(config, []);
  return {
    target: { dockerHost: config.dockerHost, sudo: config.moat.sudo },
    namePrefix: config.namePrefix,
    bridgeName: network.bridgeName,
    subnet: network.subnet,
    dnsResolvers: config.moat.dnsResolvers,
    exceptions: config.moat.egressExceptions,
    extraBlocked: config.moat.extraBlocked,
    internet: config.cell.egress !== 'none',
    // One source for the allowlist mode's sources: the plan the CLI renders too.
    ...(internetFrom ? { internetFrom } : {}),
    connLimits: { ...config.moat.connLimits },
    bootRestore: config.moat.bootRestore,
  };
}

export class Moat extends pulumi.ComponentResource {
  readonly rules: MoatRules;
  readonly network: docker.Network;
  readonly networkName: pulumi.Output<string>;
  readonly chains: { forward: string; input: string };

  constructor(name: string, args: MoatArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Moat', name, {}, opts);
    if (args.network.bridgeName !== args.rules.bridgeName) {
      throw new Error(`the moat hooks bridge ${args.rules.bridgeName}, but the cell network is ${args.network.bridgeName}`);
    }
    this.chains = moatChainNames(args.rules.namePrefix);
    this.rules = new MoatRules(`${name}-rules`, args.rules, { parent: this });
    this.network = new docker.Network(`${name}-network`, networkArgs(args.network), {
      parent: this,
      provider: args.provider,
      dependsOn: [this.rules],
    });
    this.networkName = this.network.name;
    this.registerOutputs({
      networkName: this.networkName,
      chains: this.chains,
      resolvers: this.rules.resolvers,
    });
  }
}
