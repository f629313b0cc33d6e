// The pids limit. @pulumi/docker's Container has no field for it, so the container is created
// stopped, the limit is set with `docker update` (stored in the container's HostConfig, so it
// holds across restarts of the container, of dockerd and of the host), read back, and only then
// is the container started. The script is the single source: the stack runs it, and so does the
// end-to-end deployer.
import { shellQuote } from './shell';

export function pidsLimitScript(container: string, limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`pids limit must be a positive integer, got ${limit}`);
  const c = shellQuote(container);
  return [
    'set -eu',
    `docker update --pids-limit ${limit} ${c} >/dev/null`,
    `got=$(docker inspect --format '{{.HostConfig.PidsLimit}}' ${c})`,
    `if [ "$got" != "${limit}" ]; then echo "pids limit of ${container} is $got, wanted ${limit}" >&2; exit 1; fi`,
    // Already running (or frozen by the sentry, which `docker start` refuses): nothing to start.
    `if [ "$(docker inspect --format '{{.State.Running}}' ${c})" != true ]; then docker start ${c} >/dev/null; fi`,
  ].join('\n');
}

/** Waits until Docker reports the container healthy; fails after `timeoutSeconds` or when it stops. */
export function waitHealthyScript(container: string, timeoutSeconds = 180): string {
  const c = shellQuote(container);
  return [
    'set -eu',
    `i=0; while [ "$(docker inspect --format '{{.State.Health.Status}}' ${c})" != healthy ]; do`,
    `  if [ "$(docker inspect --format '{{.State.Running}}' ${c})" != true ]; then echo "${container} stopped before it was healthy" >&2; docker logs --tail 20 ${c} >&2 || true; exit 1; fi`,
    `  i=$((i+1)); if [ "$i" -gt ${timeoutSeconds} ]; then echo "${container} is not healthy after ${timeoutSeconds} s" >&2; docker logs --tail 20 ${c} >&2 || true; exit 1; fi; sleep 1`,
    'done',
  ].join('\n');
}

/**
 * Prints the gateway's certificate fingerprint once Docker reports it healthy (serving the
 * certificate it made at first start); fails after `timeoutSeconds`.
 */
export function gatewayFingerprintScript(container: string, timeoutSeconds = 180): string {
  const c = shellQuote(container);
  return [
    'set -eu',
    `i=0; while [ "$(docker inspect --format '{{.State.Health.Status}}' ${c})" != healthy ]; do`,
    `  i=$((i+1)); if [ "$i" -gt ${timeoutSeconds} ]; then echo "${container} is not healthy" >&2; exit 1; fi; sleep 1`,
    'done',
    `docker exec ${c} node /app/dist/main.js --print-fingerprint`,
  ].join('\n');
}

/** What a started container of the jail looks like on its engine, as the stack reads it back. */
export interface ContainerRunState {
  /** False when there is no container of that name. */
  exists: boolean;
  /** The engine's container id ("" when missing). */
  id: string;
  running: boolean;
  /** HostConfig.PidsLimit (0 when none is set). */
  pidsLimit: number;
}

/** Prints one line for `parseContainerRunState`: id, running, pids limit; or `missing`. */
export function containerRunStateScript(container: string): string {
  const c = shellQuote(container);
  return [
    'set -u',
    `if out=$(docker inspect --format '{{.Id}} {{.State.Running}} {{.HostConfig.PidsLimit}}' ${c} 2>&1); then echo "$out";`,
    `elif printf '%s' "$out" | grep -qi 'no such'; then echo missing;`,
    `else echo "$out" >&2; exit 1; fi`,
  ].join('\n');
}

export function parseContainerRunState(output: string): ContainerRunState {
  const line = output.trim();
  if (line === 'missing') return { exists: false, id: '', running: false, pidsLimit: 0 };
  const m = /^([0-9a-f]{12,64}) (true|false) (-?\d+|<nil>)$/.exec(line);
  if (!m) throw new Error(`unexpected docker inspect output: ${JSON.stringify(line)}`);
  const pids = m[3] === '<nil>' ? 0 : Number(m[3]);
  return { exists: true, id: m[1], running: m[2] === 'true', pidsLimit: pids > 0 ? pids : 0 };
}
