// Runs a script of docker CLI commands on this machine against the stack's Docker engine
// (DOCKER_HOST: unix://, ssh:// or tcp://; the docker CLI speaks all three).
//
// Captured by value into the dynamic providers that use it (Pulumi serializes them).
import { runScript } from './hostScript';

export function runDockerScript(dockerHost: string, script: string, timeoutMs = 300_000): Promise<string> {
  return runScript(['/bin/sh', '-s'], script, { what: `docker on ${dockerHost}`, env: { ...process.env, DOCKER_HOST: dockerHost }, timeoutMs });
}
