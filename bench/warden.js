#!/usr/bin/env node
// Warden benchmark: the real warden process against a private clamd, every figure beside a
// baseline measured in the same run:
//   - detection latency (write → tombstone) of EICAR files, one at a time on an idle warden;
//   - bursts (2,000 × 4 KiB in rounds, 40 × 1 MiB): time from the first write to the last clean
//     verdict in the audit log; after each round the same files go through raw clamd INSTREAM
//     (our client on as many streams as clamd has threads, which is what the warden uses; no
//     watcher, no checks, no audit): the engine's limit. Interleaved, so both see the same load;
//   - a flood of 10,000 × 4 KiB: the warden's peak RSS (VmHWM, reset before the flood), beside
//     its idle RSS;
//   - a real `npm install` (@babel/core + @babel/preset-env, a few thousand files) into the
//     workspace: time from the last write (the newest ctime in the tree) to the last verdict
//     (the newest audit line for the tree), beside the time raw INSTREAM needs for those files;
//   - one `clamdscan --stream` process per file: the seed's approach.
//
// The workspace is on tmpfs (/dev/shm) when available: creating a file costs about 0.5 ms on
// this VM's disk, so 2,000 creations alone would take longer than clamd needs to scan them and
// the burst would measure the writer. The jail (quarantine, audit log) stays on disk, so every
// fsync is real; the two are then different filesystems and quarantine copies, as between the
// two Docker volumes of the stack.
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
/** clamd's ReadTimeout in the stack (infra/model/warden.ts CLAMD_READ_TIMEOUT_S) */
const READ_TIMEOUT_S = 300;
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
  const harness = path.join(WARDEN, 'test', 'dist', 'warden', 'test', 'clamdHarness.js');
  if (stale(harness, [path.join(WARDEN, 'test', 'clamdHarness.ts'), path.join(WARDEN, 'test', 'wardenProcess.ts'), path.join(WARDEN, '..', 'test', 'helpers', 'wait.ts')])) {
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

function writableDir(d) {
  try {
    fs.accessSync(d, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every regular file below dir, with the newest ctime among them (ms since the epoch). */
function listTree(dir) {
  const files = [];
  let newestCtimeMs = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop();
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p, { bigint: true });
      newestCtimeMs = Math.max(newestCtimeMs, Number(st.ctimeNs / 1000n) / 1000);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) files.push(p);
    }
  }
  return { files, newestCtimeMs };
}

/** Peak RSS since the last reset (VmHWM); resetPeak() starts a new peak (root, Linux ≥ 4.0). */
function resetPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function npmBin() {
  // the npm that came with this node
  const beside = path.join(path.dirname(process.execPath), 'npm');
  return fs.existsSync(beside) ? beside : 'npm';
}

function runNpm(args, opts) {
  return new Promise((resolve, reject) => {
    const c = spawn(npmBin(), args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`npm ${args.join(' ')}: exit ${code}: ${out.slice(-2000)}`))));
  });
}

/**
 * @param {{ latencySamples?: number, burstFiles?: number, burstFileSize?: number, burstRounds?: number, bigFiles?: number, bigFileSize?: number, floodFiles?: number, npmPackages?: string[] | null, clamdscanSamples?: number, threads?: number, wardenEnv?: Record<string, string>, log?: (s: string) => void }} [opts]
 * @returns {Promise<{ name: string, value: number, unit: string, baseline?: { name: string, value: number } }[]>}
 */
