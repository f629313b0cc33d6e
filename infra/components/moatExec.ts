// Runs the moat's scripts on the Docker host: `sh -s` here for a unix:// Docker host, `ssh HOST
// sh -s` for an ssh:// one (optionally through `sudo -n`). The scripts themselves are rendered
// purely in infra/spec/moatHost.ts.
//
// The functions below are captured by value into the moat's dynamic provider (Pulumi serializes
// it): they use nothing but Node built-ins, required inside the functions, and the pure spec.
import { hostResolvers, liveMoatRules, type MoatRulesPlan } from '../spec/firewall';
import {
  hostShellArgv,
  parseReadOutput,
  parseResolversOutput,
  renderReadScript,
  renderResolversScript,
  type MoatTarget,
  type ReadBack,
} from '../spec/moatHost';

export class HostCommandError extends Error {
  constructor(message: string, readonly code: number | null, readonly stderr: string) {
    super(message);
    this.name = 'HostCommandError';
  }
}

/** Pipes `script` to a shell on the target host; resolves with its stdout, rejects on failure. */
export function runOnHost(target: MoatTarget, script: string, timeoutMs = 120_000): Promise<string> {
  const { spawn } = require('child_process') as typeof import('child_process');
  const argv = hostShellArgv(target);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HostCommandError(`cannot run ${argv.join(' ')}: ${e.message}`, null, ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve(stdout);
      else {
        const where = target.dockerHost.startsWith('ssh://') ? target.dockerHost : 'this machine';
        reject(new HostCommandError(`moat command on ${where} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`, code, stderr));
      }
    });
    child.stdin.on('error', () => undefined); // the shell may exit before reading everything
    child.stdin.end(script);
  });
}

/** The resolvers the cell's DNS may go to: the configured ones, or the Docker host's own. */
export async function resolveResolvers(target: MoatTarget, setting: 'auto' | string[]): Promise<string[]> {
  if (setting !== 'auto') return setting;
  return hostResolvers(parseResolversOutput(await runOnHost(target, renderResolversScript())));
}

export interface LiveMoat {
  /** The live rules of the stack, in the layout of renderMoatRules. */
  rules: string;
  /** Installed file path to sha256, or "missing". */
  files: Record<string, string>;
  raw: ReadBack;
}

export async function readLiveMoat(target: MoatTarget, plan: MoatRulesPlan): Promise<LiveMoat> {
  const raw = parseReadOutput(await runOnHost(target, renderReadScript(plan, target.root)));
  return { rules: liveMoatRules(raw.save4, raw.save6, plan), files: raw.files, raw };
}
