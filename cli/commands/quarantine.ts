// clawjail quarantine list | show ID | restore ID [--yes] | purge ID [--yes]
//
// Operates on a quarantine store (the directory the warden's WARDEN_QUARANTINE names): --store DIR,
// else the quarantine volume of --stack NAME, else $CLAWJAIL_QUARANTINE, else the dev stack's.
// Every action, including a refused or declined one, is appended to <store>/audit.log.

import * as fs from 'fs';
import * as path from 'path';
import { appendAuditSync } from '../../warden/src/audit';
import {
  QuarantineRecord,
  StoreError,
  auditPath,
  entryDir,
  listRecords,
  purgeEntry,
  readRecord,
  restoreEntry,
  restoreTarget,
  verifyContent,
} from '../../warden/src/quarantineStore';
import { pathFromRecord, printable, printableText, type RecordedPath } from '../../warden/src/paths';
import type { CliIO } from '../io';
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../args';
import { resolveStackQuarantine, type StackQuarantine } from '../stackQuarantine';

export type { CliIO } from '../io';

const OPTIONS = {
  store: { type: 'string', value: 'DIR', help: 'the quarantine store (quarantine/ and audit.log)' },
  stack: { type: 'string', value: 'NAME', help: "the quarantine volume of that stack, on this machine's Docker engine (needs\nroot to read); its workspace becomes the default for --workspace" },
  cwd: { type: 'string', value: 'DIR', help: 'with --stack: where Pulumi.<NAME>.yaml is (default: the clawjail repository)' },
  to: { type: 'string', value: 'PATH', help: 'restore: write here instead of the original place' },
  workspace: { type: 'string', value: 'DIR', help: "restore: put the file back at its place in this workspace, as seen from\nhere (default: $CLAWJAIL_WORKSPACE, else the stack's workspace); restore\nneeds this or --to" },
  yes: { type: 'boolean', short: 'y', help: 'restore/purge: do not ask (required when stdin is not a terminal)' },
  json: { type: 'boolean', help: 'list/show: machine-readable output' },
  ...HELP_OPTION,
} satisfies OptionDefs;

const HELP = `usage: clawjail quarantine <command> [options]

commands:
  list                 list quarantined files (oldest first)
  show ID              show one entry's record and check its content against the recorded sha256
  restore ID           copy the file back (never overwrites; the entry stays until purged)
  purge ID             delete the entry for good

options:
${optionsHelp(OPTIONS)}
The store: --store DIR, else --stack NAME, else $CLAWJAIL_QUARANTINE, else the dev stack's
quarantine volume. Every action is appended to <store>/audit.log. A file restored into a watched workspace is
scanned again by the warden: restore a false positive elsewhere (--to) or fix the signature.
`;

interface Args {
  command: string | null;
  id: string | null;
  store: string | null;
  stack: string | null;
  cwd: string | undefined;
  to: string | null;
  workspace: string | null;
  yes: boolean;
  json: boolean;
  help: boolean;
}

/** Names of earlier versions, refused by name so that an old script fails with the new spelling. */
function refuseRenamed(argv: string[], env: NodeJS.ProcessEnv): void {
  if (argv.some((a) => a === '--jail' || a.startsWith('--jail='))) throw new UsageError('--jail was renamed --store');
  if (env.CLAWJAIL_JAIL !== undefined) throw new UsageError('CLAWJAIL_JAIL was renamed CLAWJAIL_QUARANTINE: set that instead');
}

function parseQuarantineArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  refuseRenamed(argv, env);
  const { values: v, positionals } = parseCommandLine(argv, OPTIONS);
  if (positionals.length > 2) throw new UsageError(`unexpected argument ${positionals[2]}`);
  return {
    command: positionals[0] ?? null,
    id: positionals[1] ?? null,
    store: v.store ?? null,
    stack: v.stack ?? null,
    cwd: v.cwd,
    to: v.to ?? null,
    workspace: v.workspace ?? (env.CLAWJAIL_WORKSPACE || null),
    yes: v.yes ?? false,
    json: v.json ?? false,
    help: v.help ?? false,
  };
}


export interface QuarantineDeps {
  resolveStackQuarantine: (stack: string, cwd?: string) => Promise<StackQuarantine>;
}

/** --store, else --stack, else $CLAWJAIL_QUARANTINE, else the dev stack. */
async function locateStore(args: Args, env: NodeJS.ProcessEnv, deps: QuarantineDeps): Promise<string> {
  if (args.store) return args.store;
  if (!args.stack && env.CLAWJAIL_QUARANTINE) return env.CLAWJAIL_QUARANTINE;
  const stack = args.stack ?? 'dev';
  try {
    const found = await deps.resolveStackQuarantine(stack, args.cwd);
    args.workspace ??= found.workspace;
    return found.store;
  } catch (e) {
    throw new UsageError(`no quarantine store: ${(e as Error).message}; pass --store DIR, --stack NAME or set CLAWJAIL_QUARANTINE`);
  }
}

