// clawjail status [--stack NAME] [--cwd DIR] [--json]
//
// One screen with every part of a deployed jail, and an exit status for cron or a monitoring
// system: 0 every part in place, 1 something failing (a container down or unhealthy, the moat
// drifted, the warden degraded, the gateway's address answered by another certificate, the gate
// not answering), 2 when the stack cannot be read at all.
import { ConfigError } from '../../infra/config';
import { loadStackConfig, StackFileError } from '../../infra/stackFile';
import { gatherStatus } from '../statusProbe';
import { assessStatus, formatStatus } from '../statusReport';

export interface StatusIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export const HELP = `usage: clawjail status [--stack NAME] [--cwd DIR] [--json]

Every part of the stack's jail as its Docker host reports it now: each container (up, healthy,
restarts, memory), the moat (in sync with its declaration, as \`clawjail moat check\`), the
warden (last scan, files scanned, quarantined in the last 24 h, backlog) and clamd's signature
age, the gateway (the fingerprint at its URL against its own certificate, open sessions) and
the egress gate (destinations awaiting a decision).

exit status: 0 every part in place; 1 a part is failing (cron, monitoring); 2 the stack cannot
be read. Reading the firewall takes root on the stack's Docker host, as for \`moat check\`.

options:
  --stack NAME   the stack whose Pulumi.<NAME>.yaml is read (default: dev)
  --cwd DIR      the directory holding the stack files (default: the clawjail repository)
  --json         the report as JSON ({stack, time, safe, lines: [{part, level, summary}]})
  --help, -h     this text
`;

class UsageError extends Error {}

interface Args {
  stack: string;
  cwd: string | undefined;
  json: boolean;
  help: boolean;
}

export function parseStatusArgs(argv: string[]): Args {
  const a: Args = { stack: 'dev', cwd: undefined, json: false, help: false };
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
    else if (arg === '--json') a.json = true;
    else if (arg === '--stack' || arg.startsWith('--stack=')) a.stack = value('--stack');
    else if (arg === '--cwd' || arg.startsWith('--cwd=')) a.cwd = value('--cwd');
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
  }
  return a;
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
