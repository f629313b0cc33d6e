// The pids limit. @pulumi/docker's Container has no field for it, so the container is created
// stopped, the limit is set with `docker update` (stored in the container's HostConfig, so it
// holds across restarts of the container, of dockerd and of the host), read back, and only then
// is the container started. The script is the single source: the stack runs it, and so does the
// end-to-end deployer.

/** Shell-quotes one word for POSIX sh. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function pidsLimitScript(container: string, limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`pids limit must be a positive integer, got ${limit}`);
  const c = shellQuote(container);
  return [
    'set -eu',
    `docker update --pids-limit ${limit} ${c} >/dev/null`,
    `got=$(docker inspect --format '{{.HostConfig.PidsLimit}}' ${c})`,
    `if [ "$got" != "${limit}" ]; then echo "pids limit of ${container} is $got, wanted ${limit}" >&2; exit 1; fi`,
    `docker start ${c} >/dev/null`,
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
