// The one argument parser of the clawjail CLI (cli/args.ts): strict, short messages, and the
// options part of --help from the same definitions.
import { HELP_OPTION, optionsHelp, parseCommandLine, UsageError, type OptionDefs } from '../../cli/args';

const DEFS = {
  stack: { type: 'string', value: 'NAME', help: 'the stack' },
  lines: { type: 'string', short: 'n', value: 'N', help: 'how many\nlines' },
  json: { type: 'boolean', help: 'as JSON' },
  ...HELP_OPTION,
} satisfies OptionDefs;

describe('the CLI argument parser', () => {
  it('takes both spellings of a value, short options, and positionals after --', () => {
    expect(parseCommandLine(['--stack', 'a', 'list'], DEFS)).toEqual({ values: { stack: 'a' }, positionals: ['list'] });
    expect(parseCommandLine(['--stack=a', '-n', '3', '--json'], DEFS)).toEqual({ values: { stack: 'a', lines: '3', json: true }, positionals: [] });
    expect(parseCommandLine(['--stack=-odd', '--', '--json'], DEFS)).toEqual({ values: { stack: '-odd' }, positionals: ['--json'] });
  });

  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['-x'], 'unknown option -x'],
    [['--stack'], '--stack needs a value'],
    [['--stack', '--json'], '--stack needs a value'],
    [['-n'], '--lines needs a value'],
    [['--json=yes'], '--json takes no value'],
  ])('%j is a usage error: %s', (argv, message) => {
    let err: unknown;
    try {
      parseCommandLine(argv as string[], DEFS);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message.startsWith(message)).toBe(true);
  });

  it('writes the options part of --help, aligned, continuation lines indented', () => {
    expect(optionsHelp(DEFS)).toBe(
      [
        '  --stack NAME    the stack',
        '  -n, --lines N   how many',
        '                  lines',
        '  --json          as JSON',
        '  -h, --help      this text',
        '',
      ].join('\n'),
    );
  });
});
