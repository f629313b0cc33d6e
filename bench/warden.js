#!/usr/bin/env node
// Warden benchmark: detection latency (write → tombstone) and burst throughput of the real warden
// process against a private clamd, beside two baselines on the same files in the same run:
//   - raw clamd INSTREAM (our client, no watcher, no quarantine): the engine's limit;
//   - one `clamdscan --stream` process per file: the seed's approach.
// Also the warden's peak RSS (VmHWM).
//
//   node bench/warden.js            print a table (builds warden/dist and the test harness first)
//   node bench/warden.js --json     print the rows as JSON
//   require('./bench/warden').run() → rows [{ name, value, unit, baseline?: { name, value } }]
//
// clamd runs with DisableCache so that scanning the same bytes twice costs the same for every
// contender; its TemporaryDirectory is on /dev/shm (tmpfs) when available, as in the image.
'use strict';

const { execFileSync, spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const WARDEN = path.join(ROOT, 'warden');

function newestMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Compile warden/src → warden/dist and the harness → warden/test/dist when stale. */
function ensureBuilt() {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT, WARDEN] });
  const stale = (out, srcs) => !fs.existsSync(out) || srcs.some((s) => (fs.statSync(s).isDirectory() ? newestMtime(s) : fs.statSync(s).mtimeMs) > fs.statSync(out).mtimeMs);
  if (stale(path.join(WARDEN, 'dist', 'main.js'), [path.join(WARDEN, 'src')])) {
    execFileSync(process.execPath, [tsc, '-p', path.join(WARDEN, 'tsconfig.json')], { stdio: 'inherit' });
  }
  const harness = path.join(WARDEN, 'test', 'dist', 'test', 'clamd-harness.js');
  if (stale(harness, [path.join(WARDEN, 'test', 'clamd-harness.ts'), path.join(WARDEN, 'test', 'warden-process.ts')])) {
    execFileSync(process.execPath, [tsc, '-p', path.join(WARDEN, 'tsconfig.harness.json')], { stdio: 'inherit' });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

const round = (v, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

/** Resolve when `name` appears in `dir` (inotify), or reject after timeoutMs. */
function waitForName(dir, name, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const full = path.join(dir, name);
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      w.close();
      err ? reject(err) : resolve(now());
    };
    const w = fs.watch(dir, (_ev, f) => {
      if (f === name && fs.existsSync(full)) finish();
    });
    const poll = setInterval(() => fs.existsSync(full) && finish(), 50);
    const timer = setTimeout(() => finish(new Error(`${name} did not appear in ${timeoutMs} ms`)), timeoutMs);
    if (fs.existsSync(full)) finish();
  });
}

