// Every Docker object name derives from the stack's prefix, so that two stacks (or a test run
// beside a deployed stack) never collide and teardown can find all of its own objects.
import type { JailConfig } from '../config';

export interface JailNames {
  cellContainer: string;
  cellImage: string;
  cellNetwork: string;
  workspaceVolume: string;
}

export function jailNames(config: Pick<JailConfig, 'namePrefix' | 'openclawVersion'>): JailNames {
  const p = config.namePrefix;
  return {
    cellContainer: `${p}-cell`,
    // Pinned tag: the OpenClaw version it carries; the policy pack refuses "latest".
    cellImage: `${p}/cell:openclaw-${config.openclawVersion}`,
    cellNetwork: `${p}-cell`,
    workspaceVolume: `${p}-sandbox_data`,
  };
}
