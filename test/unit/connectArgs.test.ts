// `clawjail connect`'s arguments: both spellings of every value option, and --stack excluding a
// pinned fingerprint however it is written (it once caught only `--fingerprint AB`).
import { describe, expect, it } from '@jest/globals';
import { parseArgs } from '../../cli/commands/connect';

const FP = Array(32).fill('AB').join(':');

describe('clawjail connect arguments', () => {
  it.each([
    [['--stack', 'dev', '--fingerprint', FP]],
    [['--stack', 'dev', `--fingerprint=${FP}`]],
    [['--stack=dev', `--fingerprint=${FP}`]],
    [[`--fingerprint=${FP}`, '--stack', 'dev']],
  ])('%j: --stack and --fingerprint are exclusive', (argv) => {
    expect(() => parseArgs(argv)).toThrow(/--stack and --fingerprint are exclusive/);
  });

  it('takes --opt=value and --opt value alike', () => {
    const a = parseArgs(['wss://127.0.0.1:8443', `--fingerprint=${FP}`, '--timeout=500', '--send', '{}']);
    const b = parseArgs(['wss://127.0.0.1:8443', '--fingerprint', FP, '--timeout', '500', '--send={}']);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ url: 'wss://127.0.0.1:8443', fingerprint: FP, timeoutMs: 500, send: '{}' });
  });

  it('--stack alone ignores CLAWJAIL_FINGERPRINT (the stack gives it), and --fingerprint alone uses it', () => {
    expect(parseArgs(['--stack', 'dev'], { CLAWJAIL_FINGERPRINT: FP }).fingerprint).toBeUndefined();
    expect(parseArgs(['wss://h:1'], { CLAWJAIL_FINGERPRINT: FP }).fingerprint).toBe(FP);
  });

  it('refuses unknown options and missing values', () => {
    expect(() => parseArgs(['--fingerprnt', FP])).toThrow(/unknown option --fingerprnt/);
    expect(() => parseArgs(['--stack'])).toThrow(/--stack needs a value/);
  });
});
