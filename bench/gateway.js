'use strict';
// Benchmark of the vault (gateway/): per-message latency (p50, p99) and messages per second
// through the gateway versus a direct TLS WebSocket to the same upstream, in the same run; and
// the gateway's RSS idle and with 500 open sessions. The gateway runs as a child process
// (`node gateway/dist/main.js`) so its RSS is its own; the upstream echo server and the clients
// run in this process. Loopback only.
//
//   node bench/gateway.js            prints a table
//   require('./bench/gateway').run() resolves to rows {name, value, unit, baseline?: {name, value}}

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const https = require('https');
const os = require('os');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'gateway', 'dist');

function ensureBuilt() {
  const src = path.join(ROOT, 'gateway', 'src');
  const newestSrc = Math.max(...fs.readdirSync(src).map((f) => fs.statSync(path.join(src, f)).mtimeMs));
  const main = path.join(DIST, 'main.js');
  if (!fs.existsSync(main) || fs.statSync(main).mtimeMs < newestSrc) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'gateway', 'tsconfig.json')], {
      stdio: 'inherit',
    });
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Echo upstream reachable two ways: plain ws (for the gateway) and wss (direct baseline). */
async function startUpstream(cert) {
  const { WebSocketServer } = require('ws');
  const echo = (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
  const plain = http.createServer();
  const secure = https.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' });
  const wssPlain = new WebSocketServer({ server: plain, perMessageDeflate: false, maxPayload: 1 << 20 });
  const wssSecure = new WebSocketServer({ server: secure, perMessageDeflate: false, maxPayload: 1 << 20 });
  const sockets = new Set();
  for (const w of [wssPlain, wssSecure]) {
    w.on('connection', (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      echo(ws);
    });
  }
  await new Promise((r) => plain.listen(0, '127.0.0.1', r));
  await new Promise((r) => secure.listen(0, '127.0.0.1', r));
  return {
    plainPort: plain.address().port,
    securePort: secure.address().port,
    sockets,
    async close() {
      for (const s of sockets) s.terminate();
      wssPlain.close();
      wssSecure.close();
      plain.closeAllConnections();
      secure.closeAllConnections();
      await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => secure.close(r))]);
    },
  };
}

