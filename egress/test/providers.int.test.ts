// Provider routes in-process: a local TLS fake provider (certificate from a test CA) receives the
// configured key in the configured header, whatever credentials the cell sent; the key appears in
// no log line and no error body; an upstream whose certificate does not verify is refused.
import * as crypto from 'crypto';
import * as fs from 'fs';
import type { Provider } from '../src/providers';
import { parseProviders } from '../src/providers';
import {
  makePki,
  proxyRequest,
  startFakeDns,
  startGate,
  startHttpUpstream,
  tmpDir,
  type FakeDns,
  type HttpUpstream,
  type TestGate,
  type TestPki,
} from './helpers';
import * as http from 'http';

jest.setTimeout(30_000);

const KEY_OPENAI = 'sk-test-' + crypto.randomBytes(16).toString('hex');
const KEY_ANTHROPIC = 'sk-ant-' + crypto.randomBytes(16).toString('hex');
const KEY_BAD = 'sk-bad-' + crypto.randomBytes(16).toString('hex');
const KEYS = [KEY_OPENAI, KEY_ANTHROPIC, KEY_BAD];

let dir: string;
let pki: TestPki;
let dns: FakeDns;
let provider: HttpUpstream;
let impostor: HttpUpstream;
let providers: Provider[];
const seenBodies: string[] = [];
const gates: TestGate[] = [];

