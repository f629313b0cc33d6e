// clawjail moat render [--stack NAME] | check [--stack NAME]
//
// render: the stack's firewall rules in iptables-restore format (IPv6 after a `# ip6tables`
//         line), exactly what `pulumi up` applies on the stack's Docker host.
// check:  reads the live rules on that host (iptables-save, locally or over ssh) and compares:
//         exit 0 in sync, 1 on drift (with a readable diff), 2 when it cannot tell.
import { ConfigError } from '../../infra/config';
import { HostCommandError } from '../../infra/components/moatExec';
import { loadStackConfig, StackFileError } from '../../infra/stackFile';
import type { OutputIO } from '../io';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';
import { checkMoat, declaredMoat } from '../moatCheck';

export type MoatIO = OutputIO;

const OPTIONS = {
  stack: { type: 'string', value: 'NAME', help: 'the stack whose Pulumi.<NAME>.yaml is read (default: dev)' },
  cwd: { type: 'string', value: 'DIR', help: 'the directory holding the stack files (default: the clawjail repository)' },
  ...HELP_OPTION,
} satisfies OptionDefs;

const HELP = `usage: clawjail moat <command> [options]

commands:
  render    print the stack's firewall rules in iptables-restore format (the IPv6 rules follow
            a "# ip6tables" line): exactly what \`pulumi up\` applies on the stack's Docker host
  check     compare the live rules on the stack's Docker host with the declared ones:
            exit 0 in sync, 1 on drift (the diff is printed), 2 when it cannot be checked

options:
${optionsHelp(OPTIONS)}
The rules are read from and applied on the stack's clawjail:dockerHost: this machine for
unix://, over ssh for ssh://user@host (with sudo -n when clawjail:moatSudo is "true").
With clawjail:dnsResolvers "auto", the resolvers are read from that host too.
`;

interface Args {
  command: 'render' | 'check' | null;
  stack: string;
  cwd: string | undefined;
  help: boolean;
}

function parseMoatArgs(argv: string[]): Args {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  const [command, ...rest] = positionals;
  if (command !== undefined && command !== 'render' && command !== 'check') throw new UsageError(`unexpected argument ${JSON.stringify(command)}`);
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  return { command: command ?? null, stack: values.stack ?? 'dev', cwd: values.cwd, help: values.help ?? false };
}

export async function run(argv: string[], io: MoatIO): Promise<number> {
  let args: Args;
  try {
    args = parseMoatArgs(argv);
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
    if (args.command === 'render') {
      io.stdout.write((await declaredMoat(config)).rules);
      return 0;
    }
    const check = await checkMoat(args.stack, config);
    io.stdout.write(check.text);
    return check.state === 'in-sync' ? 0 : 1;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StackFileError || e instanceof HostCommandError) {
      io.stderr.write(`clawjail moat ${args.command}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
