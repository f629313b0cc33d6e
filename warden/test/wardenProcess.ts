// Run the built warden (node warden/dist/main.js) as a real child process, for tests and the
// benchmark. Stops it by PID; reads its memory from /proc.

import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';

/** warden/ (found from here whether this runs as .ts under jest or compiled under test/dist/) */
export const WARDEN_DIR = findWardenDir(__dirname);

function findWardenDir(start: string): string {
  for (let d = start; d !== path.dirname(d); d = path.dirname(d)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).name === 'clawjail-warden') return d;
    } catch {
      /* keep looking */
    }
  }
  throw new Error(`warden/package.json not found above ${start}`);
}
export const WARDEN_MAIN = path.join(WARDEN_DIR, 'dist', 'main.js');
/** node's arguments for the warden, as in the image's ENTRYPOINT (warden/Dockerfile). */
export const WARDEN_NODE_ARGS = ['--max-semi-space-size=2'];

/** Compile warden/src to warden/dist with the repository's TypeScript (about 5 s). */
export function buildWarden(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(WARDEN_DIR, 'tsconfig.json')], { stdio: 'pipe' });
}

export interface WardenProcessOptions {
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  logFile: string;
  /** the entry to run (default WARDEN_MAIN); for another uid, a copy it can read (uidCopy.ts) */
  main?: string;
  /** the open-file limit (soft and hard) to run it under, through prlimit(1) */
  nofile?: number;
}

export class WardenProcess {
  private exitCode: number | null = null;
  private exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess, readonly healthPort: number, readonly logFile: string) {
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => {
      this.exitCode = code ?? (sig ? 128 : null);
      resolve(this.exitCode);
    }));
  }

  /** Start and wait until /healthz answers (any status). */
  static async start(o: WardenProcessOptions & { healthPort: number }, readyTimeoutMs = 30000): Promise<WardenProcess> {
    const out = fs.openSync(o.logFile, 'a');
    const main = o.main ?? WARDEN_MAIN;
    const argv = [process.execPath, ...WARDEN_NODE_ARGS, main];
    if (o.nofile !== undefined) argv.unshift('prlimit', `--nofile=${o.nofile}:${o.nofile}`, '--');
    const child = spawn(argv[0], argv.slice(1), {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', WARDEN_HEALTH_PORT: String(o.healthPort), ...o.env },
      cwd: o.main ? path.dirname(o.main) : undefined,
      uid: o.uid,
      gid: o.gid,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const wp = new WardenProcess(child, o.healthPort, o.logFile);
    const until = Date.now() + readyTimeoutMs;
    for (;;) {
      if (wp.exitCode !== null) throw new Error(`warden exited with ${wp.exitCode}:\n${wp.log().slice(-3000)}`);
      const h = await wp.health().catch(() => null);
      if (h) return wp;
      if (Date.now() > until) {
        await wp.stop();
        throw new Error(`warden not answering on ${o.healthPort}:\n${wp.log().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  health(): Promise<{ status: string; [k: string]: any }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: this.healthPort, path: '/healthz', timeout: 5000, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (e) {
            reject(e);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  /** kB values from /proc/PID/status: VmRSS (now) and VmHWM (peak). */
  memory(): { rssKb: number; peakKb: number } {
    const s = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') };
  }

  /** SIGTERM (by PID), wait; SIGKILL after timeoutMs. Returns the exit code. */
  async stop(timeoutMs = 15000): Promise<number | null> {
    if (this.exitCode !== null) return this.exitCode;
    process.kill(this.pid, 'SIGTERM');
    const t = setTimeout(() => {
      if (this.exitCode === null) process.kill(this.pid, 'SIGKILL');
    }, timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}
