// Watches whose directory went away unseen (its events lost in an inotify overflow) are dropped
// by the prune after a full walk, with their descriptors; watches that still hold their
// directory stay. The watcher here hears nothing (its events go nowhere), as after an overflow.
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../../test/helpers/wait';
import { TreeWatcher } from '../src/watcher';

const openFds = () => fs.readdirSync('/proc/self/fd').length;

describe('TreeWatcher.pruneStale', () => {
  let root: string;
  let w: TreeWatcher | undefined;
  beforeEach(() => (root = tempDir('cjw-prune-')));
  afterEach(async () => {
    await w?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('drops the watches of directories deleted or replaced unseen, and their descriptors, and keeps the rest', async () => {
    for (let i = 0; i < 10; i++) fs.mkdirSync(path.join(root, `d${i}`, 'sub'), { recursive: true });
    w = new TreeWatcher(Buffer.from(root), { poll: false, pollIntervalMs: 1000 }, { onPath: () => {}, onDir: () => {}, onReconcile: () => {}, onError: () => {} });
    await w.start();
    expect(w.byteDirCount).toBe(21);
    expect(w.pruneStale()).toBe(0); // nothing stale yet: a prune that drops everything cannot pass
    const before = openFds();
    for (let i = 0; i < 6; i++) fs.rmSync(path.join(root, `d${i}`), { recursive: true });
    // replaced under the same name: the watch holds the old inode, which no path names
    fs.rmSync(path.join(root, 'd6'), { recursive: true });
    fs.mkdirSync(path.join(root, 'd6'));
    expect(w.pruneStale()).toBe(14);
    expect(w.byteDirCount).toBe(7); // the root, d7-d9 and their subs
    expect(openFds()).toBe(before - 14);
    for (const d of ['d7', 'd8', 'd9']) expect(w.isByteWatched(Buffer.from(path.join(root, d)))).toBe(true);
    expect(w.isByteWatched(Buffer.from(path.join(root, 'd6')))).toBe(false);
  });
});