export async function run(
  argv: string[],
  io: CliIO,
  env: NodeJS.ProcessEnv = process.env,
  deps: QuarantineDeps = { resolveStackQuarantine },
): Promise<number> {
  let args: Args;
  try {
    args = parseQuarantineArgs(argv, env);
  } catch (e) {
    io.stderr.write(`clawjail quarantine: ${(e as Error).message}\n(try --help)\n`);
    return 2;
  }
  if (args.help || !args.command) {
    (args.help ? io.stdout : io.stderr).write(HELP);
    return args.help ? 0 : 2;
  }
  if (!['list', 'show', 'restore', 'purge'].includes(args.command)) {
    io.stderr.write(`clawjail quarantine: unknown command ${JSON.stringify(args.command)} (list, show, restore, purge)\n`);
    return 2;
  }
  if (args.store && args.stack) {
    io.stderr.write('clawjail quarantine: --store and --stack name the store twice; pass one\n');
    return 2;
  }
  let store: string;
  try {
    store = await locateStore(args, env, deps);
  } catch (e) {
    io.stderr.write(`clawjail quarantine: ${(e as Error).message}\n`);
    return 2;
  }
  if (!isDir(store)) {
    io.stderr.write(`clawjail quarantine: ${store} is not a directory\n`);
    return 2;
  }
  if (args.command !== 'list' && !args.id) {
    io.stderr.write(`clawjail quarantine: ${args.command} needs an ID (see: clawjail quarantine list)\n`);
    return 2;
  }
  const audit = (entry: { event: string; [k: string]: unknown }) => appendAuditSync(auditPath(store), { ...entry, user: userName(env) });

  try {
    switch (args.command) {
      case 'list':
        return list(store, args, io, audit);
      case 'show':
        return await show(store, args.id as string, args, io, audit);
      case 'restore':
        return await restore(store, args.id as string, args, io, audit);
      case 'purge':
        return await purge(store, args.id as string, args, io, audit);
    }
  } catch (e) {
    if (e instanceof StoreError) {
      io.stderr.write(`clawjail quarantine: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  return 2;
}

/**
 * A recorded path as the operator should read it: from its exact bytes, never the record's own
 * text field, which the warden (the prisoner's uid) wrote and could make say something else.
 */
function shown(p: RecordedPath): string {
  try {
    return printable(pathFromRecord(p));
  } catch {
    return '(unreadable path)';
  }
}

type Audit = (entry: { event: string; [k: string]: unknown }) => void;

function list(store: string, args: Args, io: CliIO, audit: Audit): number {
  const recs = listRecords(store);
  audit({ event: 'cli-list', count: recs.length });
  if (args.json) {
    io.stdout.write(JSON.stringify(recs, null, 2) + '\n');
    return 0;
  }
  if (!recs.length) {
    io.stdout.write('quarantine is empty\n');
    return 0;
  }
  const rows = recs.map((r) => [r.id, r.status === 'quarantined' ? r.verdict : `${r.verdict} (${r.status})`, printableText(r.signature ?? shortReason(r)), String(r.size), shown(r.original.relative) || shown(r.original.path)]);
  const head = ['ID', 'VERDICT', 'SIGNATURE / REASON', 'SIZE', 'ORIGINAL PATH'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) io.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ') + '\n');
  return 0;
}

async function show(store: string, id: string, args: Args, io: CliIO, audit: Audit): Promise<number> {
  const rec = readRecord(store, id);
  const check = await verifyContent(store, id);
  audit({ event: 'cli-show', id, contentOk: check.ok });
  if (args.json) {
    io.stdout.write(JSON.stringify({ ...rec, contentCheck: check }, null, 2) + '\n');
    return check.ok ? 0 : 1;
  }
  const o = rec.original;
  const lines = [
    `id:            ${rec.id}`,
    `status:        ${rec.status}`,
    `quarantined:   ${printableText(rec.time)}`,
    `verdict:       ${rec.verdict}${rec.signature ? ` (${printableText(rec.signature)})` : ''}`,
    `reason:        ${printableText(rec.reason)}`,
    `original path: ${shown(o.path)}`,
    `  (bytes, b64) ${o.path.b64}`,
    `relative:      ${shown(o.relative)}`,
    `owner:         uid ${o.uid ?? '?'} gid ${o.gid ?? '?'}, mode ${o.mode ?? '?'}, links ${o.nlink ?? '?'}, modified ${o.mtime === null ? '?' : printableText(o.mtime)}`,
    `size:          ${rec.size} bytes`,
    `sha256:        ${rec.sha256 ?? 'unknown'}`,
    `content check: ${check.ok ? 'ok, matches the record' : `MISMATCH (now ${check.sha256 ?? 'missing'}, ${check.size} bytes)`}`,
    `method:        ${rec.method}`,
    `tombstone:     ${rec.tombstone ? shown(rec.tombstone) : 'none'}`,
    `stored at:     ${entryDir(store, rec.id)}/content`,
    ...rec.notes.map((n) => `note:          ${printableText(n)}`),
  ];
  io.stdout.write(lines.join('\n') + '\n');
  return check.ok ? 0 : 1;
}

async function restore(store: string, id: string, args: Args, io: CliIO, audit: Audit): Promise<number> {
  const rec = readRecord(store, id);
  // Never the record's absolute path: the warden that wrote it shares the prisoner's uid.
  if (!args.to && !args.workspace) {
    io.stderr.write('clawjail quarantine: restore needs --to PATH, or --workspace DIR (or --stack NAME, whose workspace is used)\n');
    return 2;
  }
  const dest: { to: Buffer } | { workspace: string } = args.to ? { to: Buffer.from(path.resolve(args.to)) } : { workspace: args.workspace as string };
  const target = 'to' in dest ? dest.to : restoreTarget(rec, dest.workspace);
  const targetText = printable(target);
  if (exists(target)) {
    audit({ event: 'restore-refused', id, target: { text: targetText, b64: target.toString('base64') }, why: 'target exists' });
    io.stderr.write(`clawjail quarantine: refusing to overwrite ${targetText} (it exists); use --to PATH\n`);
    return 1;
  }
  const what = `${rec.verdict === 'infected' ? `INFECTED (${printableText(rec.signature)})` : printableText(rec.reason)} file ${rec.id}`;
  const ok = await confirm(args, io, `Restore ${what} to ${targetText}? [y/N] `);
  if (ok !== true) {
    audit({ event: 'restore-declined', id, target: { text: targetText, b64: target.toString('base64') }, why: ok === null ? 'no --yes and stdin is not a terminal' : 'declined' });
    if (ok === null) io.stderr.write('clawjail quarantine: not restoring without confirmation: pass --yes (stdin is not a terminal)\n');
    else io.stdout.write('not restored\n');
    return ok === null ? 2 : 1;
  }
  const r = await restoreEntry(store, rec, dest);
  audit({ event: 'restore', id, target: { text: targetText, b64: target.toString('base64') }, sha256: r.sha256, recordSha256: rec.sha256, tombstoneRemoved: r.tombstoneRemoved, ownerRestored: r.ownerRestored });
  io.stdout.write(`restored ${rec.id} to ${targetText}${r.tombstoneRemoved ? ' (tombstone removed)' : ''}\n`);
  io.stdout.write('the entry stays in the quarantine until purged; a warden watching that place will scan the file again\n');
  return 0;
}

async function purge(store: string, id: string, args: Args, io: CliIO, audit: Audit): Promise<number> {
  const rec = readRecord(store, id);
  const ok = await confirm(args, io, `Delete quarantined file ${rec.id} (${shown(rec.original.path)}, ${rec.size} bytes) for good? [y/N] `);
  if (ok !== true) {
    audit({ event: 'purge-declined', id, why: ok === null ? 'no --yes and stdin is not a terminal' : 'declined' });
    if (ok === null) io.stderr.write('clawjail quarantine: not purging without confirmation: pass --yes (stdin is not a terminal)\n');
    else io.stdout.write('not purged\n');
    return ok === null ? 2 : 1;
  }
  purgeEntry(store, id);
  audit({ event: 'purge', id, path: rec.original.path, sha256: rec.sha256, size: rec.size, signature: rec.signature, verdict: rec.verdict });
  io.stdout.write(`purged ${rec.id}\n`);
  return 0;
}

/** true = confirmed, false = declined, null = cannot ask (not a TTY, no --yes). */
async function confirm(args: Args, io: CliIO, question: string): Promise<boolean | null> {
  if (args.yes) return true;
  if (!io.stdin.isTTY) return null;
  io.stdout.write(question);
  const answer = await readLine(io.stdin);
  return /^\s*y(es)?\s*$/i.test(answer);
}

function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(buf.slice(0, nl));
    };
    const finish = (line: string) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.pause();
      resolve(line);
    };
    const onEnd = () => finish(buf);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

function shortReason(r: QuarantineRecord): string {
  return r.reason.replace(/^could not be scanned \(([^:)]+).*$/, 'unscannable: $1');
}

function exists(p: Buffer): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function userName(env: NodeJS.ProcessEnv): string {
  return env.SUDO_USER || env.USER || env.LOGNAME || String(process.getuid?.() ?? '?');
}
