// The vault on the real Docker engine: the operator's CLI reaches the real OpenClaw in the cell
// only through the gateway, pinned and authenticated; the prisoner can neither take the
// gateway's port nor pass itself off as the gateway.
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { generateCertificate } from '../../gateway/src/cert';
import { fetchPresentedCertificate } from '../../gateway/src/pinned';
import { GATEWAY_INTERNAL_PORT, GATEWAY_LOGIN_INTERNAL_PORT } from '../../infra/model';
import { clawjail } from './cli';
import { testJail, type TestJail } from './testJail';

jest.setTimeout(5 * 60_000);

let jail: TestJail;
let gatewayName: string;
let cellName: string;
let gatewayIp: string;
let fingerprint: string;
let tmp: string;
let tokenFile: string;



/** Whether a TCP connection from the host to ip:port is accepted. */
function tcpOpen(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: 3000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

const HEALTH = '{"method":"health"}';

beforeAll(async () => {
  jail = testJail();
  gatewayName = jail.container('gateway').name;
  cellName = jail.container('cell').name;
  await jail.up();
  await jail.deployment.waitHealthy(gatewayName);
  await jail.deployment.waitHealthy(cellName);
  // Docker's healthcheck is OpenClaw's liveness; its gateway protocol answers once it is ready.
  const ready = `fetch('http://127.0.0.1:${jail.config.cell.openclawPort}/readyz').then(r=>r.json()).then(j=>console.log(j.ready===true?'ready':'not'),()=>console.log('down'))`;
  for (let i = 0; i < 120; i++) {
    if ((await jail.deployment.exec(cellName, ['node', '-e', ready])).stdout.trim() === 'ready') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const info = (await jail.deployment.inspect(gatewayName)) as {
    NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
  };
  // The test network has no egress, so Docker publishes no port; the host reaches the gateway
  // on its bridge address, which is what the published port forwards to.
  gatewayIp = info.NetworkSettings.Networks[jail.spec.networks[0].name].IPAddress;
  const fp = await jail.deployment.exec(gatewayName, ['node', '/app/dist/main.js', '--print-fingerprint']);
  fingerprint = fp.stdout.trim();
  expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-vault-'));
  tokenFile = path.join(tmp, 'operator.token');
  fs.writeFileSync(tokenFile, jail.secrets.gatewayToken, { mode: 0o600 });
}, 30 * 60_000);

afterAll(async () => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (jail) await jail.deployment.down();
}, 5 * 60_000);

const url = (port = GATEWAY_INTERNAL_PORT) => `wss://${gatewayIp}:${port}`;

it('the operator CLI gets a real OpenClaw answer through the gateway, pinned and authenticated', async () => {
  const r = await clawjail('connect', url(), '--fingerprint', fingerprint, '--token-file', tokenFile, '--send', HEALTH);
  expect(r.stderr).not.toMatch(/mismatch|refused/i);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/"ok":\s*true/);
});

it('`clawjail fingerprint` shows the certificate the gateway presents', async () => {
  const r = await clawjail('fingerprint', url());
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(fingerprint);
});

it('a wrong operator token is refused by the gateway', async () => {
  const wrong = path.join(tmp, 'wrong.token');
  fs.writeFileSync(wrong, 'w'.repeat(64), { mode: 0o600 });
  const r = await clawjail('connect', url(), '--fingerprint', fingerprint, '--token-file', wrong, '--send', HEALTH);
  expect(r.code).toBe(4);
  expect(r.stderr).toMatch(/401|unauthorized/i);
});

it('a certificate other than the pinned one is refused, showing both fingerprints', async () => {
  const other = generateCertificate().fingerprint;
  const r = await clawjail('connect', url(), '--fingerprint', other, '--token-file', tokenFile, '--send', HEALTH);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(other);
  expect(r.stderr).toContain(fingerprint);
});

it('OpenClaw’s own port is reachable from nowhere but the gateway', async () => {
  const openclawPort = jail.config.cell.openclawPort;
  expect(await tcpOpen(gatewayIp, GATEWAY_INTERNAL_PORT)).toBe(true); // the same path, allowed
  expect(await tcpOpen(gatewayIp, openclawPort)).toBe(false);
  // Inside the namespace OpenClaw does listen, on loopback only.
  const inside = await jail.deployment.exec(cellName, [
    'node', '-e', `require('net').connect(${openclawPort},'127.0.0.1').on('connect',()=>{console.log('open');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`,
  ]);
  expect(inside.stdout.trim()).toBe('open');
});

it('the prisoner cannot take the gateway’s ports (the dashboard’s, the login page’s) while the gateway holds them', async () => {
  const tryBind = (port: number, host: string) =>
    jail.deployment.exec(cellName, [
      'node', '-e',
      `require('net').createServer().on('error',e=>{console.log(e.code);process.exit(0)}).listen({port:${port},host:'${host}'},()=>{console.log('BOUND');process.exit(0)})`,
    ]);
  for (const port of [GATEWAY_INTERNAL_PORT, GATEWAY_LOGIN_INTERNAL_PORT]) {
    expect((await tryBind(port, '0.0.0.0')).stdout.trim()).toBe('EADDRINUSE');
    expect((await tryBind(port, '127.0.0.1')).stdout.trim()).toBe('EADDRINUSE');
  }
  // The same bind on a free port works: the refusal is the port being held, not a broken test.
  expect((await tryBind(GATEWAY_INTERNAL_PORT + 3, '0.0.0.0')).stdout.trim()).toBe('BOUND');
});

