// Runs the moat's scripts on the Docker host: `sh -s` here for a unix:// Docker host, `ssh HOST
// sh -s` for an ssh:// one (optionally through `sudo -n`). The scripts themselves are rendered
// purely in infra/model/moatHost.ts.
//
// The functions below are captured by value into the moat's dynamic provider (Pulumi serializes
// it): they use nothing but Node built-ins, required inside the functions, and the pure spec.
import { hostResolvers, liveMoatRules, moatDrift, type MoatRulesPlan } from '../model/firewall';
import { runScript } from './hostScript';
import {
  hostShellArgv,
  parseReadOutput,
  parseResolversOutput,
  renderReadScript,
  renderResolversScript,
  type MoatTarget,
  type ReadBack,
} from '../model/moatHost';

export { HostCommandError } from './hostScript';

/** Pipes `script` to a shell on the target host; resolves with its stdout, rejects on failure. */
export function runOnHost(target: MoatTarget, script: string, timeoutMs = 120_000): Promise<string> {
  const where = target.dockerHost.startsWith('ssh://') ? target.dockerHost : 'this machine';
  return runScript(hostShellArgv(target), script, { what: `moat command on ${where}`, timeoutMs });
}

/** The resolvers the cell's DNS may go to: the configured ones, or the Docker host's own. */
export async function resolveResolvers(target: MoatTarget, setting: 'auto' | string[]): Promise<string[]> {
  if (setting !== 'auto') return setting;
  return hostResolvers(parseResolversOutput(await runOnHost(target, renderResolversScript())));
}

export interface LiveMoat {
  /** The live rules of the stack, in the layout of renderMoatRules. */
  rules: string;
  /** Installed file path to sha256, or "missing". */
  files: Record<string, string>;
  raw: ReadBack;
}

export async function readLiveMoat(target: MoatTarget, plan: MoatRulesPlan): Promise<LiveMoat> {
  const raw = parseReadOutput(await runOnHost(target, renderReadScript(plan, target.root)));
  return { rules: liveMoatRules(raw.save4, raw.save6, plan), files: raw.files, raw };
}

/**
 * Reads the live rules again, a few times, while they differ from `declared`. dockerd moves its
 * `FORWARD -j DOCKER-USER` jump to the top whenever it creates a network (it deletes it, then
 * inserts it again: two iptables calls), and a read between the two sees FORWARD without it. A
 * drift that stays over `tries` reads is real; a read that comes back in sync ends at once.
 */
export async function readLiveMoatSettled(
  target: MoatTarget,
  plan: MoatRulesPlan,
  declared: string,
  opts: { tries?: number; delayMs?: number } = {},
): Promise<LiveMoat> {
  const tries = opts.tries ?? 5;
  let live = await readLiveMoat(target, plan);
  for (let i = 1; i < tries && moatDrift(declared, live.rules).length > 0; i++) {
    await new Promise((r) => setTimeout(r, opts.delayMs ?? 200));
    live = await readLiveMoat(target, plan);
  }
  return live;
}
