// The gate's state on disk and in memory: decision log rotation and tail, pending, the policy
// file (load, atomic rewrite), provider paths and header rewriting.
import * as fs from 'fs';
import * as path from 'path';
import { DecisionLog, readDecisionTail, type Decision } from '../src/decisionLog';
import { Pending } from '../src/pending';
import { parseEntry } from '../src/policy';
import { loadPolicyFile, PolicyFile, writeFileAtomic } from '../src/policyFile';
import { parseProviderPath, parseProviders, providerRequestHeaders, upstreamPath } from '../src/providers';
import { tmpDir } from './helpers';

let dir: string;
beforeEach(() => (dir = tmpDir()));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function decision(over: Partial<Decision>): Decision {
  return { time: '2026-12-02T18:00:00.000Z', kind: 'connect', host: 'a.example', port: 443, address: null, decision: 'deny', rule: null, reason: 'not-allowed', bytesUp: 0, bytesDown: 0, durationMs: 0, ...over };
}

describe('DecisionLog', () => {
  it('appends JSON lines (mode 0600) and rotates into <path>.1 past the size; the tail reads both', () => {
    const file = path.join(dir, 'decisions.jsonl');
    const log = new DecisionLog(file, 1000);
    for (let i = 0; i < 20; i++) log.write(decision({ host: `h${i}.example` }));
    log.close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(file).size).toBeLessThanOrEqual(1000);
    expect(fs.statSync(file + '.1').size).toBeLessThanOrEqual(1000);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]).host).toBe('h19.example');
    const tail = readDecisionTail(file);
    expect(tail[tail.length - 1].host).toBe('h19.example');
    expect(tail.length).toBeGreaterThan(lines.length); // includes the rotated file
    // a torn line is skipped; a missing file is empty
    fs.appendFileSync(file, '{"torn":');
    expect(readDecisionTail(file).length).toBe(tail.length);
    expect(readDecisionTail(path.join(dir, 'none.jsonl'))).toEqual([]);
  });
});

describe('Pending', () => {
  it('counts refusals per destination, ignores non-destination reasons, clears on allow', () => {
    const p = Pending.fromLog([
      decision({ host: 'a.x.example', time: '2026-12-02T18:00:00.000Z' }),
      decision({ host: 'a.x.example', time: '2026-12-02T18:00:05.000Z' }),
      decision({ host: 'b.x.example', reason: 'denied' }),
      decision({ host: null, port: null, reason: 'header-too-large' }),
      decision({ host: 'c.x.example', reason: 'too-many-connections' }),
      decision({ host: 'd.x.example', reason: 'blocked-address' }),
      decision({ host: 'e.x.example' }),
      decision({ host: 'e.x.example', decision: 'allow', reason: null }),
    ]);
    expect(p.list()).toEqual([
      { host: 'a.x.example', port: 443, count: 2, first: '2026-12-02T18:00:00.000Z', last: '2026-12-02T18:00:05.000Z', reason: 'not-allowed' },
      { host: 'd.x.example', port: 443, count: 1, first: '2026-12-02T18:00:00.000Z', last: '2026-12-02T18:00:00.000Z', reason: 'blocked-address' },
    ]);
    expect(p.clear(parseEntry('a.x.example:80'), 'allow')).toBe(0);
    // (a wildcard needs a suffix of two labels: `*.example` would be a whole top-level domain)
    expect(p.clear(parseEntry('*.x.example'), 'deny')).toBe(2);
    expect(p.size).toBe(0);
  });

  it('is bounded', () => {
    const p = new Pending(3);
    for (let i = 0; i < 10; i++) p.note(decision({ host: `h${i}.example` }));
    expect(p.list().map((x) => x.host)).toEqual(['h7.example', 'h8.example', 'h9.example']);
  });
});

describe('the policy file', () => {
  it('loads, reports what is wrong, and updates atomically (sorted, unique)', () => {
    const file = path.join(dir, 'policy.json');
    expect(loadPolicyFile(file).state.error).toMatch(/does not exist/);
    fs.writeFileSync(file, '{nope');
    expect(loadPolicyFile(file).state.error).toMatch(/not valid JSON/);
    fs.writeFileSync(file, JSON.stringify({ allow: ['b.example', 'a.example'] }));
    const seen: Array<string | null> = [];
    const pf = new PolicyFile(file, (s) => seen.push(s.error), 60_000);
    pf.start();
    pf.update((p) => ({ allow: [...p.allow, parseEntry('A.example.')], deny: [parseEntry('z.example')] }));
    expect(fs.readFileSync(file, 'utf8')).toBe('{\n  "allow": [\n    "a.example",\n    "b.example"\n  ],\n  "deny": [\n    "z.example"\n  ]\n}\n');
    expect(seen).toEqual([null, null]);
    expect(pf.reload().policy?.allow.map((e) => e.text)).toEqual(['a.example', 'b.example']);
    expect(seen).toHaveLength(2); // unchanged content: no new apply
    fs.writeFileSync(file, '{"allow": ["1.2.3.4"]}');
    expect(() => pf.update((p) => p)).toThrow(/invalid, fix it first/);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"allow": ["1.2.3.4"]}');
    pf.close();
    writeFileAtomic(file, 'x');
    expect(fs.readdirSync(dir)).toEqual(['policy.json']);
  });
});

describe('provider paths and headers', () => {
  const [p] = parseProviders({ providers: [{ name: 'openrouter', key: 'k' }] });
  it('maps /providers/<name>/<rest> onto the base URL, refusing dot segments', () => {
    expect(p.baseUrl.href).toBe('https://openrouter.ai/api/v1');
    expect(parseProviderPath('/providers/openrouter/chat/completions?a=1')).toEqual({ name: 'openrouter', rest: '/chat/completions?a=1' });
    expect(parseProviderPath('/providers/openrouter')).toEqual({ name: 'openrouter', rest: '/' });
    expect(parseProviderPath('/other')).toBeUndefined();
    expect(upstreamPath(p, '/chat/completions?a=1')).toBe('/api/v1/chat/completions?a=1');
    expect(upstreamPath(p, '/../x')).toBeUndefined();
    expect(upstreamPath(p, '/%2E%2e/x')).toBeUndefined();
    expect(upstreamPath(p, '/a%2fb')).toBeUndefined();
  });
  it('removes every credential header and hop-by-hop header, then sets the key', () => {
    const h = providerRequestHeaders(p, {
      authorization: 'Bearer cell',
      'x-api-key': 'c',
      'api-key': 'c',
      'x-goog-api-key': 'c',
      'proxy-authorization': 'c',
      connection: 'keep-alive, x-hop',
      'x-hop': '1',
      'keep-alive': '5',
      te: 'trailers',
      'content-type': 'application/json',
      host: 'egress:3128',
    });
    expect(h).toEqual({ 'content-type': 'application/json', host: 'openrouter.ai', authorization: 'Bearer k' });
  });
});
