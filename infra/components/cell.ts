// The Cell component: the prisoner's image and container, with its pids limit applied before
// the container ever runs.
import * as docker from '@pulumi/docker';
import * as command from '@pulumi/command';
import * as pulumi from '@pulumi/pulumi';
import type { JailSecrets } from '../config';
import { pidsLimitScript, type ContainerSpec } from '../spec';
import { containerArgs, imageArgs, labelEntries } from './dockerArgs';

export interface CellArgs {
  spec: ContainerSpec;
  provider: docker.Provider;
  /** DOCKER_HOST for the docker CLI that applies the pids limit; same engine as the provider. */
  dockerHost: string;
  secrets: pulumi.Output<JailSecrets>;
  /** Build arguments from the building machine (infra/buildArgs.ts). */
  hostBuildArgs: Record<string, string>;
  /** Networks and volumes the container needs to exist first. */
  dependsOn: pulumi.Resource[];
}

export class Cell extends pulumi.ComponentResource {
  readonly image: docker.Image;
  readonly container: docker.Container;
  readonly pidsLimit: command.local.Command;
  readonly containerName: pulumi.Output<string>;

  constructor(name: string, args: CellArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Cell', name, {}, opts);
    const { spec } = args;
    this.image = new docker.Image(`${name}-image`, imageArgs(spec.image, args.hostBuildArgs), {
      parent: this,
      provider: args.provider,
    });
    const base = containerArgs(spec, this.image.imageName, args.secrets);
    this.container = new docker.Container(
      `${name}-container`,
      {
        ...base,
        // The image's name:tag stays the same across rebuilds; its id in a label makes a rebuilt
        // image replace the container instead of leaving the old one running.
        labels: pulumi
          .output(this.image.repoDigest)
          .apply((id) => [...labelEntries(spec.labels), { label: 'clawjail.image-id', value: id ?? '' }]),
      },
      { parent: this, provider: args.provider, dependsOn: args.dependsOn },
    );
    this.pidsLimit = new command.local.Command(
      `${name}-pids-limit`,
      {
        create: pidsLimitScript(spec.name, spec.pidsLimit),
        update: pidsLimitScript(spec.name, spec.pidsLimit),
        environment: { DOCKER_HOST: args.dockerHost },
        interpreter: ['/bin/sh', '-c'],
        triggers: [this.container.id, spec.pidsLimit],
      },
      { parent: this, dependsOn: [this.container] },
    );
    this.containerName = this.container.name;
    this.registerOutputs({ containerName: this.containerName, imageName: this.image.imageName });
  }
}