it('the login page is on its own origin: the dashboard port points there and takes no token', async () => {
  const get = (port: number, pathname: string, method = 'GET') =>
    new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
      const req = https.request(
        { host: gatewayIp, port, path: pathname, method, rejectUnauthorized: false, agent: false, headers: { Accept: 'text/html' } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const redirect = await get(GATEWAY_INTERNAL_PORT, '/');
  expect(redirect.status).toBe(303);
  expect(redirect.location).toBe(`https://${gatewayIp}:${GATEWAY_LOGIN_INTERNAL_PORT}/__clawjail/login?next=%2F`);
  expect((await get(GATEWAY_INTERNAL_PORT, '/__clawjail/login', 'POST')).status).toBe(404);
  const form = await get(GATEWAY_LOGIN_INTERNAL_PORT, '/__clawjail/login');
  expect(form.status).toBe(200);
  expect(form.body).toContain('name="token"');
  // The same certificate on both ports: one fingerprint for the operator to check.
  const presented = await fetchPresentedCertificate({ host: gatewayIp, port: GATEWAY_LOGIN_INTERNAL_PORT, timeoutMs: 10_000 });
  expect(presented.fingerprint).toBe(fingerprint);
});

it('an impostor in the cell serving its own certificate is refused by the pinned client and learns nothing', async () => {
  const impostor = generateCertificate({ commonName: 'clawjail-gateway' });
  const port = GATEWAY_INTERNAL_PORT + 2;
  const script = `
const fs = require('fs'), tls = require('tls');
const log = (m) => fs.appendFileSync('/workspace/.impostor.log', m + '\\n');
const srv = tls.createServer({ key: fs.readFileSync('/workspace/.impostor.key'), cert: fs.readFileSync('/workspace/.impostor.crt') }, (s) => {
  log('handshake');
  s.on('data', (d) => log('data ' + d.length));
  s.on('error', () => {});
});
srv.on('connection', () => log('tcp'));
srv.listen(${port}, '0.0.0.0', () => log('listening'));
setTimeout(() => process.exit(0), 30000);
`;
  const put = async (file: string, content: string) => {
    const r = await jail.deployment.exec(cellName, ['sh', '-c', `cat > ${file}`], { input: Buffer.from(content) });
    expect(r.code).toBe(0);
  };
  await put('/workspace/.impostor.key', impostor.keyPem);
  await put('/workspace/.impostor.crt', impostor.certPem);
  await put('/workspace/.impostor.js', script);
  await put('/workspace/.impostor.log', '');
  await jail.deployment.exec(cellName, ['sh', '-c', 'node /workspace/.impostor.js >/dev/null 2>&1 &']);
  const log = async () => (await jail.deployment.exec(cellName, ['cat', '/workspace/.impostor.log'])).stdout;
  for (let i = 0; i < 50 && !(await log()).includes('listening'); i++) await new Promise((r) => setTimeout(r, 200));
  expect(await log()).toContain('listening');

  const r = await clawjail('connect', url(port), '--fingerprint', fingerprint, '--token-file', tokenFile, '--send', HEALTH);
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(impostor.fingerprint);
  expect(r.stderr).toContain(fingerprint);
  await new Promise((res) => setTimeout(res, 500));
  const seen = await log();
  expect(seen).toMatch(/^tcp$/m); // the client did reach the impostor...
  expect(seen).not.toMatch(/^data /m); // ...and sent it not one byte: no request, no token
});

it('a gateway restarted by hand does not strand the cell: it follows the gateway into its new namespace, and the operator gets through again', async () => {
  const before = (await jail.deployment.inspect(cellName)) as { RestartCount: number; State: { StartedAt: string } };
  // As `docker restart <gateway>` does.
  await jail.deployment.engine.request('POST', `/containers/${gatewayName}/restart?t=10`, undefined, 60_000);
  await jail.deployment.waitHealthy(gatewayName);
  // The cell's watcher notices the lost namespace and stops OpenClaw; Docker's restart policy
  // starts the cell again, in the gateway's new namespace.
  let answered = false;
  let last = '';
  for (const end = Date.now() + 180_000; Date.now() < end && !answered; ) {
    const r = await clawjail('connect', url(), '--fingerprint', fingerprint, '--token-file', tokenFile, '--send', HEALTH);
    answered = r.code === 0 && /"ok":\s*true/.test(r.stdout);
    last = `${r.code} ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 300)}`;
    if (!answered) await new Promise((res) => setTimeout(res, 2000));
  }
  expect({ answered, last }).toEqual({ answered: true, last: expect.any(String) });
  const after = (await jail.deployment.inspect(cellName)) as { RestartCount: number; State: { StartedAt: string } };
  expect(after.State.StartedAt).not.toBe(before.State.StartedAt);
  // One namespace again: the cell's interfaces are the gateway's.
  const ifaces = async (c: string) => (await jail.deployment.exec(c, ['cat', '/proc/net/dev'])).stdout.split('\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean).sort();
  expect(await ifaces(cellName)).toEqual(await ifaces(gatewayName));
  expect((await ifaces(cellName)).filter((i) => i !== 'lo').length).toBeGreaterThan(0);
}, 10 * 60_000);
