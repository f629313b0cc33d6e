// Runs a script of docker CLI commands on this machine against the stack's Docker engine
// (DOCKER_HOST: unix://, ssh:// or tcp://; the docker CLI speaks all three).
//
// Captured by value into the dynamic providers that use it (Pulumi serializes them): it uses
// nothing but Node built-ins, required inside the function.

export function runDockerScript(dockerHost: string, script: string, timeoutMs = 300_000): Promise<string> {
  const { spawn } = require('child_process') as typeof import('child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-s'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_HOST: dockerHost },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run /bin/sh for docker on ${dockerHost}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) resolve(stdout);
      else reject(new Error(`docker on ${dockerHost} failed (${signal ?? `exit ${code}`}): ${stderr || stdout.trim()}`));
    });
    child.stdin.on('error', () => undefined); // the shell may exit before reading everything
    child.stdin.end(script);
  });
}
