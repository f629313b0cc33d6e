// The gid of the engine socket's group on the Docker host, as a Pulumi resource: read when the
// sentry is first created and at every refresh, so a host whose docker group changed shows as
// drift and `up --refresh` recreates the sentry with the new gid.
//
// Pulumi serializes the provider object with what it references: the pure model and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { engineSocketGidScript, parseGid } from '../model/hostGroups';
import { runDockerScript } from './dockerCli';

export interface HostGroupsInputs {
  dockerHost: string;
  /** The engine socket's path on the Docker host. */
  socketPath: string;
  /** An image of the jail's own to run the stat in (the warden's). */
  image: string;
}

interface HostGroupsOutputs extends HostGroupsInputs {
  engineSocketGid: string;
}

async function readGid(i: HostGroupsInputs): Promise<string> {
  return parseGid(await runDockerScript(i.dockerHost, engineSocketGidScript(i.image, i.socketPath)), `${i.socketPath} on ${i.dockerHost}`);
}

export const hostGroupsProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: HostGroupsOutputs, news: HostGroupsInputs) {
    const replaces = (['dockerHost', 'socketPath'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0 || olds.image !== news.image, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: HostGroupsInputs) {
    const outs: HostGroupsOutputs = { ...inputs, engineSocketGid: await readGid(inputs) };
    return { id: `${inputs.socketPath}@${inputs.dockerHost}`, outs };
  },
  async update(_id: string, _olds: HostGroupsOutputs, news: HostGroupsInputs) {
    return { outs: { ...news, engineSocketGid: await readGid(news) } };
  },
  async read(id: string, props: HostGroupsOutputs) {
    return { id, props: { ...props, engineSocketGid: await readGid(props) } };
  },
};

export type HostGroupsArgs = { [K in keyof HostGroupsInputs]: pulumi.Input<HostGroupsInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class HostGroups extends pulumi.dynamic.Resource {
  declare readonly engineSocketGid: pulumi.Output<string>;

  constructor(name: string, args: HostGroupsArgs, opts?: pulumi.CustomResourceOptions) {
    super(hostGroupsProvider, name, { ...args, engineSocketGid: undefined }, opts);
  }
}
