import { QueueItem, ScanQueue, ProcessResult } from '../src/scanQueue';

const P = (s: string) => Buffer.from(s);
import { sleep } from '../../test/helpers/wait';

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ScanQueue', () => {
  test('dedupes waiting paths and never exceeds the concurrency', async () => {
    let running = 0;
    let maxRunning = 0;
    const seen: string[] = [];
    const q = new ScanQueue(async (it) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      seen.push(it.path.toString());
      await sleep(5);
      running--;
    }, { concurrency: 3, max: 1000, debounceMs: 0 });
    q.pause();
    for (let i = 0; i < 50; i++) q.add(P(`f${i % 20}`));
    expect(q.stats().merged).toBe(30);
    q.resume();
    await q.onIdle();
    expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`).sort());
    expect(maxRunning).toBe(3);
  });

  test('a path changed while being scanned is scanned again (dirty)', async () => {
    const gate = deferred();
    const calls: number[] = [];
    const q = new ScanQueue(async (it) => {
      calls.push(it.attempts);
      if (calls.length === 1) await gate.promise;
    }, { concurrency: 1, max: 10, debounceMs: 1 });
    q.add(P('a'));
    await sleep(20);
    expect(q.add(P('a'))).toBe('dirty');
    expect(q.add(P('a'))).toBe('dirty');
    gate.resolve();
    await q.onIdle();
    expect(calls).toEqual([0, 1]);
    expect(q.stats().dirtyRequeues).toBe(1);
  });

  test('retries after the asked delay and counts attempts', async () => {
    const times: number[] = [];
    const t0 = Date.now();
    const q = new ScanQueue(async (it): Promise<ProcessResult | void> => {
      times.push(Date.now() - t0);
      if (it.attempts < 2) return { again: 40 };
    }, { concurrency: 1, max: 10, debounceMs: 0 });
    q.add(P('x'));
    await q.onIdle();
    expect(times.length).toBe(3);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(35);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(35);
  });

  test('bounded: beyond max, adds are dropped and overflow is flagged once', async () => {
    const gate = deferred();
    const q = new ScanQueue(() => gate.promise, { concurrency: 1, max: 100, debounceMs: 0 });
    let overflowEvents = 0;
    q.on('overflow', () => overflowEvents++);
    const results = Array.from({ length: 1000 }, (_, i) => q.add(P(`f${i}`)));
    // one is dispatched at once (in flight), 100 wait: the bound is max waiting + concurrency
    expect(results.filter((r) => r === 'queued').length).toBe(101);
    expect(results.filter((r) => r === 'overflow').length).toBe(899);
    expect(q.overflowed).toBe(true);
    expect(overflowEvents).toBe(1);
    expect(q.stats().highWater).toBeLessThanOrEqual(101);
    const drained = new Promise((r) => q.once('overflow-drained', r));
    gate.resolve();
    await drained;
    expect(q.takeOverflow()).toBe(true);
    expect(q.overflowed).toBe(false);
    await q.onIdle();
  });

  test('waitForCapacity applies backpressure to a producer', async () => {
    const q = new ScanQueue(() => sleep(1), { concurrency: 2, max: 20, debounceMs: 0 });
    let maxSize = 0;
    for (let i = 0; i < 500; i++) {
      if (q.size >= q.max) await q.waitForCapacity();
      expect(q.add(P(`f${i}`))).toBe('queued');
      maxSize = Math.max(maxSize, q.size);
    }
    await q.onIdle();
    expect(maxSize).toBeLessThanOrEqual(20);
    expect(q.stats().processed).toBe(500);
    expect(q.stats().dropped).toBe(0);
  });

  test('pause holds everything; resume releases it', async () => {
    const done: string[] = [];
    const q = new ScanQueue(async (it) => {
      done.push(it.path.toString());
    }, { concurrency: 2, max: 10, debounceMs: 0 });
    q.pause();
    q.add(P('a'));
    q.add(P('b'));
    await sleep(30);
    expect(done).toEqual([]);
    q.resume();
    await q.onIdle();
    expect(done.sort()).toEqual(['a', 'b']);
  });

  test('a job that throws is retried, not lost', async () => {
    let n = 0;
    const errors: unknown[] = [];
    const q = new ScanQueue(async (_it: QueueItem) => {
      if (n++ === 0) throw new Error('boom');
    }, { concurrency: 1, max: 10, debounceMs: 0, onError: (e) => errors.push(e) });
    q.add(P('a'));
    await q.onIdle();
    expect(n).toBe(2);
    expect(errors.length).toBe(1);
  });

  test('debounce: a burst of events for one path gives one scan after the delay', async () => {
    const at: number[] = [];
    const t0 = Date.now();
    const q = new ScanQueue(async () => {
      at.push(Date.now() - t0);
    }, { concurrency: 1, max: 10, debounceMs: 50 });
    for (let i = 0; i < 10; i++) q.add(P('a'));
    await q.onIdle();
    expect(at.length).toBe(1);
    expect(at[0]).toBeGreaterThanOrEqual(40);
  });
});
