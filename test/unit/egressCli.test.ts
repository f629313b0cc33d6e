// `clawjail egress`: the pure parts (entries, durations, log lines, the stack's lists and the
// Pulumi CLI arguments), and the command's flow with the stack, the runner and the proxy injected.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../infra/config';
import { formatPending, formatStatus, LogFollower, parseEgressArgs, run, UsageError, type EgressDeps } from '../../cli/commands/egress';
import type { AdminRequest, AdminResponse } from '../../cli/egressAdmin';
import { formatDecision, parseDecision, renderLog, safeJson, safeText, splitLines } from '../../cli/egressLog';
import {
  EntryError,
  formatDuration,
  mergePolicyLists,
  normalizeEntry,
  parseDuration,
  parseStackList,
  pulumiConfigSetArgs,
  StackListError,
} from '../../cli/egressPolicy';
import { defaultPolicyLists, EgressStackError, readStackPolicyLists, stackEgressVolume, stackPolicyListsFromText } from '../../cli/egressStack';
import type { CliIO } from '../../cli/io';
import { main, usage } from '../../cli/main';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-cli-unit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('egress entries', () => {
  it.each([
    ['api.example.org', 'api.example.org'],
    ['API.Example.ORG.', 'api.example.org'],
    ['*.example.org', '*.example.org'],
    ['*.Example.org:8443', '*.example.org:8443'],
    ['example.org:80', 'example.org:80'],
  ])('%s is the entry %s', (input, entry) => {
    expect(normalizeEntry(input)).toBe(entry);
  });

  it.each([
    ['', /empty/],
    ['api.example.org extra', /space/],
    ['https://api.example.org', /is a URL/],
    ['api.example.org/v1', /path/],
    ['api.example.org?x=1', /path or query/],
    ['user@example.org', /user information/],
    ['1.2.3.4', /IP address/],
    ['1.2.3.4:443', /IP address/],
    ['127.1', /IP address/],
    ['0x7f.1', /IP address/],
    ['[::1]:443', /IP address/],
    ['::1', /IP address/],
    ['example.org:0', /bad port/],
    ['example.org:65536', /bad port/],
    ['example.org:http', /bad port/],
    ['example.org:0443', /bad port/],
    ['example.org:', /bad port/],
    ['*', /wildcard/],
    ['a.*.example.org', /wildcard/],
    ['*example.org', /wildcard/],
    ['*.', /wildcard/],
    ['*.:443', /wildcard/],
    ['-bad.example.org', /bad label "-bad"/],
    ['a..example.org', /bad label ""/],
    ['ex!ample.org', /bad label/],
    [`${'a'.repeat(64)}.org`, /bad label/],
    [`${'abcdefghi.'.repeat(26)}org`, /longer than a host name/],
    // The stack's config refuses these, so `clawjail egress allow` must not write them
    // (test/unit/egressEntry.test.ts has the whole table).
    ['localhost', /single label/],
    ['*.org', /whole top-level domain/],
    ['_acme.example.org', /bad label "_acme"/],
    [' api.example.org', /space/],
  ])('%j is refused (%s)', (input, why) => {
    expect(() => normalizeEntry(input)).toThrow(EntryError);
    expect(() => normalizeEntry(input)).toThrow(why);
  });
});

describe('durations for --for', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['2h', 7200],
    ['1d', 86400],
    ['1h30m', 5400],
    ['2H', 7200],
    ['30d', 30 * 86400],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([['90'], ['2 h'], ['1.5h'], ['-1h'], ['h'], ['0s'], ['0m0s'], ['31d'], ['1w'], ['']])('%j is refused', (text) => {
    expect(() => parseDuration(text)).toThrow(/duration/);
  });

  it('prints durations back', () => {
    expect(formatDuration(5400)).toBe('1h30m');
    expect(formatDuration(90)).toBe('1m30s');
    expect(formatDuration(86400 + 1)).toBe('1d1s');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(-5)).toBe('0s');
  });
});

