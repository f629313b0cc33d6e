// The moat's live rules against its declaration, for `clawjail moat check` and `clawjail status`.
import type { JailConfig } from '../infra/config';
import { readLiveMoatSettled, resolveResolvers } from '../infra/components/moatExec';
import { formatDrift, moatChainNames, moatDrift, moatRulesPlan, moatTag, renderMoatRules, type MoatRulesPlan } from '../infra/model/firewall';
import type { MoatTarget } from '../infra/model/moatHost';

export interface MoatCheck {
  state: 'in-sync' | 'missing' | 'drift';
  /** One paragraph for the operator (ends with a newline). */
  text: string;
  /** Declared rule lines. */
  rules: number;
  missing: number;
  added: number;
}

export function moatTargetOf(config: JailConfig): MoatTarget {
  return { dockerHost: config.dockerHost, sudo: config.moat.sudo };
}

/** The declared rules, with the resolvers read from the stack's host when they are "auto". */
export async function declaredMoat(config: JailConfig): Promise<{ plan: MoatRulesPlan; rules: string; target: MoatTarget }> {
  const target = moatTargetOf(config);
  const resolvers = config.cell.egress === 'none' ? [] : await resolveResolvers(target, config.moat.dnsResolvers);
  const plan = moatRulesPlan(config, resolvers);
  return { plan, rules: renderMoatRules(plan), target };
}

/** Throws HostCommandError when the host's rules cannot be read. */
export async function checkMoat(stack: string, config: JailConfig): Promise<MoatCheck> {
  const { plan, rules, target } = await declaredMoat(config);
  const live = await readLiveMoatSettled(target, plan, rules);
  const drift = moatDrift(rules, live.rules);
  const where = config.dockerHost.startsWith('ssh://') ? config.dockerHost : 'this machine';
  const chains = moatChainNames(plan.namePrefix);
  const n = rules.split('\n').filter((l) => l.startsWith('-')).length;
  if (drift.length === 0) {
    return { state: 'in-sync', rules: n, missing: 0, added: 0, text: `moat of stack ${stack} on ${where}: in sync (${n} rules, chains ${chains.forward} and ${chains.input})\n` };
  }
  const added = drift.filter((d) => d.op === '+').length;
  const missing = drift.filter((d) => d.op === '-').length;
  if (![`:${chains.forward} `, `:${chains.input} `, moatTag(plan.namePrefix)].some((t) => live.rules.includes(t))) {
    return {
      state: 'missing', rules: n, missing, added,
      text:
        `moat of stack ${stack} on ${where}: MISSING: none of its rules are in force (no chain ${chains.forward} or ${chains.input}). ` +
        'Not deployed, or removed: run `pulumi up`.\n',
    };
  }
  return {
    state: 'drift', rules: n, missing, added,
    text:
      `moat of stack ${stack} on ${where}: DRIFT (${missing} declared line(s) missing or changed, ${added} live line(s) not declared)\n` +
      formatDrift(drift) +
      'Run `pulumi up` to put the declared rules back (`pulumi preview --refresh --diff` shows the same).\n',
  };
}
