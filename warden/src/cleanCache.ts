// What the warden last found clean, by path: the inode, size and change times it had then, and
// the sha256 of the bytes clamd judged. A walk that only looks for lost events skips a file whose
// identity and bytes are both unchanged (the identity alone is not enough: a write through mmap
// moves no timestamp). Bounded: the oldest entries go first; a forgotten file is scanned again.

import type { FileIdentity } from './scanner';

const signature = (id: FileIdentity) => `${id.dev}:${id.ino}:${id.size}:${id.ctimeNs}:${id.mtimeNs}`;

export class CleanCache {
  private readonly entries = new Map<string, { sig: string; sha256: string }>();

  constructor(private readonly max = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  remember(key: string, id: FileIdentity, sha256: string): void {
    this.entries.delete(key);
    this.entries.set(key, { sig: signature(id), sha256 });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** The sha256 it was found clean with, if its identity is still the same; else null. */
  cleanSha256(key: string, id: FileIdentity): string | null {
    const e = this.entries.get(key);
    return e && e.sig === signature(id) ? e.sha256 : null;
  }
}
