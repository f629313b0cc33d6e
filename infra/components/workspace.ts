// The shared workspace (sandbox_data): the one persistent place the prisoner can write.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { VolumeSpec } from '../spec';
import { volumeArgs } from './dockerArgs';

export interface WorkspaceArgs {
  /** Empty when the workspace is a host directory instead of a named volume. */
  volumes: VolumeSpec[];
  provider: docker.Provider;
}

export class Workspace extends pulumi.ComponentResource {
  readonly volumes: docker.Volume[];

  constructor(name: string, args: WorkspaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Workspace', name, {}, opts);
    this.volumes = args.volumes.map(
      (v) =>
        new docker.Volume(`${name}-${v.name}`, volumeArgs(v), {
          parent: this,
          provider: args.provider,
          // Deleting the stack must not delete what the agent and its operator wrote.
          retainOnDelete: true,
        }),
    );
    this.registerOutputs({ volumes: this.volumes.map((v) => v.name) });
  }
}
