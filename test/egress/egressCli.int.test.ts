// `clawjail egress --dir` against the real egress proxy (`node egress/dist/main.js`) in a child
// process, on loopback only: a tiny DNS server of the test answers every A query with 127.0.0.1,
// which the proxy's blocked list refuses (blocked-address) once a name is allowed; a name that is
// not allowed is refused before any lookup (not-allowed). So the reason of a CONNECT tells which
// policy is in force, and nothing ever leaves this machine.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { run } from '../../cli/commands/egress';
import { freePort, sleep, until } from '../helpers/wait';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const EGRESS_DIR = path.join(ROOT, 'egress');
const MAIN = path.join(EGRESS_DIR, 'dist', 'main.js');

/** The first truthy value of probe (named waitFor here for its many call sites). */
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 10_000) => until(what, probe, ms);

/** A DNS server on 127.0.0.1 that answers every A question with 127.0.0.1 (other types: no answer). */
async function startFakeDns(): Promise<{ port: number; queries: string[]; close: () => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off];
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
      off += 1 + len;
    }
    const qEnd = off + 5; // the zero byte, type, class
    if (qEnd > msg.length) return;
    const qtype = msg.readUInt16BE(off + 1);
    queries.push(labels.join('.'));
    const answer = qtype === 1 ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]) : Buffer.alloc(0);
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2); // id
    head.writeUInt16BE(0x8180 | (msg.readUInt16BE(2) & 0x0100), 2); // response, recursion available (+RD as asked)
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
    sock.send(Buffer.concat([head, msg.subarray(12, qEnd), answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, queries, close: () => new Promise((resolve) => sock.close(() => resolve())) };
}


interface Refusal {
  status: number;
  header: string | null;
  body: { reason?: string; host?: string; port?: number; detail?: string } | null;
}

/** `CONNECT host:port` to the proxy; the status line, the egress header and the JSON body. */
function connectThrough(proxyPort: number, target: string): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(proxyPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => done(new Error(`no complete answer to CONNECT ${target}: ${JSON.stringify(buf.toString('latin1'))}`)), 8000);
    const done = (err: Error | null, value?: Refusal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as Refusal);
    };
    const tryParse = (final: boolean) => {
      const text = buf.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return final ? done(new Error(`CONNECT ${target}: no response head: ${JSON.stringify(text)}`)) : undefined;
      const [statusLine, ...headerLines] = text.slice(0, headEnd).split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      if (status === 200) return done(null, { status, header: headers.get('x-clawjail-egress') ?? null, body: null });
      const length = Number(headers.get('content-length') ?? NaN);
      const body = buf.subarray(headEnd + 4);
      if (!final && (Number.isNaN(length) || body.length < length)) return undefined;
      let parsed: Refusal['body'] = null;
      try {
        parsed = JSON.parse(body.subarray(0, Number.isNaN(length) ? body.length : length).toString('utf8'));
      } catch {
        parsed = null;
      }
      done(null, { status, header: headers.get('x-clawjail-egress') ?? null, body: parsed });
    };
    sock.on('connect', () => sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      tryParse(false);
    });
    sock.on('end', () => tryParse(true));
    sock.on('error', (e) => done(e));
  });
}

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

