// One grammar for an egress entry (egress/src/entry.ts), three callers: the gate reading its
// policy file or an admin request (egress/src/policy.ts parseEntry), the operator CLI
// (cli/egressPolicy.ts normalizeEntry) and the stack's config (infra/config.ts). The same entries
// go to all three, and they must agree: the gate and the CLI take the same entries and give the
// same canonical text (or the same reason); the config takes exactly the canonical texts, and
// says which key, which entry and why for anything else.
import { describe, expect, it } from '@jest/globals';
import { EntryError, normalizeEntry } from '../../cli/egressPolicy';
import { ConfigError, egressEntryProblem, isEgressEntry, parseConfig } from '../../infra/config';
import { parseEntry, parsePolicy, PolicyEntryError } from '../../egress/src/policy';

const TOKEN = 't'.repeat(40);
const config = (raw: Record<string, string>) => parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw });

/** The config's problems for these values (none: []). */
function configProblems(raw: Record<string, string>): string[] {
  try {
    config(raw);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

type Outcome = { ok: true; text: string } | { ok: false; message: string };

function gate(input: string): Outcome {
  try {
    return { ok: true, text: parseEntry(input).text };
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyEntryError);
    return { ok: false, message: (e as Error).message };
  }
}

function cli(input: string): Outcome {
  try {
    return { ok: true, text: normalizeEntry(input) };
  } catch (e) {
    expect(e).toBeInstanceOf(EntryError);
    return { ok: false, message: (e as Error).message };
  }
}

const label63 = 'a'.repeat(63);
/** A name of exactly n characters (193 <= n <= 255). */
const nameOf = (n: number): string => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n - 192)}`;

/**
 * [entry, its canonical text or null when refused, how the three copies disagreed before they
 * shared the grammar ("" when they agreed)]. Where a copy was looser, the strictest rule won.
 */
const TABLE: [string, string | null, string][] = [
  // accepted, already canonical
  ['api.example.org', 'api.example.org', ''],
  ['*.example.org', '*.example.org', ''],
  ['example.org:80', 'example.org:80', ''],
  ['*.example.org:8443', '*.example.org:8443', ''],
  ['example.org:443', 'example.org:443', ''],
  ['example.org:1', 'example.org:1', ''],
  ['example.org:65535', 'example.org:65535', ''],
  ['xn--bcher-kva.de', 'xn--bcher-kva.de', ''],
  ['1password.com', '1password.com', ''],
  ['123.example.org', '123.example.org', ''],
  [`${label63}.org`, `${label63}.org`, ''],
  [nameOf(253), nameOf(253), ''],
  // accepted by the gate and the CLI in another spelling; the config takes the canonical one only
  ['Example.ORG', 'example.org', 'uppercase: gate and CLI lower-case it; the config wants it written so'],
  ['example.org.', 'example.org', 'trailing dot: gate and CLI drop it; the config wants it written so'],
  ['*.Example.org.:8443', '*.example.org:8443', 'both'],
  // refused by all three
  ['', null, ''],
  ['exa mple.org', null, ''],
  ['https://example.org', null, ''],
  ['example.org/path', null, ''],
  ['user@example.org', null, ''],
  ['1.2.3.4', null, ''],
  ['1.2.3.4:443', null, ''],
  ['127.1', null, ''],
  ['2130706433', null, ''],
  ['[::1]:443', null, ''],
  ['::1', null, ''],
  ['example.org:0', null, ''],
  ['example.org:65536', null, ''],
  ['example.org:', null, ''],
  ['example.org:http', null, ''],
  ['*', null, ''],
  ['*.', null, ''],
  ['a.*.example.org', null, ''],
  ['*example.org', null, ''],
  ['*.*.example.org', null, ''],
  ['a..example.org', null, ''],
  ['.example.org', null, ''],
  ['-bad.example.org', null, ''],
  ['bad-.example.org', null, ''],
  [`${'a'.repeat(64)}.org`, null, ''],
  [nameOf(254), null, ''],
  ['bücher.de', null, ''],
  // refused now, accepted by one or two copies before (the strictest rule won)
  [' api.example.org ', null, 'surrounding spaces: the gate trimmed them'],
  ['\tapi.example.org', null, 'a tab: the gate trimmed it'],
  ['example.org:0443', null, 'a port with a leading zero: the gate read it as 443'],
  ['_acme.example.org', null, '`_` in a label: gate and CLI took it, the config did not'],
  ['localhost', null, 'a single label: gate and CLI took it, the config did not'],
  ['*.org', null, 'a whole top-level domain: gate and CLI took it, the config did not'],
  ['0x7f.1', null, 'an inet_aton address: gate and CLI refused it, the config took it'],
  ['example.0x1f', null, 'a hex last label: the gate and the config took it'],
  ['example.123', null, 'a numeric last label: the gate and the config took it'],
  ['1.2.3.4.5', null, 'five numeric labels: the gate took it'],
];

describe('the gate, the CLI and the stack config agree on every entry', () => {
  it.each(TABLE)('%j → %j %s', (input, canonical, _was) => {
    const g = gate(input);
    const c = cli(input);
    // The gate and the CLI: same verdict, same text, same reason.
    expect(c).toEqual(g);
    expect(g.ok ? g.text : null).toBe(canonical);
    if (!g.ok) expect(g.message.startsWith(JSON.stringify(input))).toBe(true);

    // The config: the canonical text only, as an allow and as a deny entry.
    const accepted = canonical !== null && canonical === input;
    expect(isEgressEntry(input)).toBe(accepted);
    for (const key of ['egressAllow', 'egressDeny'] as const) {
      const problems = configProblems({ [key]: JSON.stringify([input]) });
      if (accepted) {
        expect(problems).toEqual([]);
        continue;
      }
      // Which key, which entry, why: the gate's own reason, or the spelling to use.
      const why = canonical === null ? (g as { message: string }).message : `${JSON.stringify(input)} must be written as ${JSON.stringify(canonical)} (lower case, no trailing dot)`;
      expect(problems).toEqual([`clawjail:${key}[0]: ${why}`]);
      expect(egressEntryProblem(input)).toBe(why);
    }
    // What the CLI writes into the stack, the config takes and the gate reads back unchanged.
    if (canonical !== null) {
      const { config: cfg } = config({ egressAllow: JSON.stringify([canonical]), egressDeny: JSON.stringify([canonical]) });
      expect(cfg.egress.allow).toEqual([canonical]);
      expect(parsePolicy({ allow: cfg.egress.allow, deny: cfg.egress.deny }).allow.map((e) => e.text)).toEqual([canonical]);
    }
  });
});

describe('the stack config', () => {
  it('names every bad entry with its index, and keeps the lists sorted and unique', () => {
    const problems = configProblems({ egressAllow: JSON.stringify(['a.example.org', '198.51.100.7', 'B.example.org']), egressDeny: JSON.stringify(['localhost']) });
    expect(problems).toEqual([
      'clawjail:egressAllow[1]: "198.51.100.7" is an IP address: the gate allows names only (a CONNECT to an IP literal is always refused)',
      'clawjail:egressAllow[2]: "B.example.org" must be written as "b.example.org" (lower case, no trailing dot)',
      'clawjail:egressDeny[0]: "localhost" is a single label: give a full name of at least two labels, such as api.example.org',
    ]);
    expect(config({ egressAllow: '["b.example.org","*.example.com:8443","b.example.org"]' }).config.egress.allow).toEqual(['*.example.com:8443', 'b.example.org']);
  });

  it('still says what a list must look like', () => {
    expect(configProblems({ egressAllow: 'github.com' })[0]).toMatch(/^clawjail:egressAllow = "github.com": must be a JSON list of strings/);
    expect(configProblems({ egressDeny: '[1]' })[0]).toMatch(/^clawjail:egressDeny = "\[1\]": must be a JSON list of strings/);
  });
});
