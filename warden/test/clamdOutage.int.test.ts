// clamd stopped mid-run and restarted: nothing is marked clean while it is down, health says
// degraded, and everything written meanwhile is scanned once it is back.

import * as fs from 'fs';
import * as crypto from 'crypto';
import { Warden } from '../src/warden';
import { ClamdInstance, EICAR, startClamd } from './clamdHarness';
import { Sandbox, exists, readAudit, sleep, startWarden, tombstoneOf, waitFor } from './helpers';

jest.setTimeout(90000);

describe('clamd outage (in-process warden, real clamd)', () => {
  let clamd: ClamdInstance;
  let sbx: Sandbox;
  let warden: Warden;

  beforeAll(async () => {
    clamd = await startClamd({ maxThreads: 2 });
    sbx = new Sandbox();
    ({ warden } = await startWarden(sbx, clamd.tcp, { WARDEN_BACKOFF_MIN_MS: '100', WARDEN_BACKOFF_MAX_MS: '400' }));
  });
  afterAll(async () => {
    await warden?.stop();
    await clamd?.destroy();
    sbx?.cleanup();
  });

  const cleanPaths = () => new Set(readAudit(sbx.store).filter((l) => l.event === 'clean').map((l) => l.path!.text));

  test('stopped mid-burst, then restarted', async () => {
    // a burst in flight when clamd goes away
    const burst = Array.from({ length: 200 }, (_, i) => sbx.p(`burst-${i}.txt`));
    const burstEicar = Array.from({ length: 5 }, (_, i) => sbx.p(`burst-evil-${i}.com`));
    burst.forEach((p) => fs.writeFileSync(p, crypto.randomBytes(2048)));
    burstEicar.forEach((p) => fs.writeFileSync(p, EICAR));
    await sleep(30);
    await clamd.stop();
    const stoppedAt = Date.now();
    // it really was mid-burst: part of it was not scanned yet
    expect(burst.filter((p) => cleanPaths().has(p)).length).toBeLessThan(burst.length);

    // while it is down: new files, clean and infected, in a new directory too
    fs.mkdirSync(sbx.p('during'));
    const during = Array.from({ length: 50 }, (_, i) => sbx.p('during', `f-${i}.txt`));
    const duringEicar = [sbx.p('during', 'evil.com'), sbx.p('evil-root.com')];
    during.forEach((p) => fs.writeFileSync(p, crypto.randomBytes(512)));
    duringEicar.forEach((p) => fs.writeFileSync(p, EICAR));

    await waitFor(() => warden.health().status === 'degraded', 10000, 'health degraded');
    expect(warden.health().reasons).toContain('clamd-unreachable');
    const cleanBefore = cleanPaths();
    await sleep(1500);
    // nothing written during the outage was marked clean, nothing more was marked clean at all
    expect(during.filter((p) => cleanBefore.has(p))).toEqual([]);
    expect(cleanPaths().size).toBe(cleanBefore.size);
    for (const p of duringEicar) expect(exists(p)).toBe(true);
    const down = readAudit(sbx.store).filter((l) => l.event === 'clamd-down');
    expect(down).toHaveLength(1);
    expect(Date.parse(down[0].time)).toBeGreaterThanOrEqual(stoppedAt - 1000);

    await clamd.restart();
    await waitFor(() => warden.health().status === 'ok', 10000, 'health ok again');
    await waitFor(() => [...burstEicar, ...duringEicar].every((p) => exists(tombstoneOf(p))), 30000, 'all EICARs quarantined');
    await warden.whenIdle();
    const clean = cleanPaths();
    expect([...burst, ...during].filter((p) => !clean.has(p))).toEqual([]);
    for (const p of [...burst, ...during]) expect(exists(p)).toBe(true);
    expect(readAudit(sbx.store).filter((l) => l.event === 'clamd-up')).toHaveLength(1);
  });

  test('killed outright (SIGKILL) while scanning: same guarantees', async () => {
    const files = Array.from({ length: 100 }, (_, i) => sbx.p(`k-${i}.txt`));
    const evil = sbx.p('k-evil.com');
    files.forEach((p) => fs.writeFileSync(p, crypto.randomBytes(4096)));
    fs.writeFileSync(evil, EICAR);
    await sleep(20);
    await clamd.kill();
    await waitFor(() => warden.health().status === 'degraded', 10000, 'degraded');
    await sleep(300);
    await clamd.restart();
    await waitFor(() => exists(tombstoneOf(evil)), 30000, 'EICAR quarantined');
    await warden.whenIdle();
    const clean = cleanPaths();
    expect(files.filter((p) => !clean.has(p))).toEqual([]);
  });
});