describe('the command line', () => {
  it('reads each subcommand with its options', () => {
    expect(parseEgressArgs(['log', '--denied', '-f', '--json', '--lines', '5', '--dir', '/x'])).toMatchObject({
      command: 'log',
      denied: true,
      follow: true,
      json: true,
      lines: 5,
      dir: '/x',
      stack: null,
    });
    expect(parseEgressArgs(['allow', 'API.example.org', '--for=2h', '--stack', 'prod'])).toMatchObject({
      command: 'allow',
      entry: 'api.example.org',
      seconds: 7200,
      stack: 'prod',
    });
    expect(parseEgressArgs(['deny', '*.example.org:22'])).toMatchObject({ command: 'deny', entry: '*.example.org:22', seconds: null });
    expect(parseEgressArgs(['--help'])).toMatchObject({ help: true, command: null });
    expect(parseEgressArgs(['allow', '--help'])).toMatchObject({ help: true, command: 'allow' });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['log', '--verbose'], /unknown option --verbose/],
    [['allow'], /needs an ENTRY/],
    [['allow', 'a.org', 'b.org'], /takes one ENTRY/],
    [['allow', 'https://a.org/'], /bad entry: .*is a URL/],
    [['deny', '10.0.0.1'], /bad entry: .*IP address/],
    [['allow', 'a.org', '--for', '90'], /--for: bad duration "90"/],
    [['allow', 'a.org', '--for'], /--for needs a value/],
    [['deny', 'a.org', '--for', '1h'], /--for is an option of egress allow, not of egress deny/],
    [['status', '--denied'], /--denied is an option of egress log/],
    [['pending', 'x'], /unexpected argument "x"/],
    [['log', '--lines', 'ten'], /--lines needs a whole number/],
    [['log', '--stack', 'dev', '--dir', '/x'], /name the egress state twice/],
    [['status', '--stack', '../x'], /bad stack name/],
  ])('%j is a usage error (%s)', (argv, why) => {
    expect(() => parseEgressArgs(argv)).toThrow(UsageError);
    expect(() => parseEgressArgs(argv)).toThrow(why);
  });
});

const decision = (over: Record<string, unknown> = {}) => ({
  time: '2026-12-02T18:00:00.000Z',
  kind: 'connect',
  host: 'evil.example',
  port: 443,
  address: null,
  decision: 'deny',
  rule: null,
  reason: 'not-allowed',
  bytesUp: 0,
  bytesDown: 0,
  durationMs: 0,
  ...over,
});

