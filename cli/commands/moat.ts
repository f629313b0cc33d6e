// clawjail moat render [--stack NAME] | check [--stack NAME]
//
// render: the stack's firewall rules in iptables-restore format (IPv6 after a `# ip6tables`
//         line), exactly what `pulumi up` applies on the stack's Docker host.
// check:  reads the live rules on that host (iptables-save, locally or over ssh) and compares:
//         exit 0 in sync, 1 on drift (with a readable diff), 2 when it cannot tell.
import { ConfigError, type JailConfig } from '../../infra/config';
import { HostCommandError, readLiveMoat, resolveResolvers } from '../../infra/components/moatExec';
import { formatDrift, moatChainNames, moatDrift, moatRulesPlan, moatTag, renderMoatRules, type MoatRulesPlan } from '../../infra/spec/firewall';
import type { MoatTarget } from '../../infra/spec/moatHost';
import { loadStackConfig, StackFileError } from '../../infra/stackFile';

export interface MoatIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const HELP = `usage: clawjail moat <command> [options]

commands:
  render    print the stack's firewall rules in iptables-restore format (the IPv6 rules follow
            a "# ip6tables" line): exactly what \`pulumi up\` applies on the stack's Docker host
  check     compare the live rules on the stack's Docker host with the declared ones:
            exit 0 in sync, 1 on drift (the diff is printed), 2 when it cannot be checked

options:
  --stack NAME   the stack whose Pulumi.<NAME>.yaml is read (default: dev)
  --cwd DIR      the directory holding the stack files (default: the clawjail repository)
  --help, -h     this text

The rules are read from and applied on the stack's clawjail:dockerHost: this machine for
unix://, over ssh for ssh://user@host (with sudo -n when clawjail:moatSudo is "true").
With clawjail:dnsResolvers "auto", the resolvers are read from that host too.
`;

class UsageError extends Error {}

interface Args {
  command: 'render' | 'check' | null;
  stack: string;
  cwd: string | undefined;
  help: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { command: null, stack: 'dev', cwd: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (name: string): string => {
      const eq = arg.indexOf('=');
      if (eq >= 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) throw new UsageError(`${name} needs a value`);
      return v;
    };
    if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--stack' || arg.startsWith('--stack=')) a.stack = value('--stack');
    else if (arg === '--cwd' || arg.startsWith('--cwd=')) a.cwd = value('--cwd');
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (a.command === null && (arg === 'render' || arg === 'check')) a.command = arg;
    else throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
  }
  return a;
}

export function moatTargetOf(config: JailConfig): MoatTarget {
  return { dockerHost: config.dockerHost, sudo: config.moat.sudo };
}

async function declared(config: JailConfig): Promise<{ plan: MoatRulesPlan; rules: string; target: MoatTarget }> {
  const target = moatTargetOf(config);
  const resolvers = config.cell.egress === 'none' ? [] : await resolveResolvers(target, config.moat.dnsResolvers);
  const plan = moatRulesPlan(config, resolvers);
  return { plan, rules: renderMoatRules(plan), target };
}

export async function run(argv: string[], io: MoatIO): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.stderr.write(`clawjail moat: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (args.command === null) {
    io.stderr.write(HELP);
    return 2;
  }
  try {
    const config = loadStackConfig(args.stack, args.cwd);
    const { plan, rules, target } = await declared(config);
    if (args.command === 'render') {
      io.stdout.write(rules);
      return 0;
    }
    const live = await readLiveMoat(target, plan);
    const drift = moatDrift(rules, live.rules);
    const where = config.dockerHost.startsWith('ssh://') ? config.dockerHost : 'this machine';
    const chains = moatChainNames(plan.namePrefix);
    if (drift.length === 0) {
      const n = rules.split('\n').filter((l) => l.startsWith('-')).length;
      io.stdout.write(`moat of stack ${args.stack} on ${where}: in sync (${n} rules, chains ${chains.forward} and ${chains.input})\n`);
      return 0;
    }
    if (![`:${chains.forward} `, `:${chains.input} `, moatTag(plan.namePrefix)].some((t) => live.rules.includes(t))) {
      io.stdout.write(
        `moat of stack ${args.stack} on ${where}: MISSING: none of its rules are in force (no chain ${chains.forward} or ${chains.input}). ` +
          'Not deployed, or removed: run `pulumi up`.\n',
      );
      return 1;
    }
    const added = drift.filter((d) => d.op === '+').length;
    const missing = drift.filter((d) => d.op === '-').length;
    io.stdout.write(
      `moat of stack ${args.stack} on ${where}: DRIFT (${missing} declared line(s) missing or changed, ${added} live line(s) not declared)\n` +
        formatDrift(drift) +
        'Run `pulumi up` to put the declared rules back (`pulumi preview --refresh --diff` shows the same).\n',
    );
    return 1;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StackFileError || e instanceof HostCommandError) {
      io.stderr.write(`clawjail moat ${args.command}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
