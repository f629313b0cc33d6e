// `clawjail egress --stack NAME`: where that stack's egress state (policy, admin socket, decision
// log) is on this machine, and the stack's own egressAllow/egressDeny settings. The state is the
// named volume `<prefix>-egress-state`; the CLI uses it in place, so the stack's engine must be
// this machine's (unix://), and the files there belong to the proxy's user (root reads them).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import * as yaml from 'js-yaml';
import { CONFIG_DEFAULTS, type JailConfig } from '../infra/config';
import { REPO_ROOT } from '../infra/paths';
import { jailNames } from '../infra/model/names';
import { loadStackConfig, stackFilePath } from '../infra/stackFile';
import { CONFIG_KEYS, parseStackList, StackListError, type PolicyLists } from './egressPolicy';
import { volumeMountpoint } from './volumeMountpoint';

const run = promisify(execFile);

export class EgressStackError extends Error {}

/** The volume to look up, or why it cannot be used from here. Pure. */
export function stackEgressVolume(stack: string, config: Pick<JailConfig, 'dockerHost' | 'namePrefix' | 'openclawVersion'>): { dockerHost: string; volume: string } {
  if (!config.dockerHost.startsWith('unix://')) {
    throw new EgressStackError(
      `the egress gate of stack ${stack} is on ${config.dockerHost}: run clawjail egress on that host (with --dir), ` +
        'or change clawjail:egressAllow/egressDeny with `npm run pulumi -- config set` and run `pulumi up`',
    );
  }
  return { dockerHost: config.dockerHost, volume: jailNames(config).egressStateVolume };
}

/** The state directory of a deployed local stack (`docker volume inspect`). */
export async function resolveStackEgress(stack: string, dir = REPO_ROOT): Promise<string> {
  let config: JailConfig;
  try {
    config = loadStackConfig(stack, dir);
  } catch (e) {
    throw new EgressStackError((e as Error).message);
  }
  const v = stackEgressVolume(stack, config);
  const found = await volumeMountpoint(v.volume, v.dockerHost);
  if ('why' in found) throw new EgressStackError(`stack ${stack} has no volume ${v.volume} on ${v.dockerHost} (not deployed, or cellEgress is not allowlist?): ${found.why}`);
  return found.path;
}

/** What a stack has when its file does not set a list: clawjail's default (infra/config.ts). */
export function defaultPolicyLists(): PolicyLists {
  const defaults = CONFIG_DEFAULTS as unknown as Record<string, string | undefined>;
  return { allow: parseStackList('the default egressAllow', defaults.egressAllow), deny: parseStackList('the default egressDeny', defaults.egressDeny) };
}

/**
 * clawjail:egressAllow and clawjail:egressDeny from a stack file's text (JSON text or YAML lists);
 * a list the file does not set is clawjail's default for it, as `pulumi up` would use.
 */
export function stackPolicyListsFromText(text: string, file = 'stack file', defaults: PolicyLists = defaultPolicyLists()): PolicyLists {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new EgressStackError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const config = ((doc as { config?: Record<string, unknown> } | null)?.config ?? {}) as Record<string, unknown>;
  try {
    const list = (which: 'allow' | 'deny') =>
      config[CONFIG_KEYS[which]] === undefined ? [...defaults[which]] : parseStackList(CONFIG_KEYS[which], config[CONFIG_KEYS[which]]);
    return { allow: list('allow'), deny: list('deny') };
  } catch (e) {
    if (e instanceof StackListError) throw new EgressStackError(`${file}: ${e.message}`);
    throw e;
  }
}

export function readStackPolicyLists(stack: string, dir = REPO_ROOT): PolicyLists {
  const file = stackFilePath(stack, dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new EgressStackError(`cannot read stack file ${file}: ${(e as Error).message}`);
  }
  return stackPolicyListsFromText(text, file);
}

/** Runs scripts/pulumi.sh with these arguments; rejects with the CLI's first error line. */
export type PulumiRunner = (args: string[]) => Promise<void>;

export const runPulumiScript: PulumiRunner = async (args) => {
  try {
    await run('bash', [path.join(REPO_ROOT, 'scripts', 'pulumi.sh'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PULUMI_ENGINE_QUIET: '1' },
      maxBuffer: 16 << 20,
      timeout: 300_000,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const lines = (err.stderr || err.message).trim().split('\n').filter((l) => l.trim() !== '');
    throw new Error(lines.slice(-3).join(' / ') || err.message);
  }
};
