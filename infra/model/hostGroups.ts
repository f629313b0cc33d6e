// The gids of the Docker host's groups a container of the jail joins (ContainerSpec.hostGroups):
// read on the host, through the engine itself, so that ssh:// and tcp:// hosts answer as a local
// one does. A throwaway container of one of the jail's own images, with no network and no
// capabilities, bind-mounts the socket read-only and stats it: the gid it prints is the one a
// container with the same mount sees.
import { shellQuote } from './shell';

export function engineSocketGidScript(image: string, socketPath: string): string {
  const mount = `type=bind,source=${socketPath},target=/run/engine.sock,readonly`;
  return [
    'set -eu',
    // --pull never: the jail's own image, built on this engine, or nothing (never one from a registry)
    `docker run --rm --pull never --network none --read-only --cap-drop ALL --security-opt no-new-privileges:true --user 10320:10320 --entrypoint stat --mount ${shellQuote(mount)} ${shellQuote(image)} -c %g /run/engine.sock`,
  ].join('\n');
}

export function parseGid(output: string, what: string): string {
  const gid = output.trim();
  if (!/^\d{1,10}$/.test(gid)) throw new Error(`${what}: expected a gid, got ${JSON.stringify(gid.slice(0, 200))}`);
  if (gid === '0') throw new Error(`${what} belongs to group 0 (root): give it a group of its own (Docker's packages make "docker") rather than hand that group to a container`);
  // the overflow gid: the engine remaps users (userns-remap) and the sentry could not use the socket
  if (gid === '65534') throw new Error(`${what} shows as group 65534 (nogroup) from a container: the engine remaps users (userns-remap?), and the sentry could not reach the socket`);
  return gid;
}