describe('the decision log', () => {
  it('prints a denial on one line', () => {
    const d = parseDecision(JSON.stringify(decision()));
    expect(d).not.toBeNull();
    expect(formatDecision(d!)).toBe('2026-12-02T18:00:00.000Z  DENY   connect   evil.example:443  -  reason=not-allowed  up 0B down 0B  0ms');
  });

  it('prints an allowed connection with its address, rule, bytes and time', () => {
    const line = formatDecision(
      parseDecision(
        JSON.stringify(
          decision({ decision: 'allow', host: 'api.example.org', address: '198.51.100.7', rule: '*.example.org', reason: null, bytesUp: 2048, bytesDown: 5 * 1024 * 1024, durationMs: 2500 }),
        ),
      )!,
    );
    expect(line).toBe('2026-12-02T18:00:00.000Z  ALLOW  connect   api.example.org:443  198.51.100.7  rule=*.example.org  up 2.0KiB down 5.0MiB  2.5s');
  });

  it('shows the reason a limit ended an allowed connection, and the provider', () => {
    const line = formatDecision(
      parseDecision(JSON.stringify(decision({ decision: 'allow', kind: 'provider', rule: 'api.openai.com', reason: 'time-limit', provider: 'openai', durationMs: 3_600_000 })))!,
    );
    expect(line).toContain('ALLOW  provider  evil.example:443');
    expect(line).toContain('rule=api.openai.com reason=time-limit provider=openai');
    expect(line).toMatch(/1h00m$/);
  });

  it('makes what the prisoner chose safe for a terminal', () => {
    const line = formatDecision(parseDecision(JSON.stringify(decision({ host: 'a\u001b[31m\u009b.example\\' })))!);
    expect(line).toContain('a\\x1b[31m\\x9b.example\\\\:443');
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\uffff]/);
    expect(safeText('é\n')).toBe('\\xe9\\n');
    expect(safeJson({ h: 'a\u009bb' })).toBe('{"h":"a\\u009bb"}');
  });

  it('skips lines that are not decisions', () => {
    expect(parseDecision('not json')).toBeNull();
    expect(parseDecision('[1]')).toBeNull();
    expect(parseDecision('{"time":"x"}')).toBeNull();
    const { out, unreadable } = renderLog([JSON.stringify(decision()), '{"torn', '', 'null'], { denied: false, json: false, lines: null });
    expect(out).toHaveLength(1);
    expect(unreadable).toBe(2);
  });

  it('keeps denials only with --denied, the last N with --lines, raw JSON with --json', () => {
    const lines = [
      JSON.stringify(decision({ host: 'one.example' })),
      JSON.stringify(decision({ host: 'two.example', decision: 'allow', reason: null, rule: 'two.example' })),
      JSON.stringify(decision({ host: 'three.example', extra: 'kept' })),
      JSON.stringify(decision({ host: 'four.example', decision: 'allow', reason: null, rule: 'four.example' })),
    ];
    const hosts = (out: string[]) => out.map((l) => l.split(/\s+/)[3].replace(/:443$/, ''));
    expect(hosts(renderLog(lines, { denied: false, json: false, lines: null }).out)).toEqual(['one.example', 'two.example', 'three.example', 'four.example']);
    expect(hosts(renderLog(lines, { denied: true, json: false, lines: null }).out)).toEqual(['one.example', 'three.example']);
    expect(hosts(renderLog(lines, { denied: true, json: false, lines: 1 }).out)).toEqual(['three.example']);
    expect(hosts(renderLog(lines, { denied: false, json: false, lines: 2 }).out)).toEqual(['three.example', 'four.example']);
    expect(renderLog(lines, { denied: false, json: false, lines: 0 }).out).toEqual([]);
    const json = renderLog(lines, { denied: true, json: true, lines: 1 }).out;
    expect(JSON.parse(json[0])).toEqual(decision({ host: 'three.example', extra: 'kept' }));
  });

  it('keeps a torn last line for the next read', () => {
    expect(splitLines('', 'a\nb')).toEqual({ lines: ['a'], carry: 'b' });
    expect(splitLines('b', 'c\n')).toEqual({ lines: ['bc'], carry: '' });
  });

  it('follows a file across rotation', () => {
    const file = path.join(tmp, 'follow.jsonl');
    fs.writeFileSync(file, 'old1\n');
    const f = new LogFollower(file);
    expect(f.readNew()).toBe('old1\n');
    fs.appendFileSync(file, 'old2\nold');
    expect(f.readNew()).toBe('old2\n');
    fs.appendFileSync(file, '3\n');
    fs.renameSync(file, `${file}.1`);
    expect(f.readNew()).toBe('old3\n'); // the new file is not there yet
    fs.writeFileSync(file, 'new1\n');
    expect(f.readNew()).toBe('new1\n');
    fs.appendFileSync(file, 'new2\n');
    fs.renameSync(file, `${file}.1`);
    fs.writeFileSync(file, 'new3\n');
    expect(f.readNew()).toBe('new2\nnew3\n');
    fs.writeFileSync(file, ''); // truncated in place
    expect(f.readNew()).toBe('');
    fs.appendFileSync(file, 'again\n');
    expect(f.readNew()).toBe('again\n');
    f.close();
  });

  it('starts following a file that does not exist yet', () => {
    const file = path.join(tmp, 'later.jsonl');
    const f = new LogFollower(file);
    expect(f.readNew()).toBe('');
    fs.writeFileSync(file, 'first\n');
    expect(f.readNew()).toBe('first\n');
    f.close();
  });
});

