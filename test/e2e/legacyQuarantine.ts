// What an earlier version's warden left in its quarantine volume (`<prefix>-jail`), made on the
// real Docker engine for the tests of its migration (quarantineMigration and pulumi e2e).
import { execFile } from 'child_process';
import { promisify } from 'util';
import { STACK_LABEL } from '../../infra/model';
import { NODE_STANDIN } from './testJail';

const run = promisify(execFile);

/** The id of the one entry seedLegacyQuarantine writes. */
export const LEGACY_ID = '20261101T101010Z-0badc0de';

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 64 << 20 })).stdout;
}

/** A shell in a throwaway container with the volumes mounted (root, no network). */
export async function inVolumes(script: string, mounts: Record<string, string>, readOnly = false): Promise<string> {
  const m = Object.entries(mounts).flatMap(([vol, dir]) => ['--mount', `type=volume,source=${vol},target=${dir}${readOnly ? ',readonly' : ''}`]);
  return docker('run', '--rm', '--network', 'none', ...m, '--entrypoint', '/bin/sh', NODE_STANDIN, '-c', script);
}

/** What an old warden left (its uid's 0400 entry, the log), and a symlink and an odd name beside them. */
export async function seedLegacyQuarantine(volume: string, owner: string): Promise<void> {
  await docker('volume', 'create', '--label', `${STACK_LABEL}=${owner}`, volume);
  const record = JSON.stringify({
    version: 1, id: LEGACY_ID, time: '2026-11-01T10:10:10.000Z', status: 'quarantined', verdict: 'infected', signature: 'Eicar-Signature', reason: 'infected: Eicar-Signature',
    original: { path: { text: '/workspace/evil.com', b64: Buffer.from('/workspace/evil.com').toString('base64') }, relative: { text: 'evil.com', b64: Buffer.from('evil.com').toString('base64') }, workspace: '/workspace', uid: 1000, gid: 1000, mode: '0644', mtime: null, nlink: 1 },
    sha256: null, size: 8, scannedSha256: null, method: 'rename', tombstone: null, notes: [],
  });
  await inVolumes(
    [
      'set -eu',
      'chown 1000:1000 /s && chmod 0700 /s',
      `mkdir -p /s/quarantine/${LEGACY_ID}`,
      `printf 'payload\\n' > /s/quarantine/${LEGACY_ID}/content`,
      `printf '%s' '${record}' > /s/quarantine/${LEGACY_ID}/record.json`,
      'printf \'{"event":"quarantined"}\\n{"event":"warden-stop"}\\n\' > /s/audit.log',
      // Beside the store's own files: what a copy must carry over as it is.
      'mkdir /s/extra',
      'head -c 3000000 /dev/urandom > "/s/extra/odd name\nwith newline"',
      'ln -s /etc/shadow /s/extra/link',
      'printf setgid > /s/extra/setgid',
      `chown -hR 1000:1000 /s && chmod 0400 /s/quarantine/${LEGACY_ID}/* && chmod 0700 /s/quarantine /s/quarantine/${LEGACY_ID} && chmod 0600 /s/audit.log && chmod 2640 /s/extra/setgid && chmod 2500 /s/extra`,
    ].join('\n'),
    { [volume]: '/s' },
  );
}

