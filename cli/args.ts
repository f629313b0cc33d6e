// One argument parser for every `clawjail` command: node:util.parseArgs (strict: an unknown
// option or a missing value is an error, never a positional), its errors turned into one
// UsageError with a short message, and the options part of each command's --help written from
// the same definitions that parse it.
import { parseArgs } from 'node:util';

/** A command line the command cannot run: exit status 2, the message and the command's help. */
export class UsageError extends Error {}

export interface OptionDef {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in --help (string options), e.g. NAME. */
  value?: string;
  /** One or more lines for --help. */
  help: string;
}

export type OptionDefs = Record<string, OptionDef>;

export type Values<D extends OptionDefs> = { [K in keyof D]?: D[K]['type'] extends 'boolean' ? boolean : string };

export interface ParsedLine<D extends OptionDefs> {
  values: Values<D>;
  positionals: string[];
}

/** The options every command takes. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h', help: 'this text' } } as const satisfies OptionDefs;

/** Parses argv against defs (strict); throws UsageError. `--` ends the options. */
export function parseCommandLine<D extends OptionDefs>(argv: string[], defs: D): ParsedLine<D> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, d] of Object.entries(defs)) options[name] = d.short ? { type: d.type, short: d.short } : { type: d.type };
  try {
    const r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: r.values as Values<D>, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(usageMessage(e as Error & { code?: string }));
  }
}

/** parseArgs' messages, shortened to what the operator needs. */
function usageMessage(e: Error & { code?: string }): string {
  const m = /'(-[^' ,]+)(?:, (--[^' ]+))?/.exec(e.message);
  const name = m ? (m[2] ?? m[1]) : 'an option';
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${name}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/does not take an argument/.test(e.message)) return `${name} takes no value`;
    return `${name} needs a value (write ${name}=VALUE for a value that starts with -)`;
  }
  return e.message.split('\n')[0];
}

/** The options part of --help, aligned, in the order of defs. */
export function optionsHelp(defs: OptionDefs): string {
  const rows = Object.entries(defs).map(([name, d]) => {
    const flag = `${d.short ? `-${d.short}, ` : ''}--${name}${d.type === 'string' ? ` ${d.value ?? 'VALUE'}` : ''}`;
    return { flag, help: d.help.split('\n') };
  });
  const width = Math.max(...rows.map((r) => r.flag.length)) + 3;
  return rows.map((r) => `  ${r.flag.padEnd(width)}${r.help.join(`\n  ${' '.repeat(width)}`)}`).join('\n') + '\n';
}
