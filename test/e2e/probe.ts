// The prisoner's toolkit: a static C program that attempts one attack per subcommand and prints
// one JSON line per attempt ({"attack", "ok", "errno", ...}; ok=true means the attack worked).
// Compiled on the host and carried into the cell the way a prisoner would: written into the
// workspace and executed from there.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SOURCE = path.join(__dirname, 'probe', 'cellprobe.c');

export interface ProbeResult {
  attack: string;
  ok: boolean;
  errno?: string;
  [k: string]: unknown;
}

/** Compiles the probe once per source version; returns the binary's bytes. */
export function compileProbe(): Buffer {
  const src = fs.readFileSync(SOURCE);
  const hash = crypto.createHash('sha256').update(src).digest('hex').slice(0, 16);
  const out = path.join(os.tmpdir(), `clawjail-cellprobe-${hash}`);
  if (!fs.existsSync(out)) {
    const tmp = `${out}.${process.pid}`;
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-o', tmp, SOURCE], { stdio: 'pipe' });
    fs.renameSync(tmp, out);
  }
  return fs.readFileSync(out);
}

export function parseProbeOutput(stdout: string): ProbeResult[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProbeResult);
}
