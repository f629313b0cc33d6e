// The policy's grammar and matching: wildcards, ports, deny wins, bad entries, temporary allows.
import { decide, normalizeEntry, parseEntry, parsePolicy, policyDocument, sortedUnique, TemporaryAllows, type Policy } from '../src/policy';

function policy(allow: string[], deny: string[] = []): Policy {
  return parsePolicy({ allow, deny });
}

describe('policy entries', () => {
  it.each([
    ['Example.ORG', 'example.org'],
    ['example.org.', 'example.org'],
    ['*.Example.org:8443', '*.example.org:8443'],
    ['api.example.org:443', 'api.example.org:443'],
  ])('normalizes %j to %j', (raw, norm) => {
    expect(normalizeEntry(raw)).toBe(norm);
  });

  it.each([
    [''],
    ['*'],
    ['*.'],
    ['a.*.example.org'],
    ['*example.org'],
    ['example.org:0'],
    ['example.org:65536'],
    ['example.org:'],
    ['example.org:https'],
    ['https://example.org'],
    ['example.org/path'],
    ['exa mple.org'],
    ['1.2.3.4'],
    ['1.2.3.4:443'],
    ['[::1]:443'],
    ['::1'],
    ['127.1'],
    ['-bad.example.org'],
    ['bad-.example.org'],
    ['a..b'],
    ['x'.repeat(64) + '.org'],
    // Refused since the grammar is one (src/entry.ts) and the strictest copy's rule won:
    ['  api.example.org:443 '], // was trimmed here; the CLI and the stack's config refused it
    ['example.org:0443'], // was read as 443 here
    ['_acme.example.org'], // `_` was allowed here and in the CLI, not in the config
    ['localhost'], // a single label, and
    ['*.org'], // a whole top-level domain: allowed here and in the CLI, not in the config
    ['1.2.3.4.5'], // a numeric last label is an address to URL parsers (only <= 4 labels were caught)
    ['example.0x1f'],
  ])('refuses the bad entry %j', (raw) => {
    expect(() => parseEntry(raw)).toThrow();
  });

  it('refuses non-strings', () => {
    expect(() => parseEntry(42)).toThrow(/string/);
    expect(() => parseEntry(null)).toThrow(/string/);
  });

  it('sortedUnique normalizes, dedupes and sorts', () => {
    expect(sortedUnique(['b.org', 'A.org', 'a.org.', '*.c.org', 'b.org:80'])).toEqual(['*.c.org', 'a.org', 'b.org', 'b.org:80']);
    expect(policyDocument(policy(['z.org', 'a.org', 'z.org'], ['y.org']))).toEqual({ allow: ['a.org', 'z.org'], deny: ['y.org'] });
  });

  it('parsePolicy: unknown keys, non-lists and bad entries make the whole file invalid', () => {
    expect(() => parsePolicy({ alow: [] })).toThrow(/unknown key "alow"/);
    expect(() => parsePolicy({ allow: 'a.org' })).toThrow(/list/);
    expect(() => parsePolicy({ allow: ['a.org', '1.2.3.4'] })).toThrow(/allow\[1\]/);
    expect(() => parsePolicy([])).toThrow();
    expect(parsePolicy({})).toEqual({ allow: [], deny: [] });
  });
});

