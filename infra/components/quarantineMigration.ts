// The one-time copy of an earlier version's quarantine volume (`<prefix>-jail`) into the stack's
// (`<prefix>-quarantine`), before the warden first mounts it (infra/model/quarantineMigration.ts).
// A dynamic provider: it runs once, at create; the old volume is never written or removed.
//
// Pulumi serializes the provider object with what it references: the pure model and ./dockerCli.
import * as pulumi from '@pulumi/pulumi';
import { parseMigrationOutput, quarantineMigrationScript, type MigrationOutcome, type QuarantineMigration as Migration } from '../model/quarantineMigration';
import { runDockerScript } from './dockerCli';

export interface QuarantineMigrationInputs extends Migration {
  dockerHost: string;
}

export type QuarantineMigrationState = QuarantineMigrationInputs & { outcome: MigrationOutcome['outcome']; files: number };

const COPY_TIMEOUT_MS = 60 * 60_000;

export const quarantineMigrationProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: QuarantineMigrationState, news: QuarantineMigrationInputs) {
    // Another volume or engine is another migration; a new base image changes nothing done.
    const replaces = (['dockerHost', 'namePrefix', 'from', 'to'] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0 || olds.image !== news.image, replaces, deleteBeforeReplace: false };
  },
  async create(inputs: QuarantineMigrationInputs) {
    const done = parseMigrationOutput(await runDockerScript(inputs.dockerHost, quarantineMigrationScript(inputs), COPY_TIMEOUT_MS));
    const outs: QuarantineMigrationState = { ...inputs, outcome: done.outcome, files: done.outcome === 'copied' ? done.files : 0 };
    return { id: `${inputs.to}@${inputs.dockerHost}`, outs };
  },
  async update(_id: string, olds: QuarantineMigrationState, news: QuarantineMigrationInputs) {
    return { outs: { ...olds, image: news.image } };
  },
};

export type QuarantineMigrationArgs = { [K in keyof QuarantineMigrationInputs]: pulumi.Input<QuarantineMigrationInputs[K]> };

/** Registered as `pulumi-nodejs:dynamic:Resource`; the warden depends on it. */
export class QuarantineMigration extends pulumi.dynamic.Resource {
  /** none, not-ours, copied or done-before. */
  declare readonly outcome: pulumi.Output<MigrationOutcome['outcome']>;
  /** Files copied (0 unless copied). */
  declare readonly files: pulumi.Output<number>;

  constructor(name: string, args: QuarantineMigrationArgs, opts?: pulumi.CustomResourceOptions) {
    super(quarantineMigrationProvider, name, { ...args, outcome: undefined, files: undefined }, opts);
  }
}
