// Starts a container of the jail once its pids limit is set, as a Pulumi resource that reads the
// container back: a dynamic provider, because @pulumi/docker's Container has no pids field and
// cannot express "created stopped, limited, then started", and because @pulumi/command's Command
// cannot see drift. With `read`, `pulumi preview --refresh` shows a container stopped by hand, or
// with its pids limit changed, and `pulumi up --refresh` starts it again under its limit.
//
//   create/update  `docker update --pids-limit`, read back, `docker start` (infra/model/pids.ts)
//   read           the container's id, running state and pids limit on its engine
//   diff           a different container (id) is a replacement; stopped or another limit, an update
//   delete         nothing: the container itself belongs to its docker.Container resource
//
// Pulumi serializes the provider object with what it references: the pure spec and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { containerRunStateScript, parseContainerRunState, pidsLimitScript } from '../model/pids';
import { runDockerScript } from './dockerCli';

export interface ContainerStartInputs {
  dockerHost: string;
  /** The container's name. */
  container: string;
  /** The docker.Container's id: a new container means a new start. */
  containerId: string;
  pidsLimit: number;
}

export interface ContainerStartState extends ContainerStartInputs {
  /** As applied, or as read back by a refresh. */
  running: boolean;
  livePidsLimit: number;
}

/** Pure: the state (after a refresh: live) against the declared inputs. */
export function containerStartDiff(olds: ContainerStartState, news: ContainerStartInputs): pulumi.dynamic.DiffResult {
  const replaces = (['dockerHost', 'container', 'containerId'] as const).filter((k) => olds[k] !== news[k]);
  const changes = replaces.length > 0 || !olds.running || olds.livePidsLimit !== news.pidsLimit || olds.pidsLimit !== news.pidsLimit;
  return { changes, replaces, deleteBeforeReplace: false };
}

async function start(i: ContainerStartInputs): Promise<ContainerStartState> {
  await runDockerScript(i.dockerHost, pidsLimitScript(i.container, i.pidsLimit));
  const live = parseContainerRunState(await runDockerScript(i.dockerHost, containerRunStateScript(i.container)));
  if (!live.running || live.pidsLimit !== i.pidsLimit) {
    throw new Error(`${i.container} on ${i.dockerHost} is ${live.running ? 'running' : 'not running'} with pids limit ${live.pidsLimit} after its start; wanted running with ${i.pidsLimit}`);
  }
  return {
    dockerHost: i.dockerHost,
    container: i.container,
    containerId: i.containerId,
    pidsLimit: i.pidsLimit,
    running: true,
    livePidsLimit: live.pidsLimit,
  };
}

export const containerStartProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: ContainerStartState, news: ContainerStartInputs) {
    return containerStartDiff(olds, news);
  },
  async create(inputs: ContainerStartInputs) {
    return { id: `${inputs.container}@${inputs.dockerHost}`, outs: await start(inputs) };
  },
  async read(id: string, props: ContainerStartState) {
    const live = parseContainerRunState(await runDockerScript(props.dockerHost, containerRunStateScript(props.container)));
    // A container removed by hand takes its start with it; a replaced one is another container.
    if (!live.exists || live.id !== props.containerId) return {};
    const state: ContainerStartState = { ...props, running: live.running, livePidsLimit: live.pidsLimit };
    return { id, props: state, inputs: state };
  },
  async update(_id: string, _olds: ContainerStartState, news: ContainerStartInputs) {
    return { outs: await start(news) };
  },
};

export type ContainerStartArgs = { [K in keyof ContainerStartInputs]: pulumi.Input<ContainerStartInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class ContainerStart extends pulumi.dynamic.Resource {
  declare readonly running: pulumi.Output<boolean>;
  declare readonly livePidsLimit: pulumi.Output<number>;

  constructor(name: string, args: ContainerStartArgs, opts?: pulumi.CustomResourceOptions) {
    super(containerStartProvider, name, { ...args, running: undefined, livePidsLimit: undefined }, opts);
  }
}