describe('egress log on a state directory', () => {
  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { stdout: { write: (s: string) => (o.out += s) }, stderr: { write: (s: string) => (o.err += s) } } };
  };
  const line = (host: string, over: Record<string, unknown> = {}) => JSON.stringify(decision({ host, ...over })) + '\n';

  it('prints decisions.jsonl.1, then decisions.jsonl', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'log-'));
    fs.writeFileSync(path.join(dir, 'decisions.jsonl.1'), line('first.example') + line('ok.example', { decision: 'allow', reason: null }).trimEnd());
    fs.writeFileSync(path.join(dir, 'decisions.jsonl'), line('second.example') + 'garbage\n');
    const t = io();
    expect(await run(['log', '--dir', dir], t.io)).toBe(0);
    expect(t.o.out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3])).toEqual(['first.example:443', 'ok.example:443', 'second.example:443']);
    expect(t.o.err).toContain('1 line(s) of the log are not decisions');
    const d = io();
    expect(await run(['log', '--denied', '--lines', '1', '--dir', dir], d.io)).toBe(0);
    expect(d.o.out).toContain('second.example:443');
    expect(d.o.out.trim().split('\n')).toHaveLength(1);
  });

  it('says so when nothing is logged yet, and fails on a missing directory', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'empty-'));
    const t = io();
    expect(await run(['log', '--dir', dir], t.io)).toBe(0);
    expect(t.o.err).toContain('no decisions logged yet');
    const m = io();
    expect(await run(['log', '--dir', path.join(dir, 'nope')], m.io)).toBe(1);
    expect(m.o.err).toContain('is not a directory');
  });

  it('--follow keeps printing across a rotation until stopped', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'follow-'));
    const file = path.join(dir, 'decisions.jsonl');
    fs.writeFileSync(file, line('before.example'));
    const controller = new AbortController();
    const t = io();
    const done = run(['log', '--follow', '--dir', dir], t.io, { signal: controller.signal, pollMs: 20 });
    const until = async (text: string) => {
      for (let i = 0; i < 200 && !t.o.out.includes(text); i++) await new Promise((r) => setTimeout(r, 10));
      expect(t.o.out).toContain(text);
    };
    await until('before.example');
    fs.appendFileSync(file, line('after.example'));
    await until('after.example');
    fs.appendFileSync(file, line('last-of-old.example'));
    fs.renameSync(file, `${file}.1`);
    fs.writeFileSync(file, line('rotated.example'));
    await until('rotated.example');
    controller.abort();
    expect(await done).toBe(0);
    expect(t.o.out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3])).toEqual([
      'before.example:443',
      'after.example:443',
      'last-of-old.example:443',
      'rotated.example:443',
    ]);
  });

  it('is reached through clawjail egress', async () => {
    const t = io();
    expect(await main(['egress', '--help'], { ...t.io, stdin: process.stdin } as unknown as CliIO)).toBe(0);
    expect(t.o.out).toMatch(/^usage: clawjail egress <command>/);
    const u = io();
    expect(await main(['egress', 'allow', 'a b'], { ...u.io, stdin: process.stdin } as unknown as CliIO)).toBe(2);
    expect(u.o.err).toContain('contains a space');
  });
});

