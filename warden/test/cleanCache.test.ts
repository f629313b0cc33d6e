import { CleanCache } from '../src/cleanCache';
import type { FileIdentity } from '../src/scanner';

const id = (over: Partial<FileIdentity> = {}): FileIdentity => ({
  dev: 1n, ino: 2n, size: 3n, mtimeNs: 4n, ctimeNs: 5n, mode: 0o100644, uid: 1000, gid: 1000, nlink: 1, ...over,
});

describe('CleanCache', () => {
  test('unchanged only for the same inode, size and change times', () => {
    const c = new CleanCache();
    c.remember('a', id(), 'h');
    expect(c.cleanSha256('a', id())).toBe('h');
    expect(c.cleanSha256('a', id({ ctimeNs: 6n }))).toBeNull(); // written, even with mtime set back
    expect(c.cleanSha256('a', id({ ino: 9n }))).toBeNull(); // replaced by another file
    expect(c.cleanSha256('a', id({ size: 4n }))).toBeNull();
    expect(c.cleanSha256('b', id())).toBeNull(); // never seen
    c.forget('a');
    expect(c.cleanSha256('a', id())).toBeNull();
  });

  test('bounded: the oldest entry goes first', () => {
    const c = new CleanCache(2);
    c.remember('a', id(), 'h');
    c.remember('b', id(), 'h');
    c.remember('a', id(), 'h'); // refreshed
    c.remember('c', id(), 'h');
    expect(c.size).toBe(2);
    expect(c.cleanSha256('b', id())).toBeNull();
    expect(c.cleanSha256('a', id())).toBe('h');
    expect(c.cleanSha256('c', id())).toBe('h');
  });
});