describe('clawjail egress --dir against the real proxy', () => {
  let dir: string;
  let proxy: ChildProcess;
  let proxyPort: number;
  let proxyStderr = '';
  let dns: Awaited<ReturnType<typeof startFakeDns>>;
  const policyFile = () => JSON.parse(fs.readFileSync(path.join(dir, 'policy.json'), 'utf8')) as { allow: string[]; deny: string[] };
  const logText = () => {
    try {
      return fs.readFileSync(path.join(dir, 'decisions.jsonl'), 'utf8');
    } catch {
      return '';
    }
  };
  /** CONNECTs and waits until the proxy has logged the decision (a denial is logged when refused). */
  const refusalOf = async (target: string): Promise<Refusal> => {
    const before = logText().split('\n').length;
    const r = await connectThrough(proxyPort, target);
    const host = target.slice(0, target.lastIndexOf(':'));
    await waitFor(`the decision on ${target} in the log`, () =>
      logText()
        .split('\n')
        .slice(before - 1)
        .some((l) => l.includes(`"host":"${host}"`)),
    );
    return r;
  };

  beforeAll(async () => {
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(EGRESS_DIR, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`egress/ does not build (npx tsc -p egress/tsconfig.json):\n${String((e as { stdout?: Buffer }).stdout ?? (e as Error).message)}`);
    }
    expect(fs.existsSync(MAIN)).toBe(true);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-cli-'));
    fs.writeFileSync(path.join(dir, 'policy.json'), JSON.stringify({ allow: [], deny: [] }) + '\n');
    dns = await startFakeDns();
    proxyPort = await freePort();
    proxy = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        EGRESS_LISTEN: `127.0.0.1:${proxyPort}`,
        EGRESS_POLICY_FILE: path.join(dir, 'policy.json'),
        EGRESS_RESOLVER: `127.0.0.1:${dns.port}`,
        EGRESS_LOG: path.join(dir, 'decisions.jsonl'),
        EGRESS_ADMIN_SOCKET: path.join(dir, 'admin.sock'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proxy.stdout?.on('data', (d: Buffer) => (proxyStderr += d.toString()));
    proxy.stderr?.on('data', (d: Buffer) => (proxyStderr += d.toString()));
    await waitFor('the proxy to answer on its admin socket', async () => {
      if (proxy.exitCode !== null) throw new Error(`the proxy exited ${proxy.exitCode}: ${proxyStderr}`);
      return (await cli(['status', '--dir', dir])).code === 0;
    });
    await waitFor('the proxy to listen', () => new Promise<boolean>((resolve) => {
      const s = net.connect(proxyPort, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    }));
  });

  afterAll(async () => {
    if (proxy && proxy.exitCode === null && proxy.pid !== undefined) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      process.kill(proxy.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      if (proxy.exitCode === null && proxy.signalCode === null) process.kill(proxy.pid, 'SIGKILL');
    }
    await dns?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a name that is not allowed is refused, logged and pending', async () => {
    const r = await refusalOf('nope.example:443');
    expect(r.status).toBe(403);
    expect(r.body?.reason).toBe('not-allowed');
    expect(r.header).toBe('denied; reason=not-allowed');

    const log = await cli(['log', '--denied', '--dir', dir]);
    expect(log.code).toBe(0);
    expect(log.out).toMatch(/ DENY +connect +nope\.example:443 .*reason=not-allowed/);

    const json = await cli(['log', '--json', '--denied', '--lines', '1', '--dir', dir]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out.trim())).toMatchObject({ kind: 'connect', host: 'nope.example', port: 443, decision: 'deny', reason: 'not-allowed' });

    const pending = await cli(['pending', '--dir', dir]);
    expect(pending.code).toBe(0);
    expect(pending.out).toMatch(/nope\.example:443\s+\d+\s+not-allowed/);
    const status = await cli(['status', '--dir', dir]);
    expect(status.out).toContain('allow (0): -');
    expect(status.out).toMatch(/pending: [1-9]/);
  });

  it('a permanent allow rewrites the policy file and takes effect at once', async () => {
    const a = await cli(['allow', 'Nope.Example', '--dir', dir]);
    expect(a).toMatchObject({ code: 0, err: '' });
    expect(a.out).toContain('allowed nope.example');
    expect(policyFile()).toEqual({ allow: ['nope.example'], deny: [] });
    expect((await cli(['pending', '--dir', dir])).out).not.toContain('nope.example');

    // Allowed now: the proxy looks the name up (127.0.0.1 here) and refuses the address instead.
    const r = await refusalOf('nope.example:443');
    expect(r.status).toBe(403);
    expect(r.body?.reason).toBe('blocked-address');
    expect(dns.queries).toContain('nope.example');
    expect((await cli(['log', '--denied', '--lines', '1', '--dir', dir])).out).toMatch(/nope\.example:443 .*reason=blocked-address/);
    // An allow without a port is 443 only.
    expect((await refusalOf('nope.example:8443')).body?.reason).toBe('not-allowed');

    const status = await cli(['status', '--dir', dir]);
    expect(status.out).toContain('allow (1): nope.example');
  });

  it('an allow --for expires, and never touches the policy file', async () => {
    const a = await cli(['allow', 'brief.example', '--for', '2s', '--dir', dir]);
    expect(a).toMatchObject({ code: 0, err: '' });
    expect(a.out).toMatch(/allowed brief\.example for 2s/);
    expect(policyFile().allow).not.toContain('brief.example');
    const status = await cli(['status', '--dir', dir]);
    expect(status.out).toMatch(/temporary allows \(1\):\n {2}brief\.example {2}until /);
    expect((await refusalOf('brief.example:443')).body?.reason).toBe('blocked-address');
    await sleep(2500);
    expect((await refusalOf('brief.example:443')).body?.reason).toBe('not-allowed');
    expect((await cli(['status', '--dir', dir])).out).toContain('temporary allows: none');
  });

  it('a deny takes the name out of the allows and refuses it as denied', async () => {
    const d = await cli(['deny', 'nope.example', '--dir', dir]);
    expect(d).toMatchObject({ code: 0, err: '' });
    expect(policyFile()).toEqual({ allow: [], deny: ['nope.example'] });
    const r = await refusalOf('nope.example:443');
    expect(r.status).toBe(403);
    expect(r.body?.reason).toBe('denied');
    // A deny without a port denies every port.
    expect((await refusalOf('nope.example:8443')).body?.reason).toBe('denied');
    // Denied destinations are decided: not pending.
    const pending = await cli(['pending', '--json', '--dir', dir]);
    expect((JSON.parse(pending.out).pending as { host: string }[]).map((p) => p.host)).not.toContain('nope.example');
  });

  it('log --follow prints a decision made after it started, until stopped', async () => {
    const controller = new AbortController();
    let out = '';
    const done = run(['log', '--follow', '--denied', '--lines', '0', '--dir', dir], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } }, {
      signal: controller.signal,
      pollMs: 50,
    });
    await sleep(300);
    expect(out).toBe('');
    await connectThrough(proxyPort, 'followed.example:443');
    await waitFor('the followed decision', () => out.includes('followed.example:443'));
    expect(out).toMatch(/^\S+ {2}DENY +connect +followed\.example:443 .*reason=not-allowed/m);
    controller.abort();
    expect(await done).toBe(0);
  });

  it('refuses a bad entry before asking the proxy, and fails plainly without a proxy', async () => {
    const bad = await cli(['allow', 'https://x.example/', '--dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad entry: "https:\/\/x\.example\/" is a URL/);
    expect(policyFile().allow).not.toContain('x.example');

    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-cli-none-'));
    try {
      const r = await cli(['status', '--dir', empty]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/no admin socket at .*admin\.sock \(is the egress proxy running\?\)/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
