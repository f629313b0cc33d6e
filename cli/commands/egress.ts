// clawjail egress log | pending | status | allow ENTRY [--for DURATION] | deny ENTRY
//
// The operator's side of the egress gate (egress/README.md): the decision log, the denied
// destinations waiting for a decision, and live policy changes through the proxy's admin socket.
// The gate's state directory: --dir DIR, else the `<prefix>-egress-state` volume of --stack NAME
// (default dev) on this machine's Docker engine. A permanent allow or a deny of a stack first
// updates the stack's clawjail:egressAllow/egressDeny (through scripts/pulumi.sh), then the proxy.
import * as fs from 'fs';
import * as path from 'path';
import type { OutputIO } from '../io';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';
export { UsageError } from '../args';
import { adminRequest, type AdminRequest, type AdminResponse } from '../egressAdmin';
import { renderLog, safeText, splitLines } from '../egressLog';
import { CONFIG_KEYS, DurationError, EntryError, formatDuration, mergePolicyLists, normalizeEntry, parseDuration, pulumiConfigSetArgs, type PolicyLists } from '../egressPolicy';
import { readStackPolicyLists, resolveStackEgress, runPulumiScript, type PulumiRunner } from '../egressStack';

export type EgressIO = OutputIO;

const SUBCOMMANDS = ['log', 'pending', 'status', 'allow', 'deny'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const OPTIONS = {
  denied: { type: 'boolean', help: 'denials only' },
  follow: { type: 'boolean', short: 'f', help: 'keep printing new decisions (across log rotation) until interrupted (Ctrl-C)' },
  json: { type: 'boolean', help: "as JSON (log: one object per line, as the proxy wrote it; else the proxy's answer)" },
  lines: { type: 'string', short: 'n', value: 'N', help: 'only the last N decisions (default: all; with --follow: 20)' },
  for: { type: 'string', value: 'DURATION', help: 'a temporary allow, in the proxy\'s memory only (the stack config is not\ntouched): 90s, 30m, 2h, 1d, 1h30m; at most 30 days' },
  stack: { type: 'string', value: 'NAME', help: "the egress state volume (<prefix>-egress-state) of that stack on this\nmachine's Docker engine (default: dev; reading it takes root)" },
  dir: { type: 'string', value: 'DIR', help: 'the egress state directory itself (a proxy run as a plain process)' },
  ...HELP_OPTION,
} satisfies OptionDefs;
type OptionName = keyof typeof OPTIONS;

/** The options of one subcommand: where the state is, and its own. */
const OWN: Record<Subcommand | 'egress', OptionName[]> = {
  egress: [],
  log: ['denied', 'follow', 'json', 'lines'],
  pending: ['json'],
  status: ['json'],
  allow: ['for'],
  deny: [],
};

function optionsOf(command: Subcommand | 'egress'): string {
  const names: OptionName[] = [...OWN[command], 'stack', 'dir', 'help'];
  return optionsHelp(Object.fromEntries(names.map((n) => [n, OPTIONS[n]])));
}

const HELP: Record<Subcommand | 'egress', string> = {
  egress: `usage: clawjail egress <command> [options]

commands:
  log                  the proxy's decisions, one line each (oldest first)
  pending              denied destinations nobody has decided on yet
  status               the policy in force, temporary allows, open connections
  allow ENTRY          allow a destination (permanently, or --for a while)
  deny ENTRY           deny a destination (and close its open tunnels)

options:
${optionsOf('egress')}
An ENTRY is a host name (api.example.org) or *.suffix (*.example.org: its subdomains, not
itself), with an optional :port; without a port, an allow means 443 only and a deny every port.
IP addresses, URLs and paths are refused. A permanent allow or a deny of a stack is written to
its clawjail:egressAllow / clawjail:egressDeny first (Pulumi CLI), then applied live.
Run \`clawjail egress <command> --help\` for the options of one command.
`,
  log: `usage: clawjail egress log [--denied] [--follow] [--json] [--lines N] [--stack NAME | --dir DIR]

Prints the decision log (decisions.jsonl.1, then decisions.jsonl): per decision its time,
ALLOW/DENY, kind, host:port, the address used, the rule or the reason, bytes up/down, duration.

options:
${optionsOf('log')}`,
  pending: `usage: clawjail egress pending [--json] [--stack NAME | --dir DIR]

The destinations the proxy refused that have not been allowed or denied since: host:port, how
often, first and last time, the reason. Decide with \`clawjail egress allow|deny HOST[:PORT]\`.

options:
${optionsOf('pending')}`,
  status: `usage: clawjail egress status [--json] [--stack NAME | --dir DIR]

The allow and deny lists in force, temporary allows with their expiry, open connections,
pending destinations, and whether the policy file could be read.

options:
${optionsOf('status')}`,
  allow: `usage: clawjail egress allow ENTRY [--for DURATION] [--stack NAME | --dir DIR]

Allows ENTRY (host, *.suffix, optional :port; 443 when no port). Permanent by default: with a
stack, added to clawjail:egressAllow (and removed from clawjail:egressDeny) through the Pulumi
CLI first, then applied live (the proxy rewrites its policy.json). With --dir, live only.

options:
${optionsOf('allow')}`,
  deny: `usage: clawjail egress deny ENTRY [--stack NAME | --dir DIR]

Denies ENTRY (host, *.suffix, optional :port; every port when no port); a deny wins over any
allow. With a stack, added to clawjail:egressDeny (and removed from clawjail:egressAllow) through
the Pulumi CLI first, then applied live: removed from the allows and temporary allows, open
tunnels it matches are closed. With --dir, live only.

options:
${optionsOf('deny')}`,
};


export interface EgressArgs {
  command: Subcommand | null;
  entry: string | null;
  stack: string | null;
  dir: string | null;
  denied: boolean;
  follow: boolean;
  json: boolean;
  lines: number | null;
  /** --for, in seconds */
  seconds: number | null;
  help: boolean;
}

/** The command line, checked (entry and duration included). Pure; throws UsageError. */
export function parseEgressArgs(argv: string[]): EgressArgs {
  const { values: v, positionals: positional } = parseCommandLine(argv, OPTIONS);
  const a: EgressArgs = {
    command: null, entry: null, stack: v.stack ?? null, dir: v.dir ?? null, denied: v.denied ?? false, follow: v.follow ?? false,
    json: v.json ?? false, lines: null, seconds: null, help: v.help ?? false,
  };
  const seen = (Object.keys(v) as OptionName[]).filter((k) => !['stack', 'dir', 'help'].includes(k));
  const forText = v.for ?? null;
  const linesText = v.lines ?? null;
  const [command, ...rest] = positional;
  if (command !== undefined) {
    if (!(SUBCOMMANDS as readonly string[]).includes(command)) {
      throw new UsageError(`unknown command ${JSON.stringify(command)} (${SUBCOMMANDS.join(', ')})`);
    }
    a.command = command as Subcommand;
  }
  if (a.help) return a;
  if (a.command === null) return a;
  for (const opt of seen) {
    if (!OWN[a.command].includes(opt)) {
      const of = SUBCOMMANDS.filter((c) => OWN[c].includes(opt));
      throw new UsageError(`--${opt} is an option of egress ${of.join('/')}, not of egress ${a.command}`);
    }
  }
  if (a.stack !== null && a.dir !== null) throw new UsageError('--stack and --dir name the egress state twice; pass one');
  if (a.command === 'allow' || a.command === 'deny') {
    if (rest.length === 0) throw new UsageError(`egress ${a.command} needs an ENTRY (a host name such as api.example.org, *.example.org, optional :port)`);
    if (rest.length > 1) throw new UsageError(`egress ${a.command} takes one ENTRY (got ${rest.length}: ${rest.map((r) => JSON.stringify(r)).join(' ')})`);
    try {
      a.entry = normalizeEntry(rest[0]);
    } catch (e) {
      if (e instanceof EntryError) throw new UsageError(`bad entry: ${e.message}`);
      throw e;
    }
  } else if (rest.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  }
  if (forText !== null) {
    try {
      a.seconds = parseDuration(forText);
    } catch (e) {
      if (e instanceof DurationError) throw new UsageError(`--for: ${e.message}`);
      throw e;
    }
  }
  if (linesText !== null) {
    if (!/^[0-9]+$/.test(linesText)) throw new UsageError(`--lines needs a whole number, not ${JSON.stringify(linesText)}`);
    a.lines = Number(linesText);
  }
  if (a.stack !== null && !/^[A-Za-z0-9_.-]+$/.test(a.stack)) throw new UsageError(`bad stack name ${JSON.stringify(a.stack)}`);
  return a;
}

export interface EgressDeps {
  resolveStackEgress: (stack: string) => Promise<string>;
  readStackPolicyLists: (stack: string) => PolicyLists;
  runPulumi: PulumiRunner;
  admin: (socketPath: string, request: AdminRequest) => Promise<AdminResponse>;
  /** Ends `log --follow`; by default SIGINT. */
  signal?: AbortSignal;
  /** How often `log --follow` looks for new lines. */
  pollMs?: number;
  now?: () => number;
}

const DEFAULT_DEPS: EgressDeps = {
  resolveStackEgress: (stack) => resolveStackEgress(stack),
  readStackPolicyLists: (stack) => readStackPolicyLists(stack),
  runPulumi: runPulumiScript,
  admin: (socketPath, request) => adminRequest(socketPath, request),
};

class Failure extends Error {}

export async function run(argv: string[], io: EgressIO, deps: Partial<EgressDeps> = {}): Promise<number> {
  const d: EgressDeps = { ...DEFAULT_DEPS, ...deps };
  let args: EgressArgs;
  try {
    args = parseEgressArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`clawjail egress: ${e.message}\n(try clawjail egress --help)\n`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(HELP[args.command ?? 'egress']);
    return 0;
  }
  if (args.command === null) {
    io.stderr.write(HELP.egress);
    return 2;
  }
  const stack = args.dir === null ? (args.stack ?? 'dev') : null;
  try {
    const dir = args.dir !== null ? args.dir : await d.resolveStackEgress(stack as string);
    checkDir(dir);
    switch (args.command) {
      case 'log':
        return await log(dir, args, io, d);
      case 'pending':
        return await pending(dir, args, io, d);
      case 'status':
        return await status(dir, args, io, d);
      case 'allow':
      case 'deny':
        return await change(dir, stack, args, io, d);
    }
  } catch (e) {
    io.stderr.write(`clawjail egress ${args.command}: ${(e as Error).message}\n`);
    return 1;
  }
}

const socketOf = (dir: string) => path.join(dir, 'admin.sock');

async function ask(dir: string, request: AdminRequest, d: EgressDeps): Promise<AdminResponse> {
  const r = await d.admin(socketOf(dir), request);
  if (!r.ok) throw new Failure(`the egress proxy refused: ${safeText(r.error ?? 'no reason given')}`);
  return r;
}

async function pending(dir: string, args: EgressArgs, io: EgressIO, d: EgressDeps): Promise<number> {
  const r = await ask(dir, { op: 'pending' }, d);
  if (args.json) {
    io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(formatPending(r));
  return 0;
}

interface PendingItem {
  host: string;
  port: number;
  count: number;
  first: string;
  last: string;
  reason: string;
}

/** The `pending` answer as a table. Pure. */
export function formatPending(r: AdminResponse): string {
  const items = (Array.isArray(r.pending) ? r.pending : []) as PendingItem[];
  if (!items.length) return 'nothing pending: no refused destination is waiting for a decision\n';
  const rows = items.map((p) => [`${p.host}:${p.port}`, String(p.count), String(p.reason), String(p.first), String(p.last)].map(safeText));
  const head = ['DESTINATION', 'COUNT', 'REASON', 'FIRST', 'LAST'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const lines = [head, ...rows].map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
  return `${lines.join('\n')}\ndecide with: clawjail egress allow HOST[:PORT] [--for DURATION] | clawjail egress deny HOST[:PORT]\n`;
}

async function status(dir: string, args: EgressArgs, io: EgressIO, d: EgressDeps): Promise<number> {
  const r = await ask(dir, { op: 'status' }, d);
  if (args.json) {
    io.stdout.write(JSON.stringify(r, null, 2) + '\n');
    return 0;
  }
  io.stdout.write(formatStatus(r, dir, (d.now ?? Date.now)()));
  return 0;
}

/** The `status` answer, readable. Pure. */
export function formatStatus(r: AdminResponse, dir: string, now: number): string {
  const list = (v: unknown) => (Array.isArray(v) ? v.map(safeText) : []);
  const allow = list(r.allow);
  const deny = list(r.deny);
  const temporary = (Array.isArray(r.temporary) ? r.temporary : []) as { entry: string; expires: string }[];
  const out = [`egress gate: ${safeText(dir)}`];
  if (r.policyError) out.push(`POLICY ERROR: ${safeText(r.policyError)} (everything is denied until policy.json is fixed)`);
  out.push(`allow (${allow.length}): ${allow.join(', ') || '-'}`);
  out.push(`deny (${deny.length}): ${deny.join(', ') || '-'}`);
  if (temporary.length) {
    out.push(`temporary allows (${temporary.length}):`);
    for (const t of temporary) {
      const left = (Date.parse(t.expires) - now) / 1000;
      out.push(`  ${safeText(t.entry)}  until ${safeText(t.expires)}${Number.isFinite(left) ? ` (${formatDuration(left)} left)` : ''}`);
    }
  } else out.push('temporary allows: none');
  out.push(`open connections: ${safeText(r.open ?? '?')}`);
  out.push(`pending: ${safeText(r.pending ?? '?')}${Number(r.pending) > 0 ? ' (see: clawjail egress pending)' : ''}`);
  return out.join('\n') + '\n';
}

async function change(dir: string, stack: string | null, args: EgressArgs, io: EgressIO, d: EgressDeps): Promise<number> {
  const op = args.command as 'allow' | 'deny';
  const entry = args.entry as string;
  const temporary = args.seconds !== null;
  let configWritten = false;
  if (stack !== null && !temporary) {
    const current = d.readStackPolicyLists(stack);
    const next = mergePolicyLists(current, op, entry);
    const written: string[] = [];
    for (const which of next.changed) {
      try {
        await d.runPulumi(pulumiConfigSetArgs(stack, which, next[which]));
      } catch (e) {
        io.stderr.write(
          `clawjail egress ${op}: could not update the config of stack ${stack} (${CONFIG_KEYS[which]}): ${(e as Error).message}\n` +
            (written.length
              ? `${written.join(' and ')} was already written; the live policy was NOT changed (run the command again)\n`
              : 'nothing was changed, neither the stack config nor the live policy\n'),
        );
        return 1;
      }
      written.push(CONFIG_KEYS[which]);
      io.stdout.write(`stack ${stack}: ${CONFIG_KEYS[which]} = ${JSON.stringify(next[which])}\n`);
    }
    if (!next.changed.length) io.stdout.write(`stack ${stack}: ${entry} is already in ${CONFIG_KEYS[op]}\n`);
    configWritten = next.changed.length > 0;
  }
  const request: AdminRequest = op === 'deny' ? { op, entry } : temporary ? { op, entry, seconds: args.seconds as number } : { op, entry };
  try {
    await ask(dir, request, d);
  } catch (e) {
    const why = (e as Error).message;
    if (configWritten) {
      io.stderr.write(
        `clawjail egress ${op}: the config of stack ${stack} was updated, but the live change failed: ${why}\n` +
          `the proxy still runs the old policy; the next \`pulumi up\` applies the new one\n`,
      );
    } else io.stderr.write(`clawjail egress ${op}: the live change failed: ${why}\n`);
    return 1;
  }
  if (op === 'deny') io.stdout.write(`denied ${entry}${stack === null ? ' (live only: the policy file of this proxy)' : ''}; open tunnels to it were closed\n`);
  else if (temporary) {
    const until = new Date((d.now ?? Date.now)() + (args.seconds as number) * 1000).toISOString();
    io.stdout.write(`allowed ${entry} for ${formatDuration(args.seconds as number)} (until about ${until}; in the proxy's memory only)\n`);
  } else io.stdout.write(`allowed ${entry}${stack === null ? ' (live only: the policy file of this proxy)' : ''}\n`);
  return 0;
}

// ---- log ----

const LOG = 'decisions.jsonl';
const FOLLOW_DEFAULT_LINES = 20;

/** Two pieces of a log, each ending in a newline unless empty. */
function joinLogs(...parts: string[]): string {
  return parts.filter((p) => p !== '').map((p) => (p.endsWith('\n') ? p : p + '\n')).join('');
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

async function log(dir: string, args: EgressArgs, io: EgressIO, d: EgressDeps): Promise<number> {
  const current = path.join(dir, LOG);
  const rotated = `${current}.1`;
  const opts = { denied: args.denied, json: args.json };
  if (!args.follow) {
    const text = joinLogs(readIfExists(rotated), readIfExists(current));
    const { out, unreadable } = renderLog(text.split('\n'), { ...opts, lines: args.lines });
    for (const line of out) io.stdout.write(line + '\n');
    if (unreadable) io.stderr.write(`(${unreadable} line(s) of the log are not decisions and were skipped)\n`);
    if (!text) io.stderr.write(`no decisions logged yet in ${dir}\n`);
    return 0;
  }
  const follower = new LogFollower(current);
  const first = joinLogs(readIfExists(rotated), follower.readNew());
  const { out } = renderLog(first.split('\n'), { ...opts, lines: args.lines ?? FOLLOW_DEFAULT_LINES });
  for (const line of out) io.stdout.write(line + '\n');
  let signal = d.signal;
  let stop: (() => void) | null = null;
  if (!signal) {
    const controller = new AbortController();
    stop = () => controller.abort();
    process.once('SIGINT', stop);
    signal = controller.signal;
  }
  try {
    await new Promise<void>((resolve) => {
      const tick = () => {
        try {
          const { out: more } = renderLog(follower.readNew().split('\n'), { ...opts, lines: null });
          for (const line of more) io.stdout.write(line + '\n');
        } catch (e) {
          io.stderr.write(`clawjail egress log: ${(e as Error).message}\n`);
        }
      };
      const timer = setInterval(tick, d.pollMs ?? 250);
      const done = () => {
        clearInterval(timer);
        tick();
        resolve();
      };
      if ((signal as AbortSignal).aborted) done();
      else (signal as AbortSignal).addEventListener('abort', done, { once: true });
    });
  } finally {
    if (stop) process.removeListener('SIGINT', stop);
    follower.close();
  }
  return 0;
}

/**
 * Reads what is appended to a log file, across rotation: it keeps the open file, so when the
 * proxy renames it to `.1` and starts a new one, the rest of the old file is read through the
 * same descriptor before the new file is opened. Returns complete lines only.
 */
export class LogFollower {
  private fd: number | null = null;
  private ino = -1;
  private offset = 0;
  private carry = '';

  constructor(private readonly file: string) {
    this.open();
  }

  private open(): void {
    try {
      this.fd = fs.openSync(this.file, 'r');
      this.ino = fs.fstatSync(this.fd).ino;
      this.offset = 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.fd = null;
    }
  }

  private drain(): string {
    if (this.fd === null) return '';
    const size = fs.fstatSync(this.fd).size;
    if (size < this.offset) {
      this.offset = 0; // truncated in place
      this.carry = '';
    }
    let text = '';
    const buf = Buffer.alloc(1 << 16);
    while (this.offset < size) {
      const n = fs.readSync(this.fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
      if (n <= 0) break;
      this.offset += n;
      text += buf.subarray(0, n).toString('utf8');
    }
    return text;
  }

  /** The complete lines appended since the last call, as text ending in a newline (or ''). */
  readNew(): string {
    let text = this.drain();
    let now: fs.Stats | null = null;
    try {
      now = fs.statSync(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (now && now.ino !== this.ino) {
      // Rotated (or first created): the old file is finished; a torn last line of it is kept as is.
      if (this.fd !== null) fs.closeSync(this.fd);
      const old = this.carry + text;
      if (old && !old.endsWith('\n')) text += '\n';
      this.open();
      text += this.drain();
    }
    const { lines, carry } = splitLines(this.carry, text);
    this.carry = carry;
    return lines.length ? lines.join('\n') + '\n' : '';
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** The state directory must be one, and readable from here. */
function checkDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Failure(`cannot read ${dir}: permission denied (the egress state belongs to the proxy's user: run clawjail egress as root)`);
    }
    throw new Failure(`${dir} is not a directory (the egress state directory): ${(e as Error).message}`);
  }
  if (!st.isDirectory()) throw new Failure(`${dir} is not a directory (the egress state directory)`);
}