describe('decide', () => {
  const p = policy(['example.org', '*.wild.org', 'plain.org:80', '*.ports.org:8443', 'both.org', 'both.org:8080'], ['bad.wild.org', 'both.org:8080', '*.evil.example.org']);

  it('an allow entry without a port allows 443 only', () => {
    expect(decide(p, [], 'example.org', 443)).toMatchObject({ decision: 'allow', rule: 'example.org' });
    expect(decide(p, [], 'example.org', 80)).toMatchObject({ decision: 'deny', reason: 'not-allowed' });
    expect(decide(p, [], 'example.org', 8443)).toMatchObject({ decision: 'deny', reason: 'not-allowed' });
  });

  it('an allow entry with a port allows that port only', () => {
    expect(decide(p, [], 'plain.org', 80)).toMatchObject({ decision: 'allow', rule: 'plain.org:80' });
    expect(decide(p, [], 'plain.org', 443)).toMatchObject({ decision: 'deny', reason: 'not-allowed' });
    expect(decide(p, [], 'a.ports.org', 8443)).toMatchObject({ decision: 'allow', rule: '*.ports.org:8443' });
    expect(decide(p, [], 'a.ports.org', 443)).toMatchObject({ decision: 'deny' });
  });

  it('*.suffix matches any depth below the suffix, never the suffix itself or a look-alike', () => {
    expect(decide(p, [], 'a.wild.org', 443).decision).toBe('allow');
    expect(decide(p, [], 'a.b.c.wild.org', 443).decision).toBe('allow');
    expect(decide(p, [], 'wild.org', 443)).toMatchObject({ decision: 'deny', reason: 'not-allowed' });
    expect(decide(p, [], 'notwild.org', 443).decision).toBe('deny');
    expect(decide(p, [], 'wild.org.evil.com', 443).decision).toBe('deny');
    expect(decide(p, [], 'sub.example.org', 443).decision).toBe('deny');
  });

  it('names are compared lower-cased and without a trailing dot', () => {
    expect(decide(p, [], 'EXAMPLE.org.', 443).decision).toBe('allow');
    expect(decide(p, [], 'A.Wild.Org', 443).decision).toBe('allow');
  });

  it('deny wins over allow; a deny entry without a port denies every port', () => {
    expect(decide(p, [], 'bad.wild.org', 443)).toMatchObject({ decision: 'deny', reason: 'denied', rule: 'bad.wild.org' });
    expect(decide(p, [], 'bad.wild.org', 22)).toMatchObject({ decision: 'deny', reason: 'denied' });
    expect(decide(p, [], 'x.evil.example.org', 443)).toMatchObject({ decision: 'deny', reason: 'denied', rule: '*.evil.example.org' });
    expect(decide(p, [], 'example.org', 443).decision).toBe('allow');
  });

  it('a deny entry with a port denies that port only', () => {
    expect(decide(p, [], 'both.org', 8080)).toMatchObject({ decision: 'deny', reason: 'denied', rule: 'both.org:8080' });
    expect(decide(p, [], 'both.org', 443)).toMatchObject({ decision: 'allow', rule: 'both.org' });
  });

  it('IP literals are refused as such, even if a name would be allowed', () => {
    for (const h of ['1.2.3.4', '[::1]', '::1', '127.1', '0x7f.0.0.1', '2130706433']) {
      expect(decide(p, [], h, 443)).toMatchObject({ decision: 'deny', reason: 'ip-literal' });
    }
  });

  it('no policy denies everything (no-policy); bad names and ports are bad requests', () => {
    expect(decide(null, [], 'example.org', 443)).toMatchObject({ decision: 'deny', reason: 'no-policy' });
    expect(decide(p, [], 'exa_mple..org', 443)).toMatchObject({ decision: 'deny', reason: 'bad-request' });
    expect(decide(p, [], 'example.org', 0)).toMatchObject({ decision: 'deny', reason: 'bad-request' });
  });
});

describe('temporary allows', () => {
  it('allow until they expire (injected clock); deny still wins; re-adding replaces', () => {
    let now = 1_000_000;
    const t = new TemporaryAllows(() => now);
    const p = policy([], ['no.example.org']);
    t.add(parseEntry('temp.example.org'), 60);
    t.add(parseEntry('no.example.org'), 60);
    expect(decide(p, t.active(), 'temp.example.org', 443)).toMatchObject({ decision: 'allow', temporary: true, rule: 'temp.example.org' });
    expect(decide(p, t.active(), 'no.example.org', 443)).toMatchObject({ decision: 'deny', reason: 'denied' });
    now += 59_999;
    expect(decide(p, t.active(), 'temp.example.org', 443).decision).toBe('allow');
    now += 1;
    expect(decide(p, t.active(), 'temp.example.org', 443)).toMatchObject({ decision: 'deny', reason: 'not-allowed' });
    t.add(parseEntry('temp.example.org'), 10);
    t.add(parseEntry('temp.example.org'), 20);
    expect(t.active()).toHaveLength(1);
    expect(t.active()[0].expires).toBe(now + 20_000);
    t.remove('temp.example.org');
    expect(t.active()).toHaveLength(0);
  });
});
