// The jail's named volumes: the shared workspace (sandbox_data), the one persistent place the
// prisoner can write, and the volumes only one service mounts (the gateway's certificate).
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { VolumeSpec } from '../model';
import { volumeArgs } from './dockerArgs';

export interface JailVolumesArgs {
  /** Empty when the workspace is a host directory instead of a named volume. */
  volumes: VolumeSpec[];
  provider: docker.Provider;
}

export class JailVolumes extends pulumi.ComponentResource {
  readonly volumes: docker.Volume[];

  constructor(name: string, args: JailVolumesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Volumes', name, {}, opts);
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
