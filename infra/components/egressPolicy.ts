// The gate's policy file as a Pulumi resource: written into the running gate (which applies it
// at once, no restart) and read back on refresh. An operator's permanent `clawjail egress allow`
// changes both the stack config and this file, so `pulumi preview --refresh` stays clean; a
// change by any other hand shows up as drift.
//
// Pulumi serializes the provider object with what it references: the pure spec and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { egressPolicyReadScript, egressPolicyWriteScript, parseEgressPolicy } from '../model/egressPolicy';
import { runDockerScript } from './dockerCli';

export interface EgressPolicyInputs {
  dockerHost: string;
  container: string;
  /** The gate container's id: a new container has the file written again. */
  containerId: string;
  allow: string[];
  deny: string[];
}

const sameList = (a: string[] | undefined, b: string[]) => JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...b].sort());

export function egressPolicyDiff(olds: EgressPolicyInputs, news: EgressPolicyInputs): pulumi.dynamic.DiffResult {
  const replaces = (['dockerHost', 'container'] as const).filter((k) => olds[k] !== news[k]);
  const changes = replaces.length > 0 || olds.containerId !== news.containerId || !sameList(olds.allow, news.allow) || !sameList(olds.deny, news.deny);
  return { changes, replaces, deleteBeforeReplace: false };
}

async function write(inputs: EgressPolicyInputs): Promise<EgressPolicyInputs> {
  const doc = { allow: [...new Set(inputs.allow)].sort(), deny: [...new Set(inputs.deny)].sort() };
  const back = parseEgressPolicy(await runDockerScript(inputs.dockerHost, egressPolicyWriteScript(inputs.container, doc)));
  if (back.problem || !sameList(back.allow, doc.allow) || !sameList(back.deny, doc.deny)) {
    throw new Error(`the policy file of ${inputs.container} did not read back as written: ${back.problem ?? JSON.stringify(back)}`);
  }
  return { dockerHost: inputs.dockerHost, container: inputs.container, containerId: inputs.containerId, ...doc };
}

export const egressPolicyProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: EgressPolicyInputs, news: EgressPolicyInputs) {
    return egressPolicyDiff(olds, news);
  },
  async create(inputs: EgressPolicyInputs) {
    return { id: `${inputs.container}@${inputs.dockerHost}`, outs: await write(inputs) };
  },
  async update(_id: string, _olds: EgressPolicyInputs, news: EgressPolicyInputs) {
    return { outs: await write(news) };
  },
  async read(id: string, props: EgressPolicyInputs) {
    // The live file becomes the state (inputs too): a refresh shows what the gate enforces now.
    // A gate that cannot be read (stopped, removed) reads as a policy that differs: drift, not a
    // failed refresh; ContainerStart names the container itself.
    const live = await runDockerScript(props.dockerHost, egressPolicyReadScript(props.container)).then(
      (text) => parseEgressPolicy(text),
      (e: Error) => ({ allow: [], deny: [], problem: `unreadable: ${e.message.split('\n')[0]}` }),
    );
    const state = { ...props, allow: live.allow, deny: live.deny, ...(live.problem ? { containerId: `${props.containerId} (${live.problem})` } : {}) };
    return { id, props: state, inputs: state };
  },
};

export type EgressPolicyArgs = { [K in keyof EgressPolicyInputs]: pulumi.Input<EgressPolicyInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class EgressPolicy extends pulumi.dynamic.Resource {
  declare readonly allow: pulumi.Output<string[]>;
  declare readonly deny: pulumi.Output<string[]>;

  constructor(name: string, args: EgressPolicyArgs, opts?: pulumi.CustomResourceOptions) {
    super(egressPolicyProvider, name, args, opts);
  }
}
