// What the warden last found clean, by path: the inode, size and change times it had then. A
// file whose identity is still the same has the same bytes (a write moves ctime, which no
// unprivileged process can set back), so a scan that only looks for lost events may skip it.
// Bounded: the oldest entries go first, and a forgotten file is merely scanned again.

import type { FileIdentity } from './scanner';

const signature = (id: FileIdentity) => `${id.dev}:${id.ino}:${id.size}:${id.ctimeNs}:${id.mtimeNs}`;

export class CleanCache {
  private readonly entries = new Map<string, string>();

  constructor(private readonly max = 100_000) {}

  get size(): number {
    return this.entries.size;
  }

  remember(key: string, id: FileIdentity): void {
    this.entries.delete(key);
    this.entries.set(key, signature(id));
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** True only if the file was found clean and nothing about it has changed since. */
  unchanged(key: string, id: FileIdentity): boolean {
    return this.entries.get(key) === signature(id);
  }
}
