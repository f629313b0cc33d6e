// The built warden as a real process (node warden/dist/main.js): --help and config errors,
// restarts with files written while it was down (run as uid 1000, like the image), the health
// endpoint, and a flood of 5,000 files with bounded memory.

import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ClamdInstance, EICAR, corpusFiles, freePort, startClamd } from './clamdHarness';
import { Sandbox, auditFor, exists, isQuarantined, readAudit, recordFor, sleep, tombstoneOf, waitFor } from './helpers';
import { UidCopy, copyForUid } from './uidCopy';
import { WARDEN_DIR, WARDEN_MAIN, WardenProcess, buildWarden } from './wardenProcess';

jest.setTimeout(180000);

const PRISONER = 1000;
const asRoot = process.getuid?.() === 0;

function runMain(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WARDEN_MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('warden process (node warden/dist/main.js)', () => {
  let clamd: ClamdInstance;
  const sandboxes: Sandbox[] = [];
  const procs: WardenProcess[] = [];
  // The warden as the prisoner's uid runs from a copy that uid can read: the checkout may sit
  // where uid 1000 cannot traverse (/root, a mktemp -d folder). Made on first use, after the build.
  let prisonerCopy: UidCopy | undefined;

  beforeAll(async () => {
    buildWarden();
    clamd = await startClamd({ maxThreads: 2 });
  });
  afterAll(async () => {
    try {
      for (const p of procs) await p.stop().catch(() => {});
      await clamd?.destroy();
      for (const s of sandboxes) s.cleanup();
    } finally {
      prisonerCopy?.remove();
    }
  });

  function sandbox(owner?: number): Sandbox {
    const s = new Sandbox();
    sandboxes.push(s);
    if (owner !== undefined) {
      fs.chmodSync(s.base, 0o755);
      fs.chownSync(s.ws, owner, owner);
      fs.chownSync(s.store, owner, owner);
    }
    return s;
  }

  async function start(s: Sandbox, env: Record<string, string> = {}, uid?: number, nofile?: number): Promise<WardenProcess> {
    const main = uid === undefined ? undefined : (prisonerCopy ??= copyForUid(WARDEN_DIR, 'dist/main.js', uid, uid)).main;
    const p = await WardenProcess.start({
      healthPort: await freePort(),
      nofile,
      uid,
      gid: uid,
      main,
      logFile: path.join(s.base, 'warden.log'),
      env: { WARDEN_WATCH: s.ws, WARDEN_QUARANTINE: s.store, WARDEN_CLAMD: clamd.tcp, WARDEN_RESCAN_INTERVAL_S: '0', ...env },
    });
    procs.push(p);
    return p;
  }

  /** write as the prisoner would: owned by uid 1000 */
  function put(p: Buffer | string, data: Buffer | string, mode = 0o644): void {
    fs.writeFileSync(p, data, { mode });
    if (asRoot) fs.chownSync(p, PRISONER, PRISONER);
    fs.chmodSync(p, mode);
  }
  function mkdir(p: string, mode = 0o755): void {
    fs.mkdirSync(p, { recursive: true });
    if (asRoot) fs.chownSync(p, PRISONER, PRISONER);
    fs.chmodSync(p, mode);
  }

  test('--help lists every setting; bad configuration exits 2 naming the variable', async () => {
    const h = await runMain(['--help'], {});
    expect(h.code).toBe(0);
    for (const v of ['WARDEN_WATCH', 'WARDEN_QUARANTINE', 'WARDEN_CLAMD', 'WARDEN_POLL', 'WARDEN_TMP_GRACE_MS', 'WARDEN_UNSCANNABLE', 'WARDEN_MAX_FILE_SIZE', 'WARDEN_CONCURRENCY', 'WARDEN_QUEUE_MAX', 'WARDEN_HEALTH_PORT', 'WARDEN_HEALTH_FILE']) {
      expect(h.stdout).toContain(v);
    }
    const bad = await runMain([], { WARDEN_WATCH: '/nonexistent-ws', WARDEN_QUARANTINE: '/nonexistent-store', WARDEN_CLAMD: 'clamd:3310', WARDEN_UNSCANNABLE: 'shrug' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/WARDEN_CLAMD: expected tcp:\/\/host:port or unix:\/path/);
    expect(bad.stderr).toMatch(/WARDEN_UNSCANNABLE: expected one of quarantine, allow/);
    const missing = await runMain([], { WARDEN_WATCH: '/nonexistent-ws', WARDEN_QUARANTINE: '/nonexistent-store' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/WARDEN_WATCH: \/nonexistent-ws is not accessible/);
  });

  test('restart: files written while the warden was down are caught by the startup scan (warden runs as uid 1000)', async () => {
    const uid = asRoot ? PRISONER : undefined;
    const s = sandbox(uid);
    const run = path.join(s.base, 'run');
    mkdir(run);
    const healthFile = path.join(run, 'health.json');
    let w = await start(s, { WARDEN_HEALTH_FILE: healthFile }, uid);
    await waitFor(async () => (await w.health().catch(() => null))?.status === 'ok', 15000, 'health ok');

    const first = s.p('first.com');
    put(first, EICAR);
    await waitFor(() => exists(tombstoneOf(first)), 15000, 'first tombstone');
    if (asRoot) {
      // the prisoner (same uid) hides a file behind mode 000: the warden adds its owner bit back
      const hidden = s.p('hidden.com');
      put(hidden, EICAR, 0o000);
      await waitFor(() => exists(tombstoneOf(hidden)), 15000, 'mode-000 file caught');
    }
    if (asRoot) {
      // a directory hidden with mode 000 as soon as it is made, written into later
      const vault = s.p('vault');
      mkdir(vault, 0o700);
      fs.chmodSync(vault, 0o000);
      await sleep(500);
      fs.chmodSync(vault, 0o700);
      put(path.join(vault, 'later.com'), EICAR);
      fs.chmodSync(vault, 0o000);
      // (the test runs as root, so it can look inside without changing the mode)
      await waitFor(() => exists(tombstoneOf(path.join(vault, 'later.com'))), 15000, 'file in a mode-000 directory caught');
    }
    const hc = await runMain(['--healthcheck'], { WARDEN_HEALTH_PORT: String(w.healthPort) });
    expect(hc).toMatchObject({ code: 0 });
    expect(hc.stdout).toMatch(/^ok/);
    expect(await w.stop()).toBe(0);
    const auditBefore = fs.readFileSync(path.join(s.store, 'audit.log'));
    expect(readAudit(s.store).pop()!.event).toBe('warden-stop');

    // while it is down
    mkdir(s.p('new', 'deeper'));
    const down = [s.p('down.com'), s.p('new', 'deeper', 'payload.exe'), s.pb([], Buffer.from('down\xff\n.bin', 'latin1'))];
    for (const p of down) put(p, EICAR);
    const cleanDown = Array.from({ length: 20 }, (_, i) => s.p('new', `ok-${i}.txt`));
    for (const p of cleanDown) put(p, crypto.randomBytes(300));
    if (asRoot) {
      mkdir(s.p('locked'));
      put(s.p('locked', 'inside.com'), EICAR);
      fs.chmodSync(s.p('locked'), 0o000); // unreadable directory, owned by the prisoner's uid
      down.push(s.p('locked', 'inside.com'));
    }
    const tmpLeft = s.p('.fs-safe-replace.99.9b2c4d1e-0000-4000-8000-000000000000.tmp');
    put(tmpLeft, EICAR);
    down.push(tmpLeft);

    w = await start(s, { WARDEN_HEALTH_FILE: healthFile }, uid);
    await waitFor(() => down.every((p) => isQuarantined(s.store, p)), 30000, 'all files written while down are quarantined');
    await waitFor(() => cleanDown.every((p) => auditFor(s.store, p, 'clean').length > 0), 15000, 'clean ones logged clean');
    for (const p of down) {
      expect(exists(p)).toBe(false);
      expect(recordFor(s.store, p)).toBeDefined();
    }
    // append-only: the log before the restart is an exact prefix of the log after
    const auditAfter = fs.readFileSync(path.join(s.store, 'audit.log'));
    expect(auditAfter.subarray(0, auditBefore.length).equals(auditBefore)).toBe(true);
    expect(readAudit(s.store).filter((l) => l.event === 'warden-start')).toHaveLength(2);
    if (asRoot) {
      // runs as the prisoner's uid: its quarantine is its own, 0700/0400
      const st = fs.statSync(path.join(s.store, 'quarantine'));
      expect(st.uid).toBe(PRISONER);
      expect(st.mode & 0o777).toBe(0o700);
    }
    await waitFor(() => JSON.parse(fs.readFileSync(healthFile, 'utf8')).status === 'ok', 10000, 'health file ok');
    const hcf = await runMain(['--healthcheck'], { WARDEN_HEALTH_FILE: healthFile });
    expect(hcf.code).toBe(0);
    expect(await w.stop()).toBe(0);
  });

  test('files written into a brand-new directory while the watcher is still setting it up', async () => {
    // the warden runs in its own process, so these writes race its directory setup for real
    const s = sandbox();
    const w = await start(s);
    try {
      const expected: string[] = [];
      for (let round = 0; round < 3; round++) {
        const dir = s.p(`fresh-${round}`, 'inner');
        fs.mkdirSync(dir, { recursive: true });
        for (const f of corpusFiles()) {
          const p = path.join(dir, path.basename(f));
          fs.copyFileSync(f, p);
          expected.push(p);
        }
      }
      await waitFor(() => expected.every((p) => isQuarantined(s.store, p)), 60000, 'every corpus file in the new directories');
    } finally {
      await w.stop();
    }
  });

  test('more directories than the warden can hold open: it says it is degraded and rescans, it is not blind; back under the budget it is whole again', async () => {
    // One descriptor per watched directory (watcher.ts); under an open-file limit of 1,100 the
    // budget is 76 directories. The control is the same tree under the usual limit.
    const DIRS = 150;
    const make = (s: Sandbox) => {
      for (let i = 0; i < DIRS; i++) fs.mkdirSync(path.join(s.ws, `d${i}`));
    };
    const ok = sandbox();
    make(ok);
    const control = await start(ok, { WARDEN_DEGRADED_RESCAN_S: '2' });
    await waitFor(async () => (await control.health()).startupScan?.state === 'done', 30000, 'the control warden started');
    expect((await control.health()).status).toBe('ok');
    const s = sandbox();
    make(s);
    const p = await start(s, { WARDEN_DEGRADED_RESCAN_S: '2' }, undefined, 1100);
    await waitFor(async () => (await p.health()).reasons?.includes('watcher-limited'), 30000, 'the warden reporting watcher-limited');
    expect((await p.health()).status).toBe('degraded');
    expect(readAudit(s.store).some((l) => l.event === 'watcher-degraded')).toBe(true);
    // a payload in every directory, watched or not: the rescans find those no watch reaches
    const payloads = Array.from({ length: DIRS }, (_, i) => path.join(s.ws, `d${i}`, 'payload.com'));
    for (const f of payloads) fs.writeFileSync(f, EICAR);
    await waitFor(() => payloads.every((f) => isQuarantined(s.store, f)), 60000, 'every payload quarantined');
    // Back under the budget (the prisoner removes most of the tree): the next whole walk meets
    // no limit, so the warden says it is whole again, and a new payload is still caught.
    for (let i = 30; i < DIRS; i++) fs.rmSync(path.join(s.ws, `d${i}`), { recursive: true, force: true });
    await waitFor(async () => (await p.health()).status === 'ok', 30000, 'the warden whole again');
    expect(readAudit(s.store).some((l) => l.event === 'watcher-recovered')).toBe(true);
    const late = path.join(s.ws, 'd3', 'late.com');
    fs.writeFileSync(late, EICAR);
    await waitFor(() => isQuarantined(s.store, late), 20000, 'a payload after the recovery quarantined');
    await p.stop();
    await control.stop();
  });

  test('warden restarted while clamd is also down: nothing clean until clamd is back', async () => {
    const s = sandbox();
    const other = await startClamd({ maxThreads: 1 });
    try {
      const evil = s.p('evil.com');
      const ok = s.p('ok.txt');
      fs.writeFileSync(evil, EICAR);
      fs.writeFileSync(ok, 'fine\n');
      await other.stop();
      const w = await start(s, { WARDEN_CLAMD: other.tcp, WARDEN_BACKOFF_MIN_MS: '100', WARDEN_BACKOFF_MAX_MS: '300' });
      await sleep(1000);
      const h = await w.health();
      expect(h.status).toBe('degraded');
      expect(h.reasons).toContain('clamd-unreachable');
      expect(auditFor(s.store, ok, 'clean')).toHaveLength(0);
      expect(exists(evil)).toBe(true);
      await other.restart();
      await waitFor(() => exists(tombstoneOf(evil)) && auditFor(s.store, ok, 'clean').length > 0, 20000, 'scanned once clamd is back');
      expect((await w.health()).status).toBe('ok');
      expect(await w.stop()).toBe(0);
    } finally {
      await other.destroy();
    }
  });

  test('a flood of 5,000 small files: all scanned, nothing lost, memory bounded', async () => {
    const s = sandbox();
    const QUEUE_MAX = 500;
    const w = await start(s, { WARDEN_QUEUE_MAX: String(QUEUE_MAX), WARDEN_AUDIT_CLEAN: 'true', WARDEN_LOG_LEVEL: 'warn' });
    await waitFor(async () => (await w.health().catch(() => null))?.status === 'ok', 15000, 'health ok');
    const idle = w.memory();

    const N = 5000;
    const files: string[] = [];
    const evil: string[] = [];
    for (let d = 0; d < 10; d++) fs.mkdirSync(s.p(`flood-${d}`));
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      const p = s.p(`flood-${i % 10}`, `f-${i}.${i % 100 === 0 ? 'com' : 'txt'}`);
      if (i % 100 === 0) {
        fs.writeFileSync(p, EICAR);
        evil.push(p);
      } else {
        fs.writeFileSync(p, crypto.randomBytes(64 + (i % 200)));
        files.push(p);
      }
    }
    const written = Date.now() - t0;

    // poll the cheap health counters first, then check every file against the audit log
    await waitFor(async () => {
      const hh = await w.health().catch(() => null);
      return !!hh && hh.counters.clean >= files.length && hh.counters.quarantined >= evil.length;
    }, 120000, 'the counters to cover the flood');
    await waitFor(() => {
      const clean = new Set(readAudit(s.store).filter((l) => l.event === 'clean').map((l) => l.path!.text));
      return files.every((p) => clean.has(p)) && evil.every((p) => isQuarantined(s.store, p));
    }, 60000, 'every flood file scanned');
    const took = Date.now() - t0;
    const h = await w.health();
    const mem = w.memory();
    const deltaMb = (mem.peakKb - idle.rssKb) / 1024;
    // eslint-disable-next-line no-console
    console.log(`flood: ${N} files written in ${written} ms, all scanned after ${took} ms; queue highWater ${h.queue.highWater} (max ${QUEUE_MAX}), overflows ${h.queue.overflows}, dropped ${h.queue.dropped}, full scans ${h.counters.fullScans}; RSS idle ${Math.round(idle.rssKb / 1024)} MB, peak ${Math.round(mem.peakKb / 1024)} MB (+${Math.round(deltaMb)} MB)`);
    expect(h.queue.highWater).toBeLessThanOrEqual(QUEUE_MAX + h.queue.concurrency);
    expect(deltaMb).toBeLessThan(150);
    expect(mem.peakKb / 1024).toBeLessThan(300);
    for (const p of evil) expect(exists(p)).toBe(false);
    for (const p of files.slice(0, 50)) expect(exists(p)).toBe(true);
    expect(h.counters.quarantined).toBe(evil.length);
    expect(await w.stop()).toBe(0);
  });
});
