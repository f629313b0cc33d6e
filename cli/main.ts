// The operator's `clawjail` command: a dispatcher over one module per subcommand, each loaded
// only when used (the gateway client need not load the firewall renderer, and so on).
import type { CliIO, CommandRun } from './io';

interface Command {
  summary: string;
  load: () => CommandRun;
}

const COMMANDS: Record<string, Command> = {
  status: {
    summary: 'status [--stack NAME] [--json]        every part of the jail now; exit 1 if one fails',
    load: () => require('./commands/status').run,
  },
  moat: {
    summary: 'moat render|check [--stack NAME]      the firewall rules, declared and live',
    load: () => require('./commands/moat').run,
  },
  quarantine: {
    summary: 'quarantine list|show|restore|purge    files the warden took from the workspace',
    load: () => require('./commands/quarantine').run,
  },
  egress: {
    summary: 'egress log|pending|status|allow|deny  the egress gate: its decisions and policy, live',
    load: () => require('./commands/egress').run,
  },
  connect: {
    summary: 'connect [URL] [--stack NAME | --fingerprint FP] [--token-file F] [--send JSON]',
    load: () => {
      const connect = require('./commands/connect') as typeof import('./commands/connect');
      connect.setStackResolver(require('./stackTarget').resolveStackTarget);
      return connect.run;
    },
  },
  fingerprint: {
    summary: 'fingerprint URL                       the SHA-256 fingerprint a server presents',
    load: () => require('./commands/fingerprint').run,
  },
};

export function usage(): string {
  return [
    'usage: clawjail <command> [options]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.summary}`),
    '',
    'egress (the allowlist gate, clawjail:cellEgress allowlist; --stack NAME or --dir DIR):',
    '  clawjail egress pending                 what the agent was refused, not yet decided',
    '  clawjail egress allow HOST [--for 2h]   let it through (permanent: the stack config too)',
    '  clawjail egress deny HOST               refuse it for good, closing its open tunnels',
    '  clawjail egress log --denied --follow   watch the refusals as they happen',
    '',
    'Run `clawjail <command> --help` for the options of one command.',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { REPO_ROOT } = require('../infra/paths') as typeof import('../infra/paths');
    io.stdout.write(`${(require(`${REPO_ROOT}/package.json`) as { version: string }).version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`clawjail: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.load()(rest, io);
  } catch (e) {
    io.stderr.write(`clawjail ${name}: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => {
      process.exitCode = code;
    },
  );
}
