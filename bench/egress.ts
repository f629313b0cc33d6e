// Benchmark of the egress gate: what the gate costs the cell on top of the moat. Measured in the
// gate's namespace lab (test/egress/gateLab.ts: the stack's gate, moat in allowlist mode and cell
// hardening on a dockerd of its own; nothing leaves the machine), in the same run:
//   - through the gate: a client in the cell opens a CONNECT tunnel, then TLS to the world;
//   - the moat alone:   the same client in the gate's own container (on the cell's bridge,
//                       behind the same moat rules) connects to the world directly;
// first over the lab's bare veths (the bound is this machine's CPUs), then again over an uplink
// shaped to a real host's rate (the bound is the link, the goal's case: the gate must not be
// what limits the cell).
// The lab lifts the moat's per-address connection rate (clawjail:moatConnRate) out of the way:
// both paths leave from the gate's address, and the default rate would cap both alike.
// Needs root and the node stand-in image (infra/images/standins/build.sh).
//
//   npm run bench -- egress
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { A, run as runCommand } from '../test/moat/lab';
import { GATE_FIXTURES, GateLab, NAMES } from '../test/egress/gateLab';
import type { BenchRow } from './moat';

export interface EgressBenchOptions {
  /** Bytes per download (default 64 MiB). */
  bytes?: number;
  /** Downloads per path and round (default 2), rounds alternate the paths (default 2). */
  downloads?: number;
  rounds?: number;
  /** Seconds of the connection-rate loop (default 3) and its parallel loops (default 4). */
  seconds?: number;
  parallel?: number;
  /** Open tunnels for the memory figure (default 200). */
  tunnels?: number;
  /**
   * The jail host's uplink for the second pair of download figures, in Mbit/s (default 1000; 0
   * skips them): the world's side of the lab's uplink shaped to that rate (tc tbf).
   */
  uplinkMbit?: number;
}

interface Download {
  ttfbMs: number;
  ms: number;
  bytes: number;
}

const BENCH_JS = path.join(GATE_FIXTURES, 'gateBench.js');

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

type Load = Record<string, unknown>;

async function measure(lab: GateLab, opts: Required<EgressBenchOptions>): Promise<BenchRow[]> {
  const target = `${NAMES.allowed}:443`;
  const common = { target, sni: NAMES.allowed, ca: lab.caPem };
  const parse = (stdout: string): Load => {
    const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Load;
    if (r.ok !== true) throw new Error(`egress bench load failed: ${JSON.stringify(r)}`);
    return r;
  };
  // Through the gate: the script as the cell mounts the fixtures (/cjg), under its hardening.
  const viaGate = async (load: Load) =>
    parse((await lab.docker(['exec', lab.specs.cell.name, 'node', '/cjg/gateBench.js', JSON.stringify({ ...common, proxy: lab.proxy, ...load })])).stdout);
  // The moat alone: the same script, read from stdin by the gate container's node.
  const direct = async (load: Load) =>
    parse(
      (
        await runCommand('docker', ['-H', lab.dockerHost, 'exec', '-i', lab.specs.egress.name, 'node', '-', JSON.stringify({ ...common, addr: A.internet, ...load })], {
          input: fs.readFileSync(BENCH_JS, 'utf8'),
          timeoutMs: 300_000,
        })
      ).stdout,
    );

  const downloads = { gate: [] as Download[], moat: [] as Download[] };
  const rates = { gate: [] as number[], moat: [] as number[] };
  const failed = { gate: 0, moat: 0 };
  const dl = { mode: 'download', bytes: opts.bytes, rounds: opts.downloads };
  const cr = { mode: 'connrate', durationMs: opts.seconds * 1000, parallel: opts.parallel };
  // Warm-up on both paths: ARP, conntrack, the gate's resolver cache, JIT.
  await viaGate({ ...dl, bytes: 1 << 20, rounds: 1 });
  await direct({ ...dl, bytes: 1 << 20, rounds: 1 });
  for (let i = 0; i < opts.rounds; i++) {
    downloads.moat.push(...((await direct(dl)).runs as Download[]));
    downloads.gate.push(...((await viaGate(dl)).runs as Download[]));
    const m = await direct(cr);
    rates.moat.push(Number(m.count) / (Number(m.ms) / 1000));
    failed.moat += Number(m.errors);
    const g = await viaGate(cr);
    rates.gate.push(Number(g.count) / (Number(g.ms) / 1000));
    failed.gate += Number(g.errors);
    // What a failed cycle was (its start, its length, its error), for whoever reads the run.
    for (const [path, r] of [['direct', m], ['via the gate', g]] as const) {
      for (const e of (r.errorSamples as unknown[] | undefined) ?? []) process.stderr.write(`egress bench: a failed cycle ${path}: ${JSON.stringify(e)}\n`);
    }
  }
  const mbps = (ds: Download[]) => mean(ds.map((d) => d.bytes / 1e6 / (d.ms / 1000)));

  // The same downloads over an uplink of a real host's rate. Unshaped, the lab's veths move bytes
  // as fast as the two paths' processes can encrypt, copy and decrypt on this machine's cores,
  // and the gate's extra copy and TCP hop show at full weight; over a link, what the cell gets
  // is the link's rate unless the gate is slower than the link.
  const shaped = opts.uplinkMbit > 0 ? await overUplink(lab, opts.uplinkMbit, async () => {
    const got = { gate: [] as Download[], moat: [] as Download[] };
    await direct({ ...dl, bytes: 1 << 20, rounds: 1 });
    for (let i = 0; i < opts.rounds; i++) {
      got.moat.push(...((await direct(dl)).runs as Download[]));
      got.gate.push(...((await viaGate(dl)).runs as Download[]));
    }
    return got;
  }) : null;

  // The gate's memory: idle, then with the tunnels open (each through its TLS handshake).
  // The gate's node process (PID 1 is Docker's init), found by its command line.
  const findRss =
    "const fs=require('fs');for(const p of fs.readdirSync('/proc')){if(!/^[0-9]+$/.test(p)||Number(p)===process.pid)continue;" +
    "let c='';try{c=fs.readFileSync('/proc/'+p+'/cmdline','utf8')}catch{continue}" +
    "const a=c.split('\\0');if(/(^|\\/)node$/.test(a[0])&&a.includes('/app/dist/main.js')){const m=/^VmRSS:\\s+(\\d+) kB$/m.exec(fs.readFileSync('/proc/'+p+'/status','utf8'));console.log(m?m[1]:'');break}}";
  const rssKiB = async () => {
    const out = (await lab.docker(['exec', lab.specs.egress.name, 'node', '-e', findRss])).stdout.trim();
    const kib = Number(out);
    if (!out || !Number.isFinite(kib) || kib <= 0) throw new Error(`no VmRSS for the gate's process: ${JSON.stringify(out)}`);
    return kib;
  };
  const idle = await rssKiB();
  const held = await holdTunnels(lab, { ...common, proxy: lab.proxy, mode: 'hold', n: opts.tunnels }, rssKiB);

  const moatSame = 'the moat alone (same lab, same run)';
  const mb = (n: number) => `${round(n / (1 << 20), 0)} MiB`;
  return [
    {
      name: `egress: download throughput, cell to the internet (TLS, ${mb(opts.bytes)})`,
      value: round(mbps(downloads.gate)),
      unit: 'MB/s',
      baseline: { name: moatSame, value: round(mbps(downloads.moat)) },
    },
    ...(shaped
      ? [
          {
            name: `egress: download throughput over a ${opts.uplinkMbit} Mbit/s uplink (the world's side shaped by tc tbf; TLS, ${mb(opts.bytes)})`,
            value: round(mbps(shaped.gate)),
            unit: 'MB/s',
            baseline: { name: `${moatSame}, same uplink`, value: round(mbps(shaped.moat)) },
          },
        ]
      : []),
    {
      name: 'egress: time to first byte of a new HTTPS request (median; connect, TLS, GET)',
      value: round(median(downloads.gate.map((d) => d.ttfbMs)), 2),
      unit: 'ms',
      baseline: { name: moatSame, value: round(median(downloads.moat.map((d) => d.ttfbMs)), 2) },
    },
    {
      name: `egress: new HTTPS connections per second (connect, TLS, GET, close; ${opts.parallel} in parallel; failed: ${failed.gate} via the gate, ${failed.moat} direct)`,
      value: round(mean(rates.gate)),
      unit: 'conn/s',
      baseline: { name: moatSame, value: round(mean(rates.moat)) },
    },
    {
      name: `egress: the gate's RSS with ${opts.tunnels} open TLS tunnels`,
      value: round(held / 1024),
      unit: 'MiB',
      baseline: { name: 'the gate idle (same run)', value: round(idle / 1024) },
    },
  ];
}