describe('the stack\'s lists', () => {
  it('merges a permanent allow: sorted, unique, out of deny', () => {
    expect(mergePolicyLists({ allow: ['z.org', 'a.org', 'a.org'], deny: ['m.org', 'b.org'] }, 'allow', 'b.org')).toEqual({
      allow: ['a.org', 'b.org', 'z.org'],
      deny: ['m.org'],
      changed: ['deny', 'allow'],
    });
  });

  it('merges a deny: into deny, out of allow; deny is written first', () => {
    expect(mergePolicyLists({ allow: ['b.org', 'a.org'], deny: [] }, 'deny', 'b.org')).toEqual({ allow: ['a.org'], deny: ['b.org'], changed: ['deny', 'allow'] });
    expect(mergePolicyLists({ allow: [], deny: [] }, 'deny', 'b.org')).toEqual({ allow: [], deny: ['b.org'], changed: ['deny'] });
  });

  it('changes nothing when the entry is already where it belongs', () => {
    expect(mergePolicyLists({ allow: ['a.org', 'b.org'], deny: ['c.org'] }, 'allow', 'a.org').changed).toEqual([]);
    // unsorted in the file: written back sorted
    expect(mergePolicyLists({ allow: ['b.org', 'a.org'], deny: [] }, 'allow', 'a.org').changed).toEqual(['allow']);
  });

  it('reads a list written as JSON text or as a YAML list', () => {
    const text = [
      'config:',
      '  clawjail:namePrefix: clawjail',
      `  clawjail:egressAllow: '["api.example.org","*.npmjs.org"]'`,
      '  clawjail:egressDeny:',
      '    - evil.example',
      '    - "*.bad.example:22"',
      '',
    ].join('\n');
    expect(stackPolicyListsFromText(text)).toEqual({ allow: ['api.example.org', '*.npmjs.org'], deny: ['evil.example', '*.bad.example:22'] });
    expect(stackPolicyListsFromText('config:\n  clawjail:egressAllow: "[]"\n')).toEqual({ allow: [], deny: [] });
    expect(stackPolicyListsFromText('config:\n  clawjail:egressDeny: []\n', 'f', { allow: ['d.org'], deny: [] })).toEqual({ allow: ['d.org'], deny: [] });
  });

  it('reads both spellings from a stack file on disk', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'stack-'));
    fs.writeFileSync(
      path.join(dir, 'Pulumi.scratch.yaml'),
      'config:\n  clawjail:egressAllow:\n    - github.com\n    - "*.npmjs.org"\n  clawjail:egressDeny: \'["evil.example"]\'\n',
    );
    expect(readStackPolicyLists('scratch', dir)).toEqual({ allow: ['github.com', '*.npmjs.org'], deny: ['evil.example'] });
    expect(() => readStackPolicyLists('missing', dir)).toThrow(/cannot read stack file .*Pulumi\.missing\.yaml/);
  });

  it('takes clawjail\'s default for a list the stack file does not set (a write keeps the defaults)', () => {
    const defaults = { allow: ['github.com', 'registry.npmjs.org'], deny: [] };
    expect(stackPolicyListsFromText('config:\n  clawjail:namePrefix: x\n', 'f', defaults)).toEqual(defaults);
    expect(stackPolicyListsFromText('# nothing\n', 'f', defaults)).toEqual(defaults);
    expect(mergePolicyLists(stackPolicyListsFromText('# nothing\n', 'f', defaults), 'allow', 'a.org').allow).toEqual(['a.org', 'github.com', 'registry.npmjs.org']);
    // The real defaults (infra/config.ts) are lists of valid entries.
    const real = defaultPolicyLists();
    for (const e of [...real.allow, ...real.deny]) expect(normalizeEntry(e)).toBe(e);
  });

  it('refuses a list it cannot read', () => {
    expect(() => stackPolicyListsFromText('config:\n  clawjail:egressAllow: api.example.org\n')).toThrow(/clawjail:egressAllow is not a JSON list/);
    expect(() => stackPolicyListsFromText('config:\n  clawjail:egressDeny:\n    secure: AAAA\n')).toThrow(/not a list/);
    expect(() => stackPolicyListsFromText('config:\n  clawjail:egressAllow: "[1]"\n')).toThrow(EgressStackError);
    expect(() => stackPolicyListsFromText('config: [\n')).toThrow(/cannot read/);
    expect(() => parseStackList('k', [1])).toThrow(StackListError);
  });

  it('builds the pulumi.sh arguments: one list, sorted, unique, as JSON text', () => {
    expect(pulumiConfigSetArgs('dev', 'allow', ['b.org', 'a.org', 'b.org'])).toEqual(['config', 'set', '--stack', 'dev', 'clawjail:egressAllow', '["a.org","b.org"]']);
    expect(pulumiConfigSetArgs('prod', 'deny', [])).toEqual(['config', 'set', '--stack', 'prod', 'clawjail:egressDeny', '[]']);
  });

  it('names the state volume of a local stack and refuses a remote one', () => {
    const configOf = (raw: Record<string, string>) => parseConfig(raw, { requireSecrets: false }).config;
    expect(stackEgressVolume('dev', configOf({ namePrefix: 'myjail' }))).toEqual({ dockerHost: 'unix:///var/run/docker.sock', volume: 'myjail-egress-state' });
    expect(() => stackEgressVolume('prod', configOf({ dockerHost: 'ssh://ops@jailhost' }))).toThrow(
      /egress gate of stack prod is on ssh:\/\/ops@jailhost: run clawjail egress on that host/,
    );
  });
});

