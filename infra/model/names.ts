// Every Docker object name derives from the stack's prefix, so that two stacks (or a test run
// beside a deployed stack) never collide and teardown can find all of its own objects.
import type { JailConfig } from '../config';

/** Version of clawjail's own images (gateway, warden); kept equal to package.json's. */
export const JAIL_VERSION = '0.1.0';

export interface JailNames {
  cellContainer: string;
  cellImage: string;
  gatewayContainer: string;
  gatewayImage: string;
  gatewayStateVolume: string;
  cellNetwork: string;
  workspaceVolume: string;
  wardenContainer: string;
  wardenImage: string;
  clamdContainer: string;
  freshclamContainer: string;
  clamdImage: string;
  scanNetwork: string;
  /** The quarantine store (quarantined files and the audit log): mounted in the warden only. */
  quarantineVolume: string;
  signatureVolume: string;
  /** The warden's health report: written by the warden, read by the sentry. */
  wardenHealthVolume: string;
  /** Freezes the cell while the warden is down (infra/model/sentry.ts). */
  sentryContainer: string;
  /** The egress gate (cellEgress allowlist) and its own state: policy, admin socket, decision log. */
  egressContainer: string;
  egressImage: string;
  egressStateVolume: string;
  /** The link between the cell's namespace and the gate: internal, no host address. */
  gateNetwork: string;
}

export function jailNames(config: Pick<JailConfig, 'namePrefix' | 'openclawVersion'>): JailNames {
  const p = config.namePrefix;
  return {
    cellContainer: `${p}-cell`,
    // Pinned tag: the OpenClaw version it carries; the policy pack refuses "latest".
    cellImage: `${p}/cell:openclaw-${config.openclawVersion}`,
    gatewayContainer: `${p}-gateway`,
    gatewayImage: `${p}/gateway:${JAIL_VERSION}`,
    gatewayStateVolume: `${p}-gateway-state`,
    cellNetwork: `${p}-cell`,
    workspaceVolume: `${p}-sandbox_data`,
    wardenContainer: `${p}-warden`,
    wardenImage: `${p}/warden:${JAIL_VERSION}`,
    clamdContainer: `${p}-clamd`,
    freshclamContainer: `${p}-freshclam`,
    clamdImage: `${p}/clamd:${JAIL_VERSION}`,
    scanNetwork: `${p}-scan`,
    quarantineVolume: `${p}-quarantine`,
    signatureVolume: `${p}-clamd-db`,
    wardenHealthVolume: `${p}-warden-health`,
    sentryContainer: `${p}-sentry`,
    egressContainer: `${p}-egress`,
    egressImage: `${p}/egress:${JAIL_VERSION}`,
    egressStateVolume: `${p}-egress-state`,
    gateNetwork: `${p}-gate`,
  };
}