async function run(opts = {}) {
  const o = {
    latencySamples: 200,
    burstFiles: 2000,
    burstFileSize: 4096,
    burstRounds: 3,
    bigFiles: 40,
    bigFileSize: 1024 * 1024,
    floodFiles: 10000,
    // a real package set with a few thousand files (3,105 files in 133 packages when measured)
    npmPackages: ['@babel/core@7.26.0', '@babel/preset-env@7.26.0'],
    npmCache: path.join(os.tmpdir(), 'cjw-bench-npm-cache'),
    clamdscanSamples: 200,
    threads: Math.max(2, os.cpus().length),
    log: () => {},
    ...opts,
  };
  ensureBuilt();
  const H = require(path.join(WARDEN, 'test', 'dist', 'warden', 'test', 'clamdHarness.js'));
  const { WardenProcess } = require(path.join(WARDEN, 'test', 'dist', 'warden', 'test', 'wardenProcess.js'));
  const { ClamdClient } = require(path.join(WARDEN, 'dist', 'clamdClient.js'));
  const { parseEndpoint } = require(path.join(WARDEN, 'dist', 'clamdProtocol.js'));

  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cjw-bench-'));
  const wsBase = fs.mkdtempSync(path.join(writableDir('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'cjw-bench-ws-'));
  const ws = path.join(wsBase, 'ws');
  const jail = path.join(base, 'jail');
  const samples = path.join(base, 'samples');
  for (const d of [ws, jail, samples]) fs.mkdirSync(d);
  let clamd = null;
  let warden = null;
  let sessionClient = null;
  const rows = [];
  try {
    // ReadTimeout as the stack's clamd has it (infra/model/warden.ts): the warden's scans (120 s at most) run in sessions
    clamd = await H.startClamd({ maxThreads: o.threads, streamMaxLength: '64M', maxFileSize: '64M', maxScanSize: '256M', readTimeoutS: READ_TIMEOUT_S, extraConfig: ['DisableCache yes'] });
    const confFile = path.join(clamd.dir, 'clamd.conf');
    const client = new ClamdClient(parseEndpoint(clamd.tcp), { timeoutMs: 60000 });
    // the same client in clamd sessions, as the warden scans: the cheapest way to feed clamd
    sessionClient = new ClamdClient(parseEndpoint(clamd.tcp), { timeoutMs: 60000, sessions: true, clamdReadTimeoutMs: READ_TIMEOUT_S * 1000 });

    // --- the warden, as a process, default settings (WARDEN_CONCURRENCY auto: clamd's MaxThreads) ---
    warden = await WardenProcess.start({
      healthPort: await H.freePort(),
      logFile: path.join(base, 'warden.log'),
      env: { WARDEN_WATCH: ws, WARDEN_QUARANTINE: jail, WARDEN_CLAMD: clamd.tcp, WARDEN_CLAMD_READ_TIMEOUT_S: String(READ_TIMEOUT_S), WARDEN_LOG_LEVEL: 'warn', WARDEN_RESCAN_INTERVAL_S: '0', ...(o.wardenEnv || {}) },
    });
    for (let i = 0; i < 100 && (await warden.health()).status !== 'ok'; i++) await sleep(50);
    const streams = (await warden.health()).queue.concurrency;
    if (streams !== o.threads) o.log(`warning: the warden scans on ${streams} streams, the raw baseline on ${o.threads}`);

    const rawScanFile = async (f, c = client) => {
      const t0 = now();
      const v = await c.instream(oneChunk(fs.readFileSync(f)));
      return { ms: now() - t0, v };
    };
    /** raw INSTREAM of these files on o.threads streams (a connection per file, or sessions); ms */
    const rawThroughput = async (files, c = client) => {
      let next = 0;
      const t0 = now();
      await Promise.all(Array.from({ length: o.threads }, async () => {
        while (next < files.length) await rawScanFile(files[next++], c);
      }));
      return now() - t0;
    };
    const idleWarden = async () => {
      for (let stable = 0; stable < 3; ) {
        const h = await warden.health().catch(() => null);
        stable = h && h.busy === false ? stable + 1 : 0;
        await sleep(50);
      }
    };

    // 1. latency: write one EICAR file, wait for its tombstone; one at a time, on an idle warden
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
    for (let i = 0; i < o.latencySamples; i++) fs.writeFileSync(path.join(samples, `sample-${i}.com`), H.EICAR);
    o.log('raw INSTREAM latency');
    const rawLat = [];
    for (let i = 0; i < o.latencySamples; i++) rawLat.push((await rawScanFile(path.join(samples, `sample-${i}.com`))).ms);
    await idleWarden();
    const idleMem = warden.memory();

    // 2. bursts: time from the first write until every file has a clean verdict in the audit log
    //    (read incrementally) and the queue is idle; then raw INSTREAM on the same files
    const audit = auditTail(path.join(jail, 'audit.log'));
    const burst = async (dirName, n, size) => {
      const dir = path.join(ws, dirName);
      fs.mkdirSync(dir);
      const data = Array.from({ length: n }, () => crypto.randomBytes(size));
      const prefix = dir + '/';
      const seen = new Set();
      const t0 = now();
      for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `f-${i}.bin`), data[i]);
      const writeMs = now() - t0;
      for (;;) {
        for (const l of audit.read()) if (l.event === 'clean' && l.path && l.path.text.startsWith(prefix) && l.size === size) seen.add(l.path.text);
        if (seen.size >= n) {
          const h = await warden.health().catch(() => null);
          if (h && h.queue.pending === 0 && h.queue.inflight === 0) break;
        }
        await sleep(10);
      }
      const ms = now() - t0;
      await idleWarden(); // the walk for lost events after a burst, before the baseline runs
      const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
      const rawMs = await rawThroughput(files);
      const rawSessionMs = await rawThroughput(files, sessionClient);
      return { ms, rawMs, rawSessionMs, writeMs, dir };
    };
    let smallMs = 0;
    let smallRawMs = 0;
    let smallRawSessionMs = 0;
    let smallWriteMs = 0;
    let small = null;
    for (let r = 0; r < o.burstRounds; r++) {
      o.log(`warden burst ${r + 1}/${o.burstRounds}: ${o.burstFiles} × ${o.burstFileSize} B, then raw INSTREAM`);
      small = await burst(`burst-small-${r}`, o.burstFiles, o.burstFileSize);
      smallMs += small.ms;
      smallRawMs += small.rawMs;
      smallRawSessionMs += small.rawSessionMs;
      smallWriteMs += small.writeMs;
      o.log(`  warden ${round(o.burstFiles / (small.ms / 1000))} files/s, raw ${round(o.burstFiles / (small.rawMs / 1000))} files/s, raw in sessions ${round(o.burstFiles / (small.rawSessionMs / 1000))} files/s (writing took ${round(small.writeMs)} ms)`);
    }
    o.log(`warden burst: ${o.bigFiles} × ${o.bigFileSize} B, then raw INSTREAM`);
    const big = await burst('burst-big', o.bigFiles, o.bigFileSize);

    // 3. flood: peak RSS while 10,000 files are written at once and scanned
    o.log(`warden flood: ${o.floodFiles} × ${o.burstFileSize} B`);
    const peakReset = resetPeak(warden.pid);
    const flood = await burst('flood', o.floodFiles, o.burstFileSize);
    const floodMem = warden.memory();
    o.log(`  peak RSS ${round(floodMem.peakKb / 1024)} MiB (${peakReset ? 'since the flood began' : 'since start: VmHWM could not be reset'})`);

    // 4. a real npm install into the workspace: last write → last verdict
    let npmRow = null;
    if (o.npmPackages && o.npmPackages.length) {
      try {
        const npmArgs = (prefix) => ['install', '--prefix', prefix, '--cache', o.npmCache, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--loglevel=error', ...o.npmPackages];
        // first outside the workspace: fills the cache, so the measured install does not wait on the network
        o.log(`npm install ${o.npmPackages.join(' ')} (priming the cache at ${o.npmCache})`);
        await runNpm(npmArgs(path.join(base, 'npm-prime')), { cwd: base });
        const dir = path.join(ws, 'npm-case');
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"bench-npm-case","version":"1.0.0","private":true}\n');
        await idleWarden();
        o.log('npm install into the workspace');
        const t0 = now();
        await runNpm(npmArgs(dir), { cwd: dir });
        const installMs = now() - t0;
        const tree = listTree(dir);
        const want = new Set(tree.files);
        const lastVerdict = new Map();
        for (;;) {
          for (const l of audit.read()) {
            if (!l.path || !l.path.text.startsWith(dir + '/')) continue;
            if (l.event === 'clean' || l.event === 'quarantined') lastVerdict.set(l.path.text, Date.parse(l.time));
          }
          if ([...want].every((f) => lastVerdict.has(f))) {
            const h = await warden.health().catch(() => null);
            if (h && h.queue.pending === 0 && h.queue.inflight === 0) break;
          }
          await sleep(10);
        }
        const newestVerdict = Math.max(...[...want].map((f) => lastVerdict.get(f)));
        const lagMs = Math.max(0, newestVerdict - tree.newestCtimeMs);
        await idleWarden();
        const rawMs = await rawThroughput(tree.files);
        o.log(`  ${tree.files.length} files, install ${round(installMs)} ms, last write → last verdict ${round(lagMs)} ms; raw INSTREAM of the tree ${round(rawMs)} ms`);
        npmRow = {
          name: `npm install ${o.npmPackages.map((p) => p.replace(/@[^@]*$/, '')).join(' + ')} (${tree.files.length} files; install ${(installMs / 1000).toFixed(1)} s): last write → last verdict`,
          value: round(lagMs),
          unit: 'ms',
          baseline: { name: `${'raw clamd INSTREAM'} ×${o.threads} of all ${tree.files.length} files`, value: round(rawMs) },
        };
      } catch (e) {
        o.log(`npm case skipped: ${e.message}`);
      }
    }
    await warden.stop();
    warden = null;

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
    const smallN = o.burstFiles * o.burstRounds;
    rows.push(
      { name: 'detection latency p50 (write → tombstone, idle warden)', value: round(percentile(lat, 50)), unit: 'ms', baseline: { name: `${RAW} p50`, value: round(percentile(rawLat, 50), 2) } },
      { name: 'detection latency p99 (write → tombstone, idle warden)', value: round(percentile(lat, 99)), unit: 'ms', baseline: { name: `${RAW} p99`, value: round(percentile(rawLat, 99), 2) } },
      { name: 'clamdscan --stream per file: scan latency p50', value: round(percentile(csLat, 50)), unit: 'ms', baseline: { name: `${RAW} p50`, value: round(percentile(rawLat, 50), 2) } },
      { name: 'clamdscan --stream per file: scan latency p99', value: round(percentile(csLat, 99)), unit: 'ms', baseline: { name: `${RAW} p99`, value: round(percentile(rawLat, 99), 2) } },
      { name: `warden burst throughput (${o.burstRounds} × ${o.burstFiles} × ${o.burstFileSize / 1024} KiB, write → last verdict)`, value: round(smallN / (smallMs / 1000)), unit: 'files/s', baseline: { name: `${RAW} ×${o.threads}, same files, interleaved`, value: round(smallN / (smallRawMs / 1000)) } },
      { name: `  the same, against raw INSTREAM in sessions (the warden's transport, no per-file work)`, value: round(smallN / (smallMs / 1000)), unit: 'files/s', baseline: { name: `${RAW} in sessions ×${o.threads}, same files`, value: round(smallN / (smallRawSessionMs / 1000)) } },
      { name: `warden burst throughput (${o.burstRounds} × ${o.burstFiles} × ${o.burstFileSize / 1024} KiB)`, value: round(mb(smallN, o.burstFileSize) / (smallMs / 1000), 2), unit: 'MB/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(mb(smallN, o.burstFileSize) / (smallRawMs / 1000), 2) } },
      { name: `  writing those files alone (the writer's share of the above)`, value: round(smallN / (smallWriteMs / 1000)), unit: 'files/s' },
      { name: `clamdscan --stream per file (${smallFiles.length} × ${o.burstFileSize / 1024} KiB)`, value: round(smallFiles.length / (csMs / 1000)), unit: 'files/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(smallN / (smallRawMs / 1000)) } },
      { name: `warden burst throughput (${o.bigFiles} × ${o.bigFileSize / 1048576} MiB)`, value: round(mb(o.bigFiles, o.bigFileSize) / (big.ms / 1000), 1), unit: 'MB/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(mb(o.bigFiles, o.bigFileSize) / (big.rawMs / 1000), 1) } },
      { name: `warden flood throughput (${o.floodFiles} × ${o.burstFileSize / 1024} KiB)`, value: round(o.floodFiles / (flood.ms / 1000)), unit: 'files/s', baseline: { name: `${RAW} ×${o.threads}`, value: round(o.floodFiles / (flood.rawMs / 1000)) } },
      { name: `  the same, against raw INSTREAM in sessions`, value: round(o.floodFiles / (flood.ms / 1000)), unit: 'files/s', baseline: { name: `${RAW} in sessions ×${o.threads}`, value: round(o.floodFiles / (flood.rawSessionMs / 1000)) } },
      { name: `warden peak RSS (VmHWM) during the ${o.floodFiles}-file flood`, value: round(floodMem.peakKb / 1024), unit: 'MiB', baseline: { name: 'warden idle RSS, same run', value: round(idleMem.rssKb / 1024) } },
    );
    if (npmRow) rows.push(npmRow);
    return rows;
  } finally {
    if (warden) await warden.stop().catch(() => {});
    if (sessionClient) sessionClient.close();
    if (clamd) await clamd.destroy().catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
    fs.rmSync(wsBase, { recursive: true, force: true });
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
