// `npm run bench -- clamd-db`: clamd's memory with a signature database of realistic size.
//
// The official database (main + daily + bytecode, several million signatures, about 1.2 GiB
// resident) cannot be downloaded here and no Debian package ships it, so this generates one of
// comparable shape: millions of hash signatures (MD5 .hdb and SHA-256 .hsb, as most of the
// official set is) and hundreds of thousands of body signatures (.ndb hex patterns, a share of
// them with the wildcards that make clamd's Aho-Corasick trie grow), from a fixed seed. It
// measures clamd's resident memory with that database loaded, and its peak while reloading it
// with ConcurrentDatabaseReload yes (the old engine keeps scanning while the new one loads: two
// engines at once) and no (scanning blocks, one engine), against the test database alone and
// against the stack's default clamdMemoryMb, which must also hold the stream spool.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { clamdCommand, startClamd, type ClamdInstance } from '../warden/test/clamdHarness';

const HASHES_MD5 = Number(process.env.BENCH_CLAMD_MD5 ?? 4_000_000);
const HASHES_SHA256 = Number(process.env.BENCH_CLAMD_SHA256 ?? 1_500_000);
const BODIES = Number(process.env.BENCH_CLAMD_BODIES ?? 600_000);
/** The stack's defaults (infra/config.ts): clamdMemoryMb, and the spool of clamdThreads x wardenMaxFileSizeMb. */
const DEFAULT_CLAMD_MEMORY_MB = 3072;
const DEFAULT_SPOOL_MB = 2 * 100;

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
}

/** A deterministic byte stream (SHA-256 in counter mode) so every run loads the same database. */
function generator(seed: string): (n: number) => Buffer {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    const parts = [pool];
    let have = pool.length;
    while (have < n) {
      const block = crypto.createHash('sha256').update(`${seed}:${counter++}`).digest();
      parts.push(block);
      have += block.length;
    }
    const all = Buffer.concat(parts);
    pool = all.subarray(n);
    return all.subarray(0, n);
  };
}

function writeLines(file: string, count: number, line: (i: number) => string): void {
  const fd = fs.openSync(file, 'w');
  try {
    let chunk: string[] = [];
    for (let i = 0; i < count; i++) {
      chunk.push(line(i));
      if (chunk.length === 50_000) {
        fs.writeSync(fd, chunk.join('\n') + '\n');
        chunk = [];
      }
    }
    if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  } finally {
    fs.closeSync(fd);
  }
}

/** The generated database, in clamd's own formats. */
export function writeRealisticDatabase(dir: string): { hashes: number; bodies: number; bytes: number } {
  const rnd = generator('clawjail-bench-clamd-db');
  const size = (i: number) => 1024 + (rnd(3).readUIntBE(0, 3) % 4_000_000) + (i % 7);
  // name:size:hash formats: MD5:FileSize:MalwareName (.hdb), SHA256:FileSize:MalwareName (.hsb)
  writeLines(path.join(dir, 'bench-md5.hdb'), HASHES_MD5, (i) => `${rnd(16).toString('hex')}:${size(i)}:Bench.Hash.Md5-${i}`);
  writeLines(path.join(dir, 'bench-sha256.hsb'), HASHES_SHA256, (i) => `${rnd(32).toString('hex')}:${size(i)}:Bench.Hash.Sha256-${i}`);
  // Name:TargetType:Offset:HexSignature (.ndb); target 0 = any file, offset * = anywhere.
  // One in eight has a wildcard between two parts, as many official body signatures do.
  writeLines(path.join(dir, 'bench-body.ndb'), BODIES, (i) => {
    const len = 12 + (rnd(1)[0] % 40);
    const hex = rnd(len).toString('hex');
    const body = i % 8 === 0 ? `${hex.slice(0, 16)}{-32}${hex.slice(16)}` : i % 8 === 1 ? `${hex.slice(0, 12)}??${hex.slice(14)}` : hex;
    return `Bench.Body-${i}:${i % 4 === 0 ? 1 : 0}:*:${body}`;
  });
  const bytes = ['bench-md5.hdb', 'bench-sha256.hsb', 'bench-body.ndb'].reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  return { hashes: HASHES_MD5 + HASHES_SHA256, bodies: BODIES, bytes };
}

