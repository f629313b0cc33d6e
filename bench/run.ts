// `npm run bench`: every part's benchmark in one run, each figure beside the baseline measured
// in the same run, printed as one table and written to bench/results.json.
//   npm run bench                 all parts
//   npm run bench -- gateway moat only these parts
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
}

type Bench = () => Promise<Row[]>;

// Loaded lazily: a part's benchmark may need what another part does not (root for the moat).
const BENCHES: Record<string, () => Bench> = {
  gateway: () => (require('./gateway') as { run: Bench }).run,
  warden: () => (require('./warden') as { run: Bench }).run,
  moat: () => (require('./moat') as { run: Bench }).run,
  egress: () => (require('./egress') as { run: Bench }).run,
  sentry: () => (require('./sentry') as { run: Bench }).run,
  'clamd-db': () => (require('./clamdDb') as { run: Bench }).run,
};

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

function table(rows: (Row & { part: string })[]): string {
  const lines = rows.map((r) => [
    r.part,
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline ? `${fmt(r.baseline.value)} ${r.unit}  (${r.baseline.name})` : '—',
    r.baseline && r.baseline.value !== 0 ? `${((r.value / r.baseline.value) * 100).toFixed(0)}%` : '',
  ]);
  const head = ['part', 'measure', 'clawjail', 'baseline (same run)', 'vs baseline'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [row(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n');
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !(w in BENCHES));
  if (unknown.length) {
    process.stderr.write(`bench: unknown part(s) ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
    return 2;
  }
  const parts = wanted.length ? wanted : Object.keys(BENCHES);
  const rows: (Row & { part: string })[] = [];
  const failures: Record<string, string> = {};
  for (const part of parts) {
    process.stderr.write(`bench: ${part}...\n`);
    try {
      for (const r of await BENCHES[part]()()) rows.push({ part, ...r });
    } catch (e) {
      failures[part] = (e as Error).message;
      process.stderr.write(`bench: ${part} failed: ${(e as Error).message}\n`);
    }
  }
  process.stdout.write(`${table(rows)}\n`);
  const out = path.join(__dirname, 'results.json');
  fs.writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), host: { cpus: os.cpus().length, node: process.version }, rows, failures }, null, 2)}\n`,
  );
  process.stderr.write(`bench: wrote ${out}\n`);
  return Object.keys(failures).length ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
});
