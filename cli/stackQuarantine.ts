// `clawjail quarantine --stack NAME`: where that stack's quarantine store (and workspace) is on
// this machine. The store is a named Docker volume; the CLI reads it in place, so the stack's engine
// must be this machine's (unix://), and reading /var/lib/docker/volumes takes root, as the warden's
// files should.
import type { JailConfig } from '../infra/config';
import { jailNames } from '../infra/model/names';
import { loadStackConfig } from '../infra/stackFile';
import { volumeMountpoint } from './volumeMountpoint';

export interface StackQuarantine {
  /** The quarantine store: quarantine/ and audit.log. */
  store: string;
  /** The workspace as seen from here: where `restore` puts a file back by default. */
  workspace: string;
}

export class StackQuarantineError extends Error {}

/** The volumes to look up, or why they cannot be read from here. Pure. */
export function stackQuarantineVolumes(stack: string, config: JailConfig): { dockerHost: string; store: string; workspace: string | null } {
  if (!config.dockerHost.startsWith('unix://')) {
    throw new StackQuarantineError(
      `the quarantine of stack ${stack} is on ${config.dockerHost}: run clawjail quarantine on that host, or copy its volume here and pass --store DIR`,
    );
  }
  const names = jailNames(config);
  return {
    dockerHost: config.dockerHost,
    store: names.quarantineVolume,
    workspace: config.cell.workspaceHostPath ? null : names.workspaceVolume,
  };
}

async function mountpoint(volume: string, dockerHost: string, stack: string): Promise<string> {
  const found = await volumeMountpoint(volume, dockerHost);
  if ('why' in found) throw new StackQuarantineError(`stack ${stack} has no volume ${volume} on ${dockerHost} (not deployed?): ${found.why}`);
  return found.path;
}

export async function resolveStackQuarantine(stack: string, cwd?: string): Promise<StackQuarantine> {
  let config: JailConfig;
  try {
    config = loadStackConfig(stack, cwd);
  } catch (e) {
    throw new StackQuarantineError((e as Error).message);
  }
  const v = stackQuarantineVolumes(stack, config);
  const store = await mountpoint(v.store, v.dockerHost, stack);
  const workspace = v.workspace ? await mountpoint(v.workspace, v.dockerHost, stack) : config.cell.workspaceHostPath;
  return { store, workspace };
}