/**
 * Runs `fn` with the lab's uplink shaped to `mbit` in the download direction (the world's end of
 * the veth: the world's namespace is the lab's own), and takes the shaping off after.
 */
async function overUplink<T>(lab: GateLab, mbit: number, fn: () => Promise<T>): Promise<T> {
  const dev = `${lab.prefix}l`;
  const tc = (...a: string[]) => runCommand('ip', ['netns', 'exec', lab.worldNs, 'tc', 'qdisc', ...a]);
  // A burst of 1 MB holds the veth's 64 KiB segments (GSO) many times over; 50 ms of queue.
  await tc('replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '1mb', 'latency', '50ms');
  try {
    return await fn();
  } finally {
    await tc('del', 'dev', dev, 'root');
  }
}

/** Opens n tunnels from the cell, reads the gate's RSS while they are open, then closes them. */
async function holdTunnels(lab: GateLab, load: Load, rssKiB: () => Promise<number>): Promise<number> {
  const proc = spawn('docker', ['-H', lab.dockerHost, 'exec', '-i', lab.specs.cell.name, 'node', '/cjg/gateBench.js', JSON.stringify(load)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number>((r) => proc.on('close', (c) => r(c ?? -1)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the tunnels did not open in time: ${out}${err}`)), 120_000);
      proc.stdout.on('data', (d) => {
        out += d;
        if (!out.includes('\n')) return;
        clearTimeout(timer);
        const r = JSON.parse(out.split('\n')[0]) as Load;
        if (r.ok === true && r.held === load.n) resolve();
        else reject(new Error(`holding tunnels failed: ${out}${err}`));
      });
      void exited.then((c) => reject(new Error(`the tunnel holder exited (${c}): ${out}${err}`)));
    });
    await new Promise((r) => setTimeout(r, 1000)); // let the gate settle its buffers
    return await rssKiB();
  } finally {
    proc.stdin.end();
    const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
}

export async function run(o: EgressBenchOptions = {}): Promise<BenchRow[]> {
  const opts: Required<EgressBenchOptions> = {
    bytes: o.bytes ?? 64 << 20,
    downloads: o.downloads ?? 2,
    rounds: o.rounds ?? 2,
    seconds: o.seconds ?? 3,
    parallel: o.parallel ?? 4,
    tunnels: o.tunnels ?? 200,
    uplinkMbit: o.uplinkMbit ?? 1000,
  };
  const lab = new GateLab({ moatConnRate: '10000', moatConnBurst: '10000' });
  try {
    await lab.upGate();
    return await measure(lab, opts);
  } finally {
    await lab.down();
  }
}