/** Read a JSON-lines file incrementally: each read() returns the lines appended since the last. */
function auditTail(file) {
  let offset = 0;
  let rest = '';
  return {
    read() {
      let fd;
      try {
        fd = fs.openSync(file, 'r');
      } catch {
        return [];
      }
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= offset) return [];
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        offset = size;
        const text = rest + buf.toString('utf8');
        const lines = text.split('\n');
        rest = lines.pop();
        return lines.filter(Boolean).map((l) => JSON.parse(l));
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

async function* oneChunk(buf) {
  yield buf;
}

function clamdscanOnce(confFile, file) {
  return new Promise((resolve, reject) => {
    const c = spawn('clamdscan', [`--config-file=${confFile}`, '--stream', '--no-summary', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 || code === 1 ? resolve(out) : reject(new Error(`clamdscan exit ${code}: ${out}`))));
  });
}

/**
 * @param {{ latencySamples?: number, burstFiles?: number, burstFileSize?: number, bigFiles?: number, bigFileSize?: number, clamdscanSamples?: number, threads?: number, log?: (s: string) => void }} [opts]
 * @returns {Promise<{ name: string, value: number, unit: string, baseline?: { name: string, value: number } }[]>}
 */
async function run(opts = {}) {
  const o = {
    latencySamples: 200,
    burstFiles: 2000,
    burstFileSize: 4096,
    bigFiles: 40,
    bigFileSize: 1024 * 1024,
    clamdscanSamples: 200,
    threads: Math.max(2, os.cpus().length),
    log: () => {},
    ...opts,
  };
  ensureBuilt();
  const H = require(path.join(WARDEN, 'test', 'dist', 'test', 'clamd-harness.js'));
  const { WardenProcess } = require(path.join(WARDEN, 'test', 'dist', 'test', 'warden-process.js'));
  const { ClamdClient } = require(path.join(WARDEN, 'dist', 'clamd-client.js'));
  const { parseEndpoint } = require(path.join(WARDEN, 'dist', 'clamd-protocol.js'));

  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cjw-bench-'));
  const ws = path.join(base, 'ws');
  const jail = path.join(base, 'jail');
  const samples = path.join(base, 'samples');
  for (const d of [ws, jail, samples]) fs.mkdirSync(d);
  let clamd = null;
  let warden = null;
  const rows = [];
  try {
    clamd = await H.startClamd({ maxThreads: o.threads, streamMaxLength: '64M', maxFileSize: '64M', maxScanSize: '256M', extraConfig: ['DisableCache yes'] });
    const confFile = path.join(clamd.dir, 'clamd.conf');
    const client = new ClamdClient(parseEndpoint(clamd.tcp), { timeoutMs: 60000 });

    // --- the warden, as a process, default settings ---
    warden = await WardenProcess.start({
      healthPort: await H.freePort(),
      logFile: path.join(base, 'warden.log'),
      env: { WARDEN_WATCH: ws, WARDEN_JAIL: jail, WARDEN_CLAMD: clamd.tcp, WARDEN_LOG_LEVEL: 'warn', WARDEN_RESCAN_INTERVAL_S: '0', ...(o.wardenEnv || {}) },
    });
    for (let i = 0; i < 100 && (await warden.health()).status !== 'ok'; i++) await sleep(50);

    // 1. latency: write one EICAR file, wait for its tombstone; one at a time
    o.log(`warden latency: ${o.latencySamples} EICAR files, one at a time`);
    fs.mkdirSync(path.join(ws, 'lat'));
    const lat = [];
    for (let i = 0; i < o.latencySamples; i++) {
      const name = `sample-${i}.com`;
      const t0 = now();
      const seen = waitForName(path.join(ws, 'lat'), `${name}.quarantined.txt`);
      fs.writeFileSync(path.join(ws, 'lat', name), H.EICAR);
      lat.push((await seen) - t0);
    }

    // 2. burst of small files, then of 1 MiB files: time until every one has a clean verdict in
    //    the audit log (read incrementally) and the queue is idle
    const audit = auditTail(path.join(jail, 'audit.log'));
    const burst = async (dirName, n, size) => {
      const dir = path.join(ws, dirName);
      fs.mkdirSync(dir);
      const data = Array.from({ length: n }, () => crypto.randomBytes(size));
      const prefix = dir + '/';
      const seen = new Set();
      const t0 = now();
      for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `f-${i}.bin`), data[i]);
      for (;;) {
        for (const l of audit.read()) if (l.event === 'clean' && l.path && l.path.text.startsWith(prefix) && l.size === size) seen.add(l.path.text);
        if (seen.size >= n) {
          const h = await warden.health().catch(() => null);
          if (h && h.queue.pending === 0 && h.queue.inflight === 0) break;
        }
        await sleep(10);
      }
      return { ms: now() - t0, dir };
    };
    o.log(`warden burst: ${o.burstFiles} × ${o.burstFileSize} B`);
    const small = await burst('burst-small', o.burstFiles, o.burstFileSize);
    o.log(`warden burst: ${o.bigFiles} × ${o.bigFileSize} B`);
    const big = await burst('burst-big', o.bigFiles, o.bigFileSize);
    const mem = warden.memory();
    await warden.stop();
    warden = null;

    // --- baseline: raw clamd INSTREAM on the same files ---
    for (let i = 0; i < o.latencySamples; i++) fs.writeFileSync(path.join(samples, `sample-${i}.com`), H.EICAR);
    const rawScanFile = async (f) => {
      const t0 = now();
      const v = await client.instream(oneChunk(fs.readFileSync(f)));
      return { ms: now() - t0, v };
    };
    o.log('raw INSTREAM latency');
    const rawLat = [];
    for (let i = 0; i < o.latencySamples; i++) rawLat.push((await rawScanFile(path.join(samples, `sample-${i}.com`))).ms);
    const rawThroughput = async (dir) => {
      const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
      let next = 0;
      const t0 = now();
      await Promise.all(Array.from({ length: o.threads }, async () => {
        while (next < files.length) await rawScanFile(files[next++]);
      }));
      return now() - t0;
    };
    o.log('raw INSTREAM bursts');
    const rawSmallMs = await rawThroughput(small.dir);
    const rawBigMs = await rawThroughput(big.dir);

    // --- baseline: one clamdscan --stream process per file (the seed's approach) ---
    o.log(`clamdscan --stream per file: ${o.clamdscanSamples} EICAR + ${o.clamdscanSamples} small clean files`);
    const csLat = [];
    for (let i = 0; i < o.clamdscanSamples; i++) {
      const t0 = now();
      await clamdscanOnce(confFile, path.join(samples, `sample-${i % o.latencySamples}.com`));
      csLat.push(now() - t0);
    }
    const smallFiles = fs.readdirSync(small.dir).slice(0, o.clamdscanSamples).map((f) => path.join(small.dir, f));
    const t0 = now();
    for (const f of smallFiles) await clamdscanOnce(confFile, f);
    const csMs = now() - t0;

    const mb = (n, size) => (n * size) / (1024 * 1024);
    const RAW = 'raw clamd INSTREAM';
    rows.push(
      { name: 'detection latency p50 (write → tombstone)', value: round(percentile(lat, 50)), unit: 'ms', baseline: { name: `${RAW} p50`, value: round(percentile(rawLat, 50), 2) } },
      { name: 'detection latency p99 (write → tombstone)', value: round(percentile(lat, 99)), unit: 'ms', baseline: { name: `${RAW} p99`, value: round(percentile(rawLat, 99), 2) } },
      { name: 'clamdscan --stream per file: scan latency p50', value: round(percentile(csLat, 50)), unit: 'ms', baseline: { name: `${RAW} p50`, value: round(percentile(rawLat, 50), 2) } },
      { name: 'clamdscan --stream per file: scan latency p99', value: round(percentile(csLat, 99)), unit: 'ms', baseline: { name: `${RAW} p99`, value: round(percentile(rawLat, 99), 2) } },
      { name: `warden burst throughput (${o.burstFiles} × ${o.burstFileSize / 1024} KiB)`, value: round(o.burstFiles / (small.ms / 1000)), unit: 'files/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(o.burstFiles / (rawSmallMs / 1000)) } },
      { name: `warden burst throughput (${o.burstFiles} × ${o.burstFileSize / 1024} KiB)`, value: round(mb(o.burstFiles, o.burstFileSize) / (small.ms / 1000), 2), unit: 'MB/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(mb(o.burstFiles, o.burstFileSize) / (rawSmallMs / 1000), 2) } },
      { name: `clamdscan --stream per file (${smallFiles.length} × ${o.burstFileSize / 1024} KiB)`, value: round(smallFiles.length / (csMs / 1000)), unit: 'files/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(o.burstFiles / (rawSmallMs / 1000)) } },
      { name: `warden burst throughput (${o.bigFiles} × ${o.bigFileSize / 1048576} MiB)`, value: round(mb(o.bigFiles, o.bigFileSize) / (big.ms / 1000), 1), unit: 'MB/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(mb(o.bigFiles, o.bigFileSize) / (rawBigMs / 1000), 1) } },
      { name: 'warden peak RSS (VmHWM)', value: round(mem.peakKb / 1024), unit: 'MiB' },
    );
    return rows;
  } finally {
    if (warden) await warden.stop().catch(() => {});
    if (clamd) await clamd.destroy().catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
  }
}

function formatTable(rows) {
  const cells = rows.map((r) => [r.name, `${r.value} ${r.unit}`, r.baseline ? `${r.baseline.value} ${r.unit}` : '', r.baseline ? r.baseline.name : '']);
  const head = ['metric', 'value', 'baseline', 'baseline is'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, w.map((n) => '-'.repeat(n)), ...cells].map((c) => c.map((x, i) => (i === 1 || i === 2 ? x.padStart(w[i]) : x.padEnd(w[i]))).join('  ').trimEnd()).join('\n');
}

module.exports = { run, formatTable };

if (require.main === module) {
  const json = process.argv.includes('--json');
  run({ log: json ? () => {} : (s) => process.stderr.write(`bench: ${s}\n`) }).then(
    (rows) => process.stdout.write(json ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rows) + '\n'),
    (e) => {
      process.stderr.write(`bench failed: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    },
  );
}
