import { CleanCache } from '../src/clean-cache';
import type { FileIdentity } from '../src/scanner';

const id = (over: Partial<FileIdentity> = {}): FileIdentity => ({
  dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n, ctimeNs: 5n, mode: 0o100644, uid: 1000, gid: 1000, nlink: 1, ...over,
});

describe('CleanCache', () => {
  test('unchanged only for the same inode, size and change times', () => {
    const c = new CleanCache();
    c.remember('a', id());
    expect(c.unchanged('a', id())).toBe(true);
    expect(c.unchanged('a', id({ ctimeNs: 6n }))).toBe(false); // written, even with mtime set back
    expect(c.unchanged('a', id({ ino: 9n }))).toBe(false); // replaced by another file
    expect(c.unchanged('a', id({ size: 4n }))).toBe(false);
    expect(c.unchanged('b', id())).toBe(false); // never seen
    c.forget('a');
    expect(c.unchanged('a', id())).toBe(false);
  });

  test('bounded: the oldest entry goes first', () => {
    const c = new CleanCache(2);
    c.remember('a', id());
    c.remember('b', id());
    c.remember('a', id()); // refreshed
    c.remember('c', id());
    expect(c.size).toBe(2);
    expect(c.unchanged('b', id())).toBe(false);
    expect(c.unchanged('a', id())).toBe(true);
    expect(c.unchanged('c', id())).toBe(true);
  });
});
