// Running a command to completion, for the test labs (test/moat/lab.ts, test/e2e/remoteHost.ts)
// and the end-to-end tests that drive the host's tools.
import { spawn } from 'child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never through a shell unless asked). */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; check?: boolean; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (opts.check !== false && r.code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} -> ${signal ?? r.code}\n${r.stderr}${r.stdout}`.slice(0, 4000)));
      } else resolve(r);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Waits for `p` at most `ms`; true when it settled in time. Leaves no timer behind. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For teardowns that must run every step even when some fail: `step` runs one and records its
 * failure in `errors`, for the caller to report once all have run.
 */
export function steps(): { errors: string[]; step: (what: string, fn: () => Promise<unknown>) => Promise<void> } {
  const errors: string[] = [];
  return {
    errors,
    step: async (what, fn) => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    },
  };
}