beforeAll(async () => {
  dir = tmpDir();
  pki = makePki(dir);
  provider = await startHttpUpstream(pki.leaf(['provider.test']));
  impostor = await startHttpUpstream(pki.selfSigned(['badprov.test']));
  dns = await startFakeDns({ 'provider.test': ['127.0.0.1'], 'badprov.test': ['127.0.0.1'], 'otherprov.test': ['127.0.0.1'], 'blockedprov.test': ['127.0.0.2'] });
  providers = parseProviders({
    providers: [
      { name: 'openai', baseUrl: `https://provider.test:${provider.port}/v1`, header: 'authorization', prefix: 'Bearer ', key: KEY_OPENAI },
      { name: 'anthropic', baseUrl: `https://provider.test:${provider.port}`, header: 'x-api-key', prefix: '', key: KEY_ANTHROPIC },
      { name: 'bad', baseUrl: `https://badprov.test:${impostor.port}/v1`, header: 'authorization', prefix: 'Bearer ', key: KEY_BAD },
      // the resolver sends this name to the real provider's server, whose certificate (from a trusted CA) is for provider.test only
      { name: 'misnamed', baseUrl: `https://otherprov.test:${provider.port}/v1`, header: 'authorization', prefix: 'Bearer ', key: KEY_BAD },
      { name: 'blocked', baseUrl: `https://blockedprov.test:${provider.port}`, header: 'authorization', prefix: 'Bearer ', key: KEY_BAD },
    ],
  });
});
afterEach(async () => {
  // The keys appear in no decision line, no process log line and no error body the cell got.
  // (Successful bodies are the fake provider's echo of what it received, key included.)
  const open = gates.splice(0);
  const bodies = seenBodies.splice(0);
  for (const g of open) await g.close();
  for (const g of open) {
    const text = fs.readFileSync(g.logFile, 'utf8') + g.processLog.join('\n') + bodies.join('\n');
    fs.rmSync(g.dir, { recursive: true, force: true });
    for (const k of KEYS) expect(text).not.toContain(k);
  }
});
afterAll(async () => {
  await provider.close();
  await impostor.close();
  await dns.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function gate(opts: { ca?: string | null; deny?: string[] } = {}): Promise<TestGate> {
  const g = await startGate({ dnsPort: dns.port, allow: [], deny: opts.deny, providers, providerCa: opts.ca === null ? undefined : (opts.ca ?? pki.caPem) });
  gates.push(g);
  return g;
}

async function call(g: TestGate, path: string, opts: Parameters<typeof proxyRequest>[2] = {}) {
  const r = await proxyRequest(g.port, path, opts);
  if (r.status >= 300) seenBodies.push(r.body);
  return r;
}

describe('provider routes', () => {
  it('openai shape: the cell’s credentials are removed and `authorization: Bearer <key>` is set; path and query kept', async () => {
    const g = await gate();
    const n = provider.requests.length;
    const r = await call(g, '/providers/openai/chat/completions?stream=false&x=1', {
      method: 'POST',
      headers: {
        Authorization: 'Bearer from-the-cell',
        'X-Api-Key': 'cell-key',
        'Api-Key': 'cell-key',
        'X-Goog-Api-Key': 'cell-key',
        'Proxy-Authorization': 'Basic Y2VsbA==',
        'Content-Type': 'application/json',
      },
      body: '{"model":"m"}',
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).nonce).toBe(provider.nonce);
    const seen = provider.requests[n];
    expect(seen.url).toBe('/v1/chat/completions?stream=false&x=1');
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe('{"model":"m"}');
    expect(seen.headers.authorization).toBe(`Bearer ${KEY_OPENAI}`);
    expect(seen.headers.host).toBe(`provider.test:${provider.port}`);
    for (const h of ['x-api-key', 'api-key', 'x-goog-api-key', 'proxy-authorization']) expect(seen.headers[h]).toBeUndefined();
    const d = g.decisions().find((x) => x.kind === 'provider')!;
    expect(d).toMatchObject({ kind: 'provider', provider: 'openai', host: 'provider.test', port: provider.port, address: '127.0.0.1', decision: 'allow', reason: null });
  });

  it('anthropic shape: `x-api-key: <key>` replaces the cell’s, and its authorization is dropped', async () => {
    const g = await gate();
    const n = provider.requests.length;
    const r = await call(g, '/providers/anthropic/v1/messages', { method: 'POST', headers: { 'x-api-key': 'cell-key', authorization: 'Bearer cell' }, body: '{}' });
    expect(r.status).toBe(200);
    const seen = provider.requests[n];
    expect(seen.url).toBe('/v1/messages');
    expect(seen.headers['x-api-key']).toBe(KEY_ANTHROPIC);
    expect(seen.headers.authorization).toBeUndefined();
  });

  it('streams responses (server-sent events arrive as they are sent)', async () => {
    const g = await gate();
    const chunks: string[] = [];
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: g.port, path: '/providers/openai/sse', agent: false }, (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.on('data', (c: Buffer) => chunks.push(c.toString()));
          res.on('end', () => resolve());
        })
        .on('error', reject);
    });
    expect(chunks.join('')).toBe([0, 1, 2].map((i) => `data: ${provider.nonce}-${i}\n\n`).join(''));
    expect(chunks.length).toBeGreaterThanOrEqual(2);
  });

  /** The route's TLS check fails: 502 upstream-failed, logged, and the server behind it gets no request; the trusted route passes. */
  async function refusedBeforeSending(route: string, host: string, server: HttpUpstream): Promise<void> {
    const g = await gate();
    const before = server.requests.length;
    const r = await call(g, `/providers/${route}/models`, { headers: { authorization: 'Bearer cell' } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'egress denied', reason: 'upstream-failed', host });
    expect(r.headers['x-clawjail-egress']).toBe('denied; reason=upstream-failed');
    expect(server.requests.length).toBe(before);
    expect(g.decisions().find((d) => d.provider === route)).toMatchObject({ reason: 'upstream-failed' });
    const providerBefore = provider.requests.length;
    expect((await call(g, '/providers/openai/models')).status).toBe(200);
    expect(provider.requests.length).toBe(providerBefore + 1);
  }

  it('refuses an upstream whose certificate does not verify (502, nothing sent); the trusted one passes', async () => {
    await refusedBeforeSending('bad', 'badprov.test', impostor);
  });

  it('refuses a trusted certificate for another name (a resolver that points the provider elsewhere gets no key); the right name passes', async () => {
    await refusedBeforeSending('misnamed', 'otherprov.test', provider);
  });

  it('verifies against the system CAs by default: without the test CA even the fake provider is refused', async () => {
    const g = await gate({ ca: null });
    const before = provider.requests.length;
    const r = await call(g, '/providers/openai/models');
    expect(r.status).toBe(502);
    expect(provider.requests.length).toBe(before);
  });

  it('unknown provider → 404 JSON; blocked address, deny entries and dot segments are refused; the good route passes', async () => {
    const g = await gate({ deny: [] });
    const unknown = await call(g, '/providers/nope/x');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ error: 'unknown provider', provider: 'nope', providers: ['anthropic', 'bad', 'blocked', 'misnamed', 'openai'] });
    const blocked = await call(g, '/providers/blocked/x');
    expect(blocked.status).toBe(403);
    expect(JSON.parse(blocked.body)).toMatchObject({ reason: 'blocked-address', host: 'blockedprov.test' });
    expect((await call(g, '/providers/openai/../../etc')).status).toBe(400);
    expect((await call(g, '/providers/openai/%2e%2e/x')).status).toBe(400);
    expect((await call(g, '/providers/openai/models')).status).toBe(200);
    await g.admin({ op: 'deny', entry: 'provider.test' });
    const denied = await call(g, '/providers/openai/models');
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ reason: 'denied' });
  });
});

describe('providers file', () => {
  it('fills known shapes, and its errors never show the key', () => {
    const [p] = parseProviders({ providers: [{ name: 'anthropic', key: KEY_ANTHROPIC }] });
    expect(p).toMatchObject({ header: 'x-api-key', prefix: '' });
    expect(p.baseUrl.href).toBe('https://api.anthropic.com/');
    for (const bad of [
      { name: 'x', baseUrl: 'http://plain.example/v1', header: 'authorization', key: KEY_BAD },
      { name: 'x', baseUrl: 'https://1.2.3.4/v1', header: 'authorization', key: KEY_BAD },
      { name: 'x', baseUrl: 'https://a.example/v1', header: 'bad header', key: KEY_BAD },
      { name: 'x', baseUrl: 'https://a.example/v1', header: 'authorization', key: KEY_BAD + '\n' },
      { name: 'X Y', baseUrl: 'https://a.example/v1', header: 'authorization', key: KEY_BAD },
    ]) {
      let message = '';
      try {
        parseProviders({ providers: [bad] });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(KEY_BAD);
    }
  });
});