function status(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RELOAD, then the peak RSS until clamd logs the new database in use. */
async function reloadPeak(clamd: ClamdInstance): Promise<{ peakMiB: number; seconds: number }> {
  const pid = clamd.pid!;
  const logFile = path.join(clamd.dir, 'clamd.log');
  const before = fs.readFileSync(logFile, 'utf8').length;
  const t0 = Date.now();
  const answer = await clamdCommand({ port: clamd.port, socketPath: clamd.socketPath }, 'RELOAD', 10_000);
  if (answer !== 'RELOADING') throw new Error(`clamd answered ${answer} to RELOAD`);
  let peak = 0;
  for (;;) {
    peak = Math.max(peak, status(pid).rssKiB);
    const log = fs.readFileSync(logFile, 'utf8').slice(before);
    if (/Database correctly reloaded/i.test(log)) break;
    if (Date.now() - t0 > 600_000) throw new Error(`clamd did not finish reloading in 10 min:\n${clamd.log()}`);
    await sleep(20);
  }
  // VmHWM also catches a peak between two samples.
  peak = Math.max(peak, status(pid).hwmKiB);
  return { peakMiB: peak / 1024, seconds: (Date.now() - t0) / 1000 };
}

async function measure(concurrent: boolean): Promise<{ loadedMiB: number; loadSeconds: number; reload: { peakMiB: number; seconds: number } }> {
  let t0 = Date.now();
  const clamd = await startClamd({
    prepareDatabase: (db) => {
      const d = writeRealisticDatabase(db);
      t0 = Date.now(); // the load starts now, not the generation
      process.stderr.write(`bench: clamd-db: ${d.hashes.toLocaleString()} hash and ${d.bodies.toLocaleString()} body signatures, ${(d.bytes / 2 ** 20).toFixed(0)} MiB of text\n`);
    },
    extraConfig: [`ConcurrentDatabaseReload ${concurrent ? 'yes' : 'no'}`],
    readyTimeoutMs: 600_000,
    // Not /dev/shm: the database files would count as memory of this host, not of clamd.
    parentDir: fs.realpathSync(os.tmpdir()),
  });
  try {
    const loadSeconds = (Date.now() - t0) / 1000;
    await sleep(1000);
    const loadedMiB = status(clamd.pid!).rssKiB / 1024;
    const reload = await reloadPeak(clamd);
    return { loadedMiB, loadSeconds, reload };
  } finally {
    await clamd.destroy();
  }
}

export async function run(): Promise<Row[]> {
  const small = await startClamd();
  let smallMiB: number;
  try {
    await sleep(500);
    smallMiB = status(small.pid!).rssKiB / 1024;
  } finally {
    await small.destroy();
  }
  const yes = await measure(true);
  const no = await measure(false);
  const budget = DEFAULT_CLAMD_MEMORY_MB - DEFAULT_SPOOL_MB;
  return [
    { name: 'clamd RSS, realistic database loaded', value: yes.loadedMiB, unit: 'MiB', baseline: { name: 'test database, 2 signatures', value: smallMiB } },
    { name: 'clamd start with it (load)', value: yes.loadSeconds, unit: 's' },
    { name: 'reload peak, ConcurrentDatabaseReload yes', value: yes.reload.peakMiB, unit: 'MiB', baseline: { name: `default clamdMemoryMb less the ${DEFAULT_SPOOL_MB} MiB spool`, value: budget } },
    { name: 'reload time, concurrent (scans go on)', value: yes.reload.seconds, unit: 's' },
    { name: 'reload peak, ConcurrentDatabaseReload no', value: no.reload.peakMiB, unit: 'MiB', baseline: { name: `default clamdMemoryMb less the ${DEFAULT_SPOOL_MB} MiB spool`, value: budget } },
    { name: 'reload time, not concurrent (scans wait)', value: no.reload.seconds, unit: 's' },
  ];
}