async function startChildGateway(env) {
  const child = spawn(process.execPath, [path.join(DIST, 'main.js')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const deadline = Date.now() + 15000;
  while (!/"msg":"listening"/.test(err)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const info = JSON.parse(err.split('\n').find((l) => l.includes('"msg":"listening"')));
  return {
    child,
    port: Number(new URL(info.url).port),
    fingerprint: info.fingerprint,
    rssKiB() {
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Sequential round trips: one message in flight. Returns sorted latencies in ms. */
async function pingPong(ws, count, size) {
  const payload = Buffer.alloc(size, 0x61);
  const lat = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => {
      ws.once('message', resolve);
      ws.send(payload);
    });
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return lat.sort((a, b) => a - b);
}

/** Pipelined echo with a bounded window. Returns messages per second (round trips completed). */
async function throughput(ws, count, size, window) {
  const payload = Buffer.alloc(size, 0x62);
  let sent = 0;
  let received = 0;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < count && sent - received < window) {
        ws.send(payload);
        sent++;
      }
    };
    ws.on('message', () => {
      received++;
      if (received === count) resolve();
      else pump();
    });
    pump();
  });
  ws.removeAllListeners('message');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return count / seconds;
}

async function run(opts = {}) {
  const o = { latencyCount: 2000, latencySize: 64, throughputCount: 20000, throughputSize: 1024, window: 128, sessions: 500, ...opts };
  ensureBuilt();
  const { generateCertificate } = require(path.join(DIST, 'cert.js'));
  const { openPinnedWebSocket } = require(path.join(DIST, 'pinned.js'));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjg-bench-'));
  const token = crypto.randomBytes(32).toString('base64url');
  fs.writeFileSync(path.join(dir, 'token'), token + '\n', { mode: 0o600 });
  const upstreamCert = generateCertificate();
  const upstream = await startUpstream(upstreamCert);
  let gw;
  const opened = [];
  try {
    gw = await startChildGateway({
      GATEWAY_LISTEN: '127.0.0.1:0',
      GATEWAY_UPSTREAM: `ws://127.0.0.1:${upstream.plainPort}`,
      GATEWAY_STATE_DIR: path.join(dir, 'state'),
      GATEWAY_TOKEN_FILE: path.join(dir, 'token'),
      GATEWAY_MAX_CONNECTIONS: String(o.sessions + 50),
      GATEWAY_RATE_PER_MINUTE: '1000000',
      GATEWAY_RATE_BURST: '100000',
      GATEWAY_IDLE_TIMEOUT_MS: '0',
    });
    const viaGateway = () => openPinnedWebSocket(`wss://127.0.0.1:${gw.port}/`, { fingerprint: gw.fingerprint, token });
    const direct = () => openPinnedWebSocket(`wss://127.0.0.1:${upstream.securePort}/`, { fingerprint: upstreamCert.fingerprint });

    const g = await viaGateway();
    const d = await direct();
    // warm-up both paths (JIT, buffers)
    await pingPong(g, 200, o.latencySize);
    await pingPong(d, 200, o.latencySize);
    await throughput(g, 2000, o.throughputSize, o.window);
    await throughput(d, 2000, o.throughputSize, o.window);

    const latG = await pingPong(g, o.latencyCount, o.latencySize);
    const latD = await pingPong(d, o.latencyCount, o.latencySize);
    const tputG = await throughput(g, o.throughputCount, o.throughputSize, o.window);
    const tputD = await throughput(d, o.throughputCount, o.throughputSize, o.window);
    g.close();
    d.close();

    await new Promise((r) => setTimeout(r, 300));
    const rssIdle = gw.rssKiB();
    for (let i = 0; i < o.sessions; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, o.sessions - i) }, viaGateway));
      opened.push(...batch);
    }
    const deadline = Date.now() + 10000;
    while (upstream.sockets.size < o.sessions && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    const rssLoaded = gw.rssKiB();

    const r2 = (x) => Math.round(x * 1000) / 1000;
    return [
      { name: `gateway: echo latency p50 (${o.latencySize} B)`, value: r2(percentile(latG, 50)), unit: 'ms', baseline: { name: 'direct TLS WebSocket p50', value: r2(percentile(latD, 50)) } },
      { name: `gateway: echo latency p99 (${o.latencySize} B)`, value: r2(percentile(latG, 99)), unit: 'ms', baseline: { name: 'direct TLS WebSocket p99', value: r2(percentile(latD, 99)) } },
      { name: `gateway: echo throughput (${o.throughputSize} B, window ${o.window})`, value: Math.round(tputG), unit: 'msg/s', baseline: { name: 'direct TLS WebSocket', value: Math.round(tputD) } },
      { name: 'gateway: RSS with no session', value: Math.round(rssIdle / 102.4) / 10, unit: 'MiB' },
      { name: `gateway: RSS with ${opened.length} open sessions`, value: Math.round(rssLoaded / 102.4) / 10, unit: 'MiB' },
      { name: 'gateway: RSS per open session', value: Math.round(((rssLoaded - rssIdle) / opened.length) * 10) / 10, unit: 'KiB' },
    ];
  } finally {
    for (const ws of opened) ws.terminate();
    if (gw) await gw.stop();
    await upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function formatTable(rows) {
  const lines = rows.map((r) => [r.name, `${r.value} ${r.unit}`, r.baseline ? `${r.baseline.name}: ${r.baseline.value} ${r.unit}` : '']);
  const w = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

module.exports = { run, formatTable };

if (require.main === module) {
  run().then(
    (rows) => {
      process.stdout.write(formatTable(rows) + '\n');
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`${e.stack || e}\n`);
      process.exit(1);
    },
  );
}
