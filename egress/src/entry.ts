// The grammar of an egress policy entry: the one definition. The gate (./policy.ts), the stack's
// config (infra/config.ts) and the operator CLI (cli/egressPolicy.ts) all parse entries here and
// add only their own stricter checks on top. Pure and self-contained (no imports at all), so the
// gate's own package (egress/Dockerfile copies egress/ and lib/ only) and the root's programs share it.
//
// An entry is `host` or `*.suffix`, each with an optional `:port`:
//  - names only: letters, digits and `-` (LDH), labels of 1-63 characters that neither start nor
//    end with `-`, at least two labels, at most 253 characters; no `_`, no `*` but a leading `*.`;
//  - never an IP literal: not `[v6]`, not a name with two colons, and not a name whose last label
//    is a number (`1.2.3.4`, `127.1`, `0x7f.1`: URL parsers and inet_aton read those as addresses);
//  - a port is 1-65535 in decimal, without leading zeros;
//  - nothing around it: no whitespace, no scheme, path, query, fragment or user information.
// Input may differ from the canonical form only by case and one trailing dot of the name; the
// parse returns the canonical text (lower case, no trailing dot), which is what every file and
// list stores. An allow entry without a port allows DEFAULT_ALLOW_PORT; a deny entry without a
// port denies every port (the matching is in ./policy.ts).

/** The port an allow entry without `:port` allows. */
export const DEFAULT_ALLOW_PORT = 443;

export type EgressEntryProblem =
  | 'not-a-string'
  | 'empty'
  | 'space'
  | 'url'
  | 'path'
  | 'user-info'
  | 'ip-literal'
  | 'port'
  | 'wildcard'
  | 'no-host'
  | 'too-long'
  | 'label'
  | 'single-label';

/** A bad entry. `message` starts with the entry (as JSON) and says what is wrong and what to give. */
export class EgressEntryError extends Error {
  constructor(
    readonly problem: EgressEntryProblem,
    message: string,
  ) {
    super(message);
    this.name = 'EgressEntryError';
  }
}

export interface EgressEntry {
  /** The canonical text, e.g. `*.example.org:8443`. */
  text: string;
  /** The host, or for a wildcard the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** null: no port given (allow: DEFAULT_ALLOW_PORT only; deny: every port). */
  port: number | null;
}

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A last label that URL parsers (WHATWG "ends in a number") and inet_aton take as part of an IPv4 address. */
const NUMERIC_LABEL_RE = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;
const MAX_NAME = 253;

/** Parses an entry into its canonical form; throws EgressEntryError naming the problem. */
export function parseEgressEntry(raw: unknown): EgressEntry {
  if (typeof raw !== 'string') {
    throw new EgressEntryError('not-a-string', `an entry must be a string, got ${JSON.stringify(raw) ?? String(raw)}`);
  }
  const shown = JSON.stringify(raw);
  const fail = (problem: EgressEntryProblem, why: string): never => {
    throw new EgressEntryError(problem, `${shown} ${why}`);
  };
  const ipLiteral = (): never => fail('ip-literal', 'is an IP address: the gate allows names only (a CONNECT to an IP literal is always refused)');
  if (raw.trim() === '') fail('empty', 'is empty: give a host name such as api.example.org');
  if (/\s/.test(raw)) fail('space', 'contains a space: give one host name, such as api.example.org');
  if (raw.includes('://')) fail('url', 'is a URL: give its host name only, such as api.example.org (or api.example.org:8443)');
  if (/[/?#]/.test(raw)) fail('path', 'has a path or query: give a host name only, such as api.example.org');
  if (raw.includes('@')) fail('user-info', 'has user information: give a host name only');
  if (raw.startsWith('[') || (raw.match(/:/g) ?? []).length > 1) ipLiteral();

  let host = raw.toLowerCase();
  let port: number | null = null;
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    const p = host.slice(colon + 1);
    if (!PORT_RE.test(p) || Number(p) > 65535) fail('port', `has a bad port ${JSON.stringify(p)} (1-65535, no leading zeros)`);
    port = Number(p);
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  let wildcard = false;
  if (host.startsWith('*.')) {
    wildcard = true;
    host = host.slice(2);
  }
  if (host.includes('*')) fail('wildcard', 'has a misplaced wildcard: it is only allowed as a whole first label, as in *.example.org');
  if (host === '') fail('no-host', 'has no host name');
  if (host.length > MAX_NAME) fail('too-long', `is longer than a host name can be (${MAX_NAME} characters)`);
  const labels = host.split('.');
  if (NUMERIC_LABEL_RE.test(labels[labels.length - 1])) ipLiteral();
  for (const label of labels) {
    if (!LABEL_RE.test(label)) {
      fail('label', `has a bad label ${JSON.stringify(label)}: letters, digits and -, 1-63 characters, not starting or ending with -`);
    }
  }
  if (labels.length < 2) {
    fail(
      'single-label',
      wildcard
        ? `would allow a whole top-level domain: give a suffix of at least two labels, such as *.example.org`
        : 'is a single label: give a full name of at least two labels, such as api.example.org',
    );
  }
  return { text: `${wildcard ? '*.' : ''}${host}${port === null ? '' : `:${port}`}`, host, wildcard, port };
}

/** The canonical text of an entry (throws EgressEntryError for a bad one). */
export function canonicalEgressEntry(raw: string): string {
  return parseEgressEntry(raw).text;
}

/** Is `s` a valid entry already in canonical form (lower case, no trailing dot)? */
export function isCanonicalEgressEntry(s: string): boolean {
  try {
    return parseEgressEntry(s).text === s;
  } catch (e) {
    if (e instanceof EgressEntryError) return false;
    throw e;
  }
}
