// The Warden: the internal scan network, the three containers of the workspace scanner
// (infra/model/warden.ts says who gets what) and the sentry that freezes the prisoner while the
// warden is down (infra/model/sentry.ts). Everything of the prisoner depends on this component,
// so the warden is watching, and the sentry guarding, before the prisoner first runs.
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ContainerSpec, NetworkSpec } from '../model';
import { networkArgs } from './dockerArgs';
import { ContainerHealthy } from './containerHealthy';
import { Clamd, Freshclam, Sentry, WardenProcess, type JailContainerArgs } from './jailContainer';

export interface WardenArgs extends Omit<JailContainerArgs, 'spec' | 'image' | 'extraLabels'> {
  scanNetwork: NetworkSpec;
  /** The signatures' updater, absent when the operator brings the signatures (custom). */
  freshclam: ContainerSpec | undefined;
  clamd: ContainerSpec;
  warden: ContainerSpec;
  sentry: ContainerSpec;
}

export class Warden extends pulumi.ComponentResource {
  readonly scanNetwork: docker.Network;
  readonly freshclam: Freshclam | undefined;
  readonly clamd: Clamd;
  readonly warden: WardenProcess;
  readonly sentry: Sentry;
  /** Done once the warden runs and the sentry is healthy (it has looked, and could freeze): the prisoner starts after this. */
  readonly started: pulumi.Resource;

  constructor(name: string, args: WardenArgs, opts?: pulumi.ComponentResourceOptions) {
    super('clawjail:index:Warden', name, {}, opts);
    const { scanNetwork, freshclam, clamd, warden, sentry, ...common } = args;
    if (!scanNetwork.internal) throw new Error(`the scan network ${scanNetwork.name} must be internal: clamd may reach nothing`);
    this.scanNetwork = new docker.Network(`${name}-scan-network`, networkArgs(scanNetwork), {
      parent: this,
      provider: args.provider,
    });
    const deps = [...args.dependsOn, this.scanNetwork];
    this.freshclam = freshclam
      ? new Freshclam(`${name}-freshclam`, { ...common, spec: freshclam, dependsOn: deps }, { parent: this })
      : undefined;
    this.clamd = new Clamd(
      `${name}-clamd`,
      // One build of the image both run.
      { ...common, spec: clamd, dependsOn: deps, image: this.freshclam?.image },
      { parent: this },
    );
    this.warden = new WardenProcess(`${name}-warden`, { ...common, spec: warden, dependsOn: [...deps, this.clamd.started] }, { parent: this });
    // In the warden's image (one build); it starts after the warden, so it finds a report to read.
    this.sentry = new Sentry(
      `${name}-sentry`,
      { ...common, spec: sentry, dependsOn: [...args.dependsOn, this.warden.started], image: this.warden.image },
      { parent: this },
    );
    // Running is not enough: a sentry that cannot reach the engine (another API, a socket of another
    // group) would guard nothing. Its healthcheck passes only after a whole look at the engine.
    this.started = new ContainerHealthy(
      `${name}-sentry-healthy`,
      { dockerHost: args.dockerHost, container: this.sentry.container.name, containerId: this.sentry.container.id },
      { parent: this, dependsOn: [this.sentry.started] },
    );
    this.registerOutputs({
      sentryContainer: this.sentry.containerName,
      scanNetwork: this.scanNetwork.name,
      clamdContainer: this.clamd.containerName,
      wardenContainer: this.warden.containerName,
    });
  }
}
