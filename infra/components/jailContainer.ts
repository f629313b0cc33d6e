// One container of the jail: its image, the container created stopped, and the pids limit applied
// before it first runs. Cell, Gateway and the warden's services are this, each under its own
// component type.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { JailSecrets } from '../config';
import { imageDigest } from '../contextDigest';
import { engineSocketPath, type ContainerSpec } from '../model';
import { ContainerStart } from './containerStart';
import { containerArgs, imageArgs, labelEntries, type HostGroupIds } from './dockerArgs';
import { GatewayFingerprint } from './gatewayFingerprint';
import { HostGroups } from './hostGroups';

export interface JailContainerArgs {
  spec: ContainerSpec;
  provider: docker.Provider;
  /** DOCKER_HOST for the docker CLI that applies the pids limit and starts; same engine as the provider. */
  dockerHost: string;
  secrets: pulumi.Output<JailSecrets>;
  /** Build arguments from the building machine (infra/buildArgs.ts). */
  hostBuildArgs: Record<string, string>;
  /** What must exist (networks, volumes, firewall) or run (a namespace owner) first. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
  /**
   * Labels from other resources' outputs. A value that changes replaces the container: the cell
   * carries its namespace owner's id, so a new gateway brings a new cell into its namespace.
   */
  extraLabels?: Record<string, pulumi.Input<string>>;
  /** An image another container of the jail already builds (clamd's, shared with freshclam). */
  image?: docker.RemoteImage;
}

export abstract class JailContainer extends pulumi.ComponentResource {
  readonly image: docker.RemoteImage;
  readonly container: docker.Container;
  /** Done once the pids limit is set and the container started: depend on this to run after. */
  readonly started: ContainerStart;
  readonly containerName: pulumi.Output<string>;

  protected constructor(type: string, name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    const { spec } = args;
    this.image =
      args.image ??
      new docker.RemoteImage(`${name}-image`, imageArgs(spec.image, args.hostBuildArgs, imageDigest(spec.image)), {
        parent: this,
        provider: args.provider,
      });
    // The gids of the host groups the spec names, read on the jail's host (only the sentry has any).
    const groups: pulumi.Input<HostGroupIds> = spec.hostGroups.length
      ? new HostGroups(
          `${name}-host-groups`,
          { dockerHost: args.dockerHost, socketPath: engineSocketPath(args.dockerHost), image: this.image.name },
          { parent: this, dependsOn: [this.image] },
        ).engineSocketGid.apply((gid) => ({ 'engine-socket': gid }))
      : {};
    this.container = new docker.Container(
      `${name}-container`,
      {
        ...containerArgs(spec, this.image.name, args.secrets, groups),
        // The image's name:tag stays the same across rebuilds; its id in a label makes a rebuilt
        // image replace the container instead of leaving the old one running. A plain list, so
        // that during a preview only the values not known yet are unknown, not the role and
        // stack labels the policy pack judges by.
        labels: [
          ...labelEntries(spec.labels),
          ...Object.entries(args.extraLabels ?? {}).map(([label, value]) => ({ label, value })),
          { label: 'clawjail.image-id', value: this.image.imageId },
        ],
      },
      // Container names are fixed, so a replacement must remove the old container first.
      { parent: this, provider: args.provider, dependsOn: args.dependsOn, deleteBeforeReplace: true },
    );
    this.started = new ContainerStart(
      `${name}-start`,
      { dockerHost: args.dockerHost, container: this.container.name, containerId: this.container.id, pidsLimit: spec.pidsLimit },
      { parent: this, dependsOn: [this.container] },
    );
    this.containerName = this.container.name;
  }
}

/** The prisoner: OpenClaw, in the gateway's network namespace. */
export class Cell extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Cell', name, args, opts);
    this.registerOutputs({ containerName: this.containerName, imageName: this.image.name });
  }
}

/** The vault: pinned-TLS, token-checking front of OpenClaw; owns the jail's network namespace. */
export class Gateway extends JailContainer {
  /** SHA-256 fingerprint of the certificate the gateway made at its first start. */
  readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Gateway', name, args, opts);
    // The key stays in the gateway's own volume; only the fingerprint comes out. Read only once
    // the gateway is healthy, i.e. serving the certificate it made at its first start: reading
    // earlier could race that start and report a certificate the gateway does not serve.
    const read = new GatewayFingerprint(
      `${name}-fingerprint`,
      { dockerHost: args.dockerHost, container: this.container.name, containerId: this.container.id },
      { parent: this, dependsOn: [this.started] },
    );
    this.fingerprint = read.fingerprint;
    this.registerOutputs({ containerName: this.containerName, fingerprint: this.fingerprint });
  }
}

/** Streams the workspace's files to clamd and quarantines what it finds. */
export class WardenProcess extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:WardenProcess', name, args, opts);
    this.registerOutputs({ containerName: this.containerName });
  }
}

/** The scanner: parses the prisoner's files, so it has no route anywhere but to the warden. */
export class Clamd extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Clamd', name, args, opts);
    this.registerOutputs({ containerName: this.containerName });
  }
}

/** Freezes the prisoner while the warden is down: holds the engine socket, and nothing else. */
export class Sentry extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Sentry', name, args, opts);
    this.registerOutputs({ containerName: this.containerName });
  }
}

/** Keeps the signature volume current; the one part of the warden that reaches the internet. */
export class Freshclam extends JailContainer {
  constructor(name: string, args: JailContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Freshclam', name, args, opts);
    this.registerOutputs({ containerName: this.containerName });
  }
}
