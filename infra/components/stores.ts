// The capped stores (infra/model/stores.ts) as a Pulumi resource: a dynamic provider, because the
// mounts live on the Docker host and Pulumi must read them back (`preview --refresh` shows a store
// left unmounted, `up --refresh` mounts it again).
//
//   create/update  make each image (once), move what the directory holds into it, mount it, and
//                  read back: fail unless every store is capped as declared
//   diff           the declared stores against what is mounted now (read live, every time)
//   read           what is mounted where, from which image, of what size
//   delete         nothing: the stores hold the workspace and the quarantine, which outlive the
//                  stack like their volumes (renderReleaseScript undoes them, by hand)
//
// Pulumi serializes the provider object with what it references: the pure model and ./moatExec.
import * as pulumi from '@pulumi/pulumi';
import type { MoatTarget } from '../model/moatHost';
import { parseReadOutput, renderApplyScript, renderReadScript, storesInSync, type CappedStore, type StoreState } from '../model/stores';
import { runOnHost } from './moatExec';

export interface CappedStoresInputs {
  target: MoatTarget;
  namePrefix: string;
  stores: CappedStore[];
}

interface CappedStoresState extends CappedStoresInputs {
  live: Record<string, StoreState>;
}

async function readLive(i: CappedStoresInputs): Promise<Record<string, StoreState>> {
  return parseReadOutput(await runOnHost(i.target, renderReadScript(i.target.dockerHost, i.stores)));
}

async function apply(i: CappedStoresInputs): Promise<CappedStoresState> {
  await runOnHost(i.target, renderApplyScript(i.target.dockerHost, i.namePrefix, i.stores), 30 * 60_000);
  const live = await readLive(i);
  if (!storesInSync(i.stores, live)) throw new Error(`the capped stores are not as declared after applying them: ${JSON.stringify(live)}`);
  return { ...i, live };
}

export const cappedStoresProvider: pulumi.dynamic.ResourceProvider = {
  // The live mounts are read at every diff, not only at a refresh: a store left unmounted (a
  // reboot, a volume removed and made again by Docker) is applied again by a plain `pulumi up`.
  async diff(_id: string, olds: CappedStoresState, news: CappedStoresInputs) {
    const replaces = olds.target?.dockerHost !== news.target.dockerHost ? ['target'] : [];
    const live = await readLive(news);
    const changes = replaces.length > 0 || JSON.stringify(olds.stores) !== JSON.stringify(news.stores) || !storesInSync(news.stores, live);
    return { changes, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: CappedStoresInputs) {
    return { id: `${inputs.namePrefix}-stores@${inputs.target.dockerHost}`, outs: await apply(inputs) };
  },
  async update(_id: string, _olds: CappedStoresState, news: CappedStoresInputs) {
    return { outs: await apply(news) };
  },
  async read(id: string, props: CappedStoresState) {
    return { id, props: { ...props, live: await readLive(props) } };
  },
};

export type CappedStoresArgs = { [K in keyof CappedStoresInputs]: pulumi.Input<CappedStoresInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`. */
export class CappedStores extends pulumi.dynamic.Resource {
  declare readonly live: pulumi.Output<Record<string, StoreState>>;

  constructor(name: string, args: CappedStoresArgs, opts?: pulumi.CustomResourceOptions) {
    super(cappedStoresProvider, name, { ...args, live: undefined }, opts);
  }
}
