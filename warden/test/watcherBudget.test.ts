// How many directories the inotify watcher may hold open, from /proc/self/limits.

import { dirFdBudget } from '../src/watcher';

const limits = (soft: string, hard = soft) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax processes             unlimited            unlimited            processes\nMax open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files\n`;

test.each([
  ['20000', 20000 - 1024],
  ['1048576', 1048576 - 1024],
  ['1024', 0],
  ['unlimited', 1 << 20],
])('a soft limit of %s open files leaves %d for directories', (soft, want) => {
  expect(dirFdBudget(limits(soft))).toBe(want);
});

test('without /proc/self/limits (or a line it does not know) the budget is a safe 4096', () => {
  expect(dirFdBudget(null)).toBe(4096);
  expect(dirFdBudget('Max open thingies 12')).toBe(4096);
});