describe('pending and status, readable', () => {
  it('prints the pending destinations as a table', () => {
    const out = formatPending({
      ok: true,
      pending: [{ host: 'evil.example', port: 443, count: 3, first: '2026-12-02T18:00:00.000Z', last: '2026-12-02T18:05:00.000Z', reason: 'not-allowed' }],
    });
    expect(out.split('\n')[0]).toMatch(/^DESTINATION\s+COUNT\s+REASON\s+FIRST\s+LAST$/);
    expect(out).toMatch(/evil\.example:443\s+3\s+not-allowed\s+2026-12-02T18:00:00.000Z\s+2026-12-02T18:05:00.000Z/);
    expect(out).toContain('clawjail egress allow HOST[:PORT]');
    expect(formatPending({ ok: true, pending: [] })).toMatch(/^nothing pending/);
  });

  it('prints the status with the time left on temporary allows', () => {
    const now = Date.parse('2026-12-02T18:00:00.000Z');
    const out = formatStatus(
      { ok: true, allow: ['a.org'], deny: [], temporary: [{ entry: 'b.org', expires: '2026-12-02T19:30:00.000Z' }], open: 2, pending: 1, policyError: null },
      '/state',
      now,
    );
    expect(out).toContain('allow (1): a.org');
    expect(out).toContain('deny (0): -');
    expect(out).toContain('b.org  until 2026-12-02T19:30:00.000Z (1h30m left)');
    expect(out).toContain('open connections: 2');
    expect(out).toContain('pending: 1 (see: clawjail egress pending)');
    expect(formatStatus({ ok: true, allow: [], deny: [], temporary: [], open: 0, pending: 0, policyError: 'bad JSON' }, '/s', now)).toContain('POLICY ERROR: bad JSON');
  });
});

