// Benchmark of the moat: TCP throughput and connection rate from a container on the moat
// network to the (fake) internet, with the moat's rules in force versus without them, measured
// in the same run, in the same namespace lab as the moat's tests (test/moat/lab.ts: its own
// dockerd in its own network namespaces; nothing leaves the machine). Needs root and the node
// stand-in image (infra/images/standins/build.sh).
//
//   npx ts-node bench/moat.ts          prints a table
//   require('./bench/moat').run()      resolves to rows {name, value, unit, baseline?: {name, value}}
import { applyMoat, removeMoat } from '../infra/components/moatRules';
import { A, MoatLab } from '../test/moat/lab';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
}

export interface MoatBenchOptions {
  /** Seconds per measurement (default 3). */
  seconds?: number;
  /** Alternating rounds without/with the moat (default 2). */
  rounds?: number;
  /** Parallel connection loops for the connection rate (default 4). */
  parallel?: number;
}

interface Sample {
  mbPerSec: number;
  connPerSec: number;
}

async function measure(lab: MoatLab, seconds: number, parallel: number): Promise<Sample> {
  const ms = seconds * 1000;
  const t = await lab.probe([{ id: 'tput', kind: 'tput', host: A.internet, port: 5001, durationMs: ms }]);
  const c = await lab.probe([{ id: 'conn', kind: 'conn', host: A.internet, port: 5002, durationMs: ms, parallel }]);
  const tput = t.tput;
  const conn = c.conn;
  if (!tput.ok || !conn.ok) throw new Error(`bench probe failed: ${JSON.stringify({ tput, conn })}`);
  return {
    mbPerSec: Number(tput.bytes) / 1e6 / (Number(tput.ms) / 1000),
    connPerSec: Number(conn.count) / (Number(conn.ms) / 1000),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function run(opts: MoatBenchOptions = {}): Promise<BenchRow[]> {
  const seconds = opts.seconds ?? 3;
  const rounds = opts.rounds ?? 2;
  const parallel = opts.parallel ?? 4;
  const lab = new MoatLab();
  try {
    await lab.up();
    await measure(lab, 1, parallel); // warm-up: ARP, conntrack, JIT
    const bare: Sample[] = [];
    const moat: Sample[] = [];
    const applyMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(await measure(lab, seconds, parallel));
      const t0 = Date.now();
      // The rules' cost, not the conntrack guard's cap (clawjail:moatConnRate, 50 a second per
      // address by default, which a connect loop meets at once): the limits lifted as far as they go.
      await applyMoat({ ...lab.moatInputs(), connLimits: { rate: 10000, burst: 10000, max: 1048576 } });
      applyMs.push(Date.now() - t0);
      moat.push(await measure(lab, seconds, parallel));
      await removeMoat(lab.moatInputs());
    }
    const without = 'without the moat (same lab, same run)';
    return [
      {
        name: 'moat: TCP throughput, cell container to the internet',
        value: round(mean(moat.map((s) => s.mbPerSec))),
        unit: 'MB/s',
        baseline: { name: without, value: round(mean(bare.map((s) => s.mbPerSec))) },
      },
      {
        name: `moat: TCP connections per second, cell to the internet (connect, answer, close; ${parallel} in parallel; connection limits lifted)`,
        value: round(mean(moat.map((s) => s.connPerSec))),
        unit: 'conn/s',
        baseline: { name: without, value: round(mean(bare.map((s) => s.connPerSec))) },
      },
      {
        name: 'moat: applying the rules (install, one iptables-restore per family, read back)',
        value: Math.round(mean(applyMs)),
        unit: 'ms',
      },
    ];
  } finally {
    await lab.down();
  }
}

if (require.main === module) {
  run().then(
    (rows) => {
      for (const r of rows) {
        const base = r.baseline ? `   (${r.baseline.name}: ${r.baseline.value} ${r.unit})` : '';
        process.stdout.write(`${r.name}: ${r.value} ${r.unit}${base}\n`);
      }
    },
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = 1;
    },
  );
}
