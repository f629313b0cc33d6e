// The one grammar of a policy entry (src/entry.ts): what each problem is called, the canonical
// form, and the edges of every limit. test/unit/egressEntry.test.ts checks that the gate, the
// stack's config and the CLI agree on it.
import { canonicalEgressEntry, DEFAULT_ALLOW_PORT, EgressEntryError, isCanonicalEgressEntry, parseEgressEntry, type EgressEntryProblem } from '../src/entry';

const label63 = 'a'.repeat(63);
/** A name of exactly n characters (193 <= n <= 255): three labels of 63, then one of n - 192. */
const nameOf = (n: number): string => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n - 192)}`;

describe('parseEgressEntry', () => {
  it('splits an entry into host, wildcard and port, in canonical form', () => {
    expect(parseEgressEntry('api.example.org')).toEqual({ text: 'api.example.org', host: 'api.example.org', wildcard: false, port: null });
    expect(parseEgressEntry('*.Example.ORG.:8443')).toEqual({ text: '*.example.org:8443', host: 'example.org', wildcard: true, port: 8443 });
    expect(parseEgressEntry('example.org:443').text).toBe('example.org:443'); // an explicit 443 is kept
    expect(DEFAULT_ALLOW_PORT).toBe(443);
  });

  it.each([
    ['xn--bcher-kva.de'],
    ['1password.com'],
    ['123.example.org'],
    ['a-b.example.org'],
    [`${label63}.org`],
    [nameOf(253)],
    [`*.${nameOf(253)}`],
    ['example.org:1'],
    ['example.org:65535'],
  ])('takes %j', (raw) => {
    expect(canonicalEgressEntry(raw)).toBe(raw);
    expect(isCanonicalEgressEntry(raw)).toBe(true);
  });

  it.each<[unknown, EgressEntryProblem]>([
    [42, 'not-a-string'],
    [null, 'not-a-string'],
    [undefined, 'not-a-string'],
    ['', 'empty'],
    ['   ', 'empty'],
    [' example.org', 'space'],
    ['example.org\t', 'space'],
    ['exa mple.org', 'space'],
    ['https://example.org', 'url'],
    ['example.org/x', 'path'],
    ['example.org?x', 'path'],
    ['example.org#x', 'path'],
    ['u@example.org', 'user-info'],
    ['[::1]', 'ip-literal'],
    ['[::1]:443', 'ip-literal'],
    ['::1', 'ip-literal'],
    ['1.2.3.4', 'ip-literal'],
    ['1.2.3.4:443', 'ip-literal'],
    ['127.1', 'ip-literal'],
    ['0x7f.1', 'ip-literal'],
    ['0X7F.1', 'ip-literal'],
    ['1.2.3.4.5', 'ip-literal'],
    ['example.123', 'ip-literal'],
    ['example.0x1f', 'ip-literal'],
    ['2130706433', 'ip-literal'],
    ['*.1.2.3', 'ip-literal'],
    ['example.org:', 'port'],
    ['example.org:0', 'port'],
    ['example.org:00', 'port'],
    ['example.org:0443', 'port'],
    ['example.org:65536', 'port'],
    ['example.org:99999', 'port'],
    ['example.org:123456', 'port'],
    ['example.org:https', 'port'],
    ['example.org:-1', 'port'],
    ['*', 'wildcard'],
    ['*.', 'wildcard'],
    ['*.:443', 'wildcard'],
    ['**.example.org', 'wildcard'],
    ['*example.org', 'wildcard'],
    ['a.*.example.org', 'wildcard'],
    ['*.*.example.org', 'wildcard'],
    ['example.*', 'wildcard'],
    ['.', 'no-host'],
    [':443', 'no-host'],
    ['*..', 'no-host'],
    [nameOf(254), 'too-long'],
    [`*.${nameOf(254)}`, 'too-long'],
    [`${'a'.repeat(64)}.org`, 'label'],
    ['a..example.org', 'label'],
    ['.example.org', 'label'],
    ['example.org..', 'label'],
    ['-a.example.org', 'label'],
    ['a-.example.org', 'label'],
    ['_acme.example.org', 'label'],
    ['a_b.example.org', 'label'],
    ['bücher.de', 'label'],
    ['ex!ample.org', 'label'],
    ['localhost', 'single-label'],
    ['localhost.', 'single-label'],
    ['*.org', 'single-label'],
    ['*.org:8443', 'single-label'],
  ])('refuses %j (%s)', (raw, problem) => {
    let err: unknown;
    try {
      parseEgressEntry(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EgressEntryError);
    expect((err as EgressEntryError).problem).toBe(problem);
    // The message names the entry it is about.
    if (typeof raw === 'string') expect((err as Error).message.startsWith(JSON.stringify(raw))).toBe(true);
    if (typeof raw === 'string') expect(isCanonicalEgressEntry(raw)).toBe(false);
  });

  it('normalizes case and one trailing dot only; the canonical form parses to itself', () => {
    for (const [raw, text] of [
      ['Example.ORG', 'example.org'],
      ['example.org.', 'example.org'],
      ['example.org.:80', 'example.org:80'],
      ['*.Example.org.', '*.example.org'],
    ]) {
      expect(canonicalEgressEntry(raw)).toBe(text);
      expect(isCanonicalEgressEntry(raw)).toBe(false);
      expect(canonicalEgressEntry(text)).toBe(text);
      expect(isCanonicalEgressEntry(text)).toBe(true);
    }
  });

  it('the name limit is on the host or suffix, as the label limit is on each label', () => {
    expect(nameOf(253)).toHaveLength(253);
    expect(nameOf(254)).toHaveLength(254);
  });
});
