// Regaining access to the prisoner's files without privileges.
//
// The warden runs as the prisoner's uid (1000) with no capabilities (see the Dockerfile), so
// permission bits bind it. The prisoner can chmod 000 a file or a directory to make it unreadable
// or unmovable. As the owner, the warden may add the owner bits back. chmod(2) follows symlinks and
// Node has no lchmod on Linux, so a symlink swapped in between the check and the chmod would
// redirect it; that is harmless here: only owner bits are ever *added*, and a non-root process can
// only chmod files it owns (the prisoner's, or the warden's own store files, which it may read and
// write anyway), while its root filesystem is read-only.

import * as fs from 'fs';
import { dirnameOf, isWithin } from './paths';

export async function ensureOwnerAccess(path: Buffer, bits: number, expect?: { dev: bigint; ino: bigint }): Promise<boolean> {
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  if (euid === 0) return false; // root is not bound by permission bits; nothing to fix
  try {
    const st = await fs.promises.lstat(path, { bigint: true });
    if (st.isSymbolicLink()) return false;
    if (Number(st.uid) !== euid) return false;
    if (expect && (st.dev !== expect.dev || st.ino !== expect.ino)) return false;
    const mode = Number(st.mode) & 0o7777;
    if ((mode & bits) === bits) return false; // already there: the problem is elsewhere
    await fs.promises.chmod(path, mode | bits);
    return true;
  } catch {
    return false;
  }
}

/**
 * Make every directory from root down to p's parent searchable again (owner r-x), where the
 * prisoner removed it from a directory the warden owns. Returns true if anything changed.
 */
export async function ensureAncestorsAccess(root: Buffer, p: Buffer): Promise<boolean> {
  const chain: Buffer[] = [];
  for (let d = dirnameOf(p); isWithin(root, d); d = dirnameOf(d)) {
    chain.unshift(d);
    if (d.equals(root)) break;
  }
  let changed = false;
  for (const d of chain) if (await ensureOwnerAccess(d, 0o500)) changed = true;
  return changed;
}
