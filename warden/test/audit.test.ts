// The audit log's group commit: lines are in the file at once, in order; syncs are shared.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AuditLog } from '../src/audit';

describe('audit log', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjw-audit-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  test('each line is written at once; one sync covers a whole turn of appends', async () => {
    const f = path.join(dir, 'audit.log');
    const log = AuditLog.open(f);
    const done = Array.from({ length: 500 }, (_, i) => log.append({ event: 'clean', n: i }));
    // in the file before any sync, in order
    expect(lines(f).map((l) => l.n)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(log.busy).toBe(true);
    await Promise.all(done);
    expect(log.commitCount).toBe(1);
    expect(log.linesWritten).toBe(500);
    expect(log.busy).toBe(false);
    await log.close();
  });

  test('appends while a sync is in flight share the next one, at most one per interval', async () => {
    const f = path.join(dir, 'audit.log');
    const log = AuditLog.open(f, 'warden', () => new Date(), 30);
    const t0 = Date.now();
    await log.append({ event: 'a' });
    const first = Date.now() - t0;
    const later = [log.append({ event: 'b' }), log.append({ event: 'c' })];
    await Promise.all(later);
    expect(log.commitCount).toBe(2);
    // the second sync waited for the window since the first began
    expect(Date.now() - t0).toBeGreaterThanOrEqual(Math.min(30, first + 25));
    expect(lines(f).map((l) => l.event)).toEqual(['a', 'b', 'c']);
    await log.close();
    await expect(log.append({ event: 'd' })).rejects.toThrow('closed');
  });
});
