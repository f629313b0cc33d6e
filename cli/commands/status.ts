// clawjail status [--stack NAME] [--cwd DIR] [--json]
//
// One screen with every part of a deployed jail, and an exit status for cron or a monitoring
// system: 0 every part in place, 1 something failing (a container down or unhealthy, the moat
// drifted, the warden degraded, the gateway's address answered by another certificate, the gate
// not answering), 2 when the stack cannot be read at all.
import { ConfigError } from '../../infra/config';
import type { OutputIO } from '../io';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';
import { loadStackConfig, StackFileError } from '../../infra/stackFile';
import { gatherStatus } from '../statusProbe';
import { assessStatus, formatStatus } from '../statusReport';

export type StatusIO = OutputIO;

const OPTIONS = {
  stack: { type: 'string', value: 'NAME', help: 'the stack whose Pulumi.<NAME>.yaml is read (default: dev)' },
  cwd: { type: 'string', value: 'DIR', help: 'the directory holding the stack files (default: the clawjail repository)' },
  json: { type: 'boolean', help: 'the report as JSON ({stack, time, safe, lines: [{part, level, summary}]})' },
  ...HELP_OPTION,
} satisfies OptionDefs;

export const HELP = `usage: clawjail status [--stack NAME] [--cwd DIR] [--json]

Every part of the stack's jail as its Docker host reports it now: each container (up, healthy,
restarts, memory), the moat (in sync with its declaration, as \`clawjail moat check\`), the
warden (last scan, files scanned, quarantined in the last 24 h, backlog) and clamd's signature
age, the gateway (the fingerprint at its URL against its own certificate, open sessions) and
the egress gate (destinations awaiting a decision).

exit status: 0 every part in place; 1 a part is failing (cron, monitoring); 2 the stack cannot
be read. Reading the firewall takes root on the stack's Docker host, as for \`moat check\`.

options:
${optionsHelp(OPTIONS)}`;

interface Args {
  stack: string;
  cwd: string | undefined;
  json: boolean;
  help: boolean;
}

export function parseStatusArgs(argv: string[]): Args {
  const { values, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return { stack: values.stack ?? 'dev', cwd: values.cwd, json: values.json ?? false, help: values.help ?? false };
}

export async function run(argv: string[], io: StatusIO): Promise<number> {
  let args: Args;
  try {
    args = parseStatusArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`clawjail status: ${e.message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  let config;
  try {
    config = loadStackConfig(args.stack, args.cwd);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof StackFileError) {
      io.stderr.write(`clawjail status: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const report = assessStatus(await gatherStatus(args.stack, config));
  io.stdout.write(args.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
  return report.safe ? 0 : 1;
}
