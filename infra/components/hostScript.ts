// Pipes a shell script to a command (`sh -s` here, `ssh HOST sh -s` for a remote Docker host) and
// resolves with its stdout. The one runner for every script the stack's dynamic providers run:
// the moat's (./moatExec) and the docker CLI's (./dockerCli).
//
// Captured by value into those dynamic providers (Pulumi serializes them): it uses nothing but
// Node built-ins, required inside the function.

export class HostCommandError extends Error {
  constructor(message: string, readonly code: number | null, readonly stderr: string) {
    super(message);
    this.name = 'HostCommandError';
  }
}

export interface ScriptOptions {
  /** What failed, for the message: "moat command on this machine", "docker on ssh://h". */
  what: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function runScript(argv: string[], script: string, opts: ScriptOptions): Promise<string> {
  const { spawn } = require('child_process') as typeof import('child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
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
      else reject(new HostCommandError(`${opts.what} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || stdout.trim()}`, code, stderr));
    });
    child.stdin.on('error', () => undefined); // the shell may exit before reading everything
    child.stdin.end(script);
  });
}