describe('egress allow/deny with a stack (runner and proxy injected)', () => {
  const stateDir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const setup = (opts: { lists?: { allow: string[]; deny: string[] }; pulumiFails?: number; adminFails?: boolean } = {}) => {
    const calls: string[][] = [];
    const requests: AdminRequest[] = [];
    const out: string[] = [];
    const err: string[] = [];
    const deps: Partial<EgressDeps> = {
      resolveStackEgress: async (stack) => {
        if (stack !== 'dev') throw new Error(`unexpected stack ${stack}`);
        return stateDir;
      },
      readStackPolicyLists: () => opts.lists ?? { allow: ['a.org'], deny: ['b.org'] },
      runPulumi: async (args) => {
        calls.push(args);
        if (opts.pulumiFails !== undefined && calls.length > opts.pulumiFails) throw new Error('pulumi: boom');
      },
      admin: async (_socket, request): Promise<AdminResponse> => {
        requests.push(request);
        return opts.adminFails ? { ok: false, error: 'no' } : { ok: true };
      },
      now: () => Date.parse('2026-12-02T18:00:00.000Z'),
    };
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } };
    return { calls, requests, out, err, go: (argv: string[]) => run(argv, io, deps) };
  };

  it('a permanent allow writes the config (deny first), then tells the proxy', async () => {
    const t = setup();
    expect(await t.go(['allow', 'B.org'])).toBe(0);
    expect(t.calls).toEqual([
      ['config', 'set', '--stack', 'dev', 'clawjail:egressDeny', '[]'],
      ['config', 'set', '--stack', 'dev', 'clawjail:egressAllow', '["a.org","b.org"]'],
    ]);
    expect(t.requests).toEqual([{ op: 'allow', entry: 'b.org' }]);
    expect(t.out.join('')).toContain('allowed b.org');
  });

  it('a deny writes egressDeny then egressAllow, then tells the proxy', async () => {
    const t = setup();
    expect(await t.go(['deny', 'a.org'])).toBe(0);
    expect(t.calls).toEqual([
      ['config', 'set', '--stack', 'dev', 'clawjail:egressDeny', '["a.org","b.org"]'],
      ['config', 'set', '--stack', 'dev', 'clawjail:egressAllow', '[]'],
    ]);
    expect(t.requests).toEqual([{ op: 'deny', entry: 'a.org' }]);
  });

  it('a temporary allow never touches the config', async () => {
    const t = setup();
    expect(await t.go(['allow', 'c.org', '--for', '30m'])).toBe(0);
    expect(t.calls).toEqual([]);
    expect(t.requests).toEqual([{ op: 'allow', entry: 'c.org', seconds: 1800 }]);
    expect(t.out.join('')).toContain('allowed c.org for 30m (until about 2026-12-02T18:30:00.000Z');
  });

  it('writes nothing when the entry is already in the config, and still tells the proxy', async () => {
    const t = setup();
    expect(await t.go(['allow', 'a.org'])).toBe(0);
    expect(t.calls).toEqual([]);
    expect(t.requests).toHaveLength(1);
    expect(t.out.join('')).toContain('already in clawjail:egressAllow');
  });

  it('does not change the live policy when the config write fails', async () => {
    const t = setup({ pulumiFails: 0 });
    expect(await t.go(['allow', 'c.org'])).toBe(1);
    expect(t.requests).toEqual([]);
    expect(t.err.join('')).toMatch(/could not update the config of stack dev \(clawjail:egressAllow\): pulumi: boom\nnothing was changed/);
    const t2 = setup({ pulumiFails: 1 });
    expect(await t2.go(['allow', 'b.org'])).toBe(1);
    expect(t2.requests).toEqual([]);
    expect(t2.err.join('')).toContain('clawjail:egressDeny was already written; the live policy was NOT changed');
  });

  it('says so plainly when the live change fails after the config was written', async () => {
    const t = setup({ adminFails: true });
    expect(await t.go(['deny', 'c.org'])).toBe(1);
    expect(t.calls).toHaveLength(1);
    expect(t.err.join('')).toMatch(/the config of stack dev was updated, but the live change failed: the egress proxy refused: no\n.*next `pulumi up` applies/);
  });

  it('validates the entry before anything', async () => {
    const t = setup();
    expect(await t.go(['allow', 'http://c.org/'])).toBe(2);
    expect(t.calls).toEqual([]);
    expect(t.requests).toEqual([]);
    expect(t.err.join('')).toContain('bad entry');
  });

  it('fails (1) when the stack cannot be found, changing nothing', async () => {
    const t = setup();
    expect(await t.go(['allow', 'c.org', '--stack', 'prod'])).toBe(1);
    expect(t.calls).toEqual([]);
    expect(t.err.join('')).toContain('unexpected stack prod');
  });

  it('prints help for egress and each subcommand', async () => {
    for (const sub of [[], ['log'], ['pending'], ['status'], ['allow'], ['deny']]) {
      const t = setup();
      expect(await t.go([...sub, '--help'])).toBe(0);
      expect(t.out.join('')).toMatch(new RegExp(`^usage: clawjail egress ${sub[0] ?? '<command>'}`));
    }
    const t = setup();
    expect(await t.go([])).toBe(2);
  });

  it('is in the clawjail usage', () => {
    expect(usage()).toMatch(/^ {2}egress log\|pending\|status\|allow\|deny {2}/m);
    expect(usage()).toContain('clawjail egress allow HOST [--for 2h]');
  });
});
