// The warden in-process against a real clamd and real files: detection, quarantine records,
// tombstones, the audit log, and every evasion of the point 3.

import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { execFileSync, spawn } from 'child_process';
import { Warden } from '../src/warden';
import { ClamdInstance, EICAR, corpusFiles, startClamd } from './clamdHarness';
import { Sandbox, auditFor, exists, isQuarantined, readAudit, recordFor, records, sleep, startWarden, tempDir, tombstoneOf, waitFor } from './helpers';

jest.setTimeout(90000);

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const GRACE_MS = 2500;

describe('warden (in-process, real clamd)', () => {
  let clamd: ClamdInstance;
  let sbx: Sandbox;
  let warden: Warden;
  let logs: string[];
  let outside: string;

  beforeAll(async () => {
    clamd = await startClamd({ maxThreads: 2, streamMaxLength: '4M', maxFileSize: '4M', maxScanSize: '16M' });
    sbx = new Sandbox();
    outside = tempDir('cjw-outside-');
    ({ warden, logs } = await startWarden(sbx, clamd.tcp, { WARDEN_TMP_GRACE_MS: String(GRACE_MS), WARDEN_MAX_FILE_SIZE: '12M' }));
  });

  afterAll(async () => {
    await warden?.stop();
    await clamd?.destroy();
    sbx?.cleanup();
    if (outside) fs.rmSync(outside, { recursive: true, force: true });
  });

  afterEach(() => {
    const failures = logs.filter((l) => /"level":"error"/.test(l) && !/"alert":true/.test(l));
    expect(failures).toEqual([]);
  });

  const caught = (p: Buffer | string, ms = 20000) => waitFor(() => isQuarantined(sbx.store, p), ms, `quarantine of ${String(p)}`);

  test('EICAR is caught: original gone, tombstone, record, stored 0400, audit line', async () => {
    fs.mkdirSync(sbx.p('eicar'));
    const f = sbx.p('eicar', 'eicar.com');
    fs.writeFileSync(f, EICAR, { mode: 0o755 });
    await caught(f);
    expect(exists(f)).toBe(false);
    const tomb = fs.readFileSync(tombstoneOf(f), 'utf8');
    expect(tomb).toContain('"eicar.com"');
    expect(tomb).toContain('Eicar-Test-Signature');
    const rec = recordFor(sbx.store, f)!;
    expect(rec).toMatchObject({
      status: 'quarantined',
      verdict: 'infected',
      signature: 'Eicar-Test-Signature.UNOFFICIAL',
      sha256: sha256(EICAR),
      scannedSha256: sha256(EICAR),
      size: 68,
      method: 'rename',
      original: { uid: process.getuid!(), gid: process.getgid!(), mode: '0755', nlink: 1, relative: { text: 'eicar/eicar.com' } },
    });
    expect(rec.original.path.text).toBe(f);
    const content = path.join(sbx.store, 'quarantine', rec.id, 'content');
    expect(fs.readFileSync(content).equals(EICAR)).toBe(true);
    expect(fs.statSync(content).mode & 0o777).toBe(0o400);
    expect(fs.statSync(path.join(sbx.store, 'quarantine', rec.id)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(sbx.store, 'quarantine')).mode & 0o777).toBe(0o700);
    await waitFor(() => auditFor(sbx.store, f, 'quarantined').length > 0, 5000, 'audit line'); // appended right after the record
    const audit = auditFor(sbx.store, f, 'quarantined');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'warden', id: rec.id, signature: 'Eicar-Test-Signature.UNOFFICIAL', sha256: sha256(EICAR), size: 68 });
  });

  test('every file of /usr/share/clamav-testfiles is caught', async () => {
    fs.mkdirSync(sbx.p('corpus'));
    const files = corpusFiles();
    expect(files).toHaveLength(44);
    for (const f of files) fs.copyFileSync(f, sbx.p('corpus', path.basename(f)));
    await waitFor(() => files.every((f) => isQuarantined(sbx.store, sbx.p('corpus', path.basename(f)))), 60000, 'all 44 quarantined');
    for (const f of files) {
      const p = sbx.p('corpus', path.basename(f));
      expect(exists(p)).toBe(false);
      const rec = recordFor(sbx.store, p)!;
      expect(rec.verdict).toBe('infected');
      expect(rec.sha256).toBe(sha256(fs.readFileSync(f)));
    }
  });

  test('300 clean files are left untouched and each is logged clean', async () => {
    fs.mkdirSync(sbx.p('clean'));
    const files: { p: string; data: Buffer }[] = [];
    for (let i = 0; i < 300; i++) {
      const data = crypto.randomBytes(64 + (i % 50) * 37);
      const p = sbx.p('clean', `doc-${i}.txt`);
      fs.writeFileSync(p, data);
      files.push({ p, data });
    }
    await waitFor(() => {
      const clean = new Set(readAudit(sbx.store).filter((l) => l.event === 'clean').map((l) => l.path!.text));
      return files.every((f) => clean.has(f.p));
    }, 30000, '300 clean audit lines');
    for (const f of files) {
      expect(fs.readFileSync(f.p).equals(f.data)).toBe(true);
      expect(exists(tombstoneOf(f.p))).toBe(false);
    }
    const lines = readAudit(sbx.store).filter((l) => l.event === 'clean' && l.path!.text === files[7].p);
    expect(lines[0]).toMatchObject({ sha256: sha256(files[7].data), size: files[7].data.length });
    // in clamd sessions, as in the stack: a few for the 300 scans, not one each
    expect(warden.clamd.sessions).toBe(true);
    expect(warden.clamd.sessionsOpened).toBeGreaterThan(0);
    expect(warden.clamd.sessionsOpened).toBeLessThan(30);
  });

  describe('evasion (issue point 3)', () => {
    test('a lingering OpenClaw temp file is deferred while young, then scanned', async () => {
      fs.mkdirSync(sbx.p('tmp1'));
      const t = sbx.p('tmp1', '.fs-safe-replace.4242.0f8fad5b-d9cb-469f-a165-70867728950e.tmp');
      const t0 = Date.now();
      fs.writeFileSync(t, EICAR);
      await sleep(GRACE_MS / 2);
      expect(exists(t)).toBe(true); // deferred, not yet scanned
      await caught(t);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE_MS - 100);
    });

    test.each([
      ['renamed', (from: string, to: string) => fs.renameSync(from, to)],
      ['copied to a fresh file', (from: string, to: string) => {
        fs.copyFileSync(from, to);
        fs.unlinkSync(from);
      }],
    ])('a payload kept young by being %s from temp name to temp name is caught all the same', async (_how, hop) => {
      const dir = `churn-${_how.split(' ')[0]}`;
      fs.mkdirSync(sbx.p(dir));
      const name = (i: number) => sbx.p(dir, `.fs-safe-replace.${i}.0f8fad5b-d9cb-469f-a165-${String(i).padStart(12, '0')}.tmp`);
      fs.writeFileSync(name(0), EICAR);
      const t0 = Date.now();
      let i = 0;
      // Each name lives a third of the grace period: always young, never scanned, were the
      // deferral counted per name.
      while (Date.now() - t0 < GRACE_MS * 4) {
        await sleep(GRACE_MS / 3);
        try {
          hop(name(i), name(i + 1));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break; // the warden took it
          throw e;
        }
        i++;
      }
      await waitFor(() => readAudit(sbx.store).some((l) => l.event === 'quarantined' && String(l.path?.text).includes(`/${dir}/`)), 5000, 'the churned payload quarantined');
      // Caught within about one grace period plus a scan, long before the churn would have ended.
      expect(Date.now() - t0).toBeLessThan(GRACE_MS * 2 + 1000);
      expect(fs.readdirSync(sbx.p(dir)).filter((n) => !n.endsWith('.quarantined.txt'))).toEqual([]);
    });

    test("a flood that overflows the kernel's inotify queue hides nothing written in it", async () => {
      const dir = sbx.p('flood-q');
      fs.mkdirSync(dir);
      for (let i = 1; i <= 200; i++) fs.writeFileSync(path.join(dir, `f${i}`), `clean ${i}\n`);
      await waitFor(() => auditFor(sbx.store, path.join(dir, 'f200'), 'clean').length > 0, 20000, 'the churn files scanned');
      // Elsewhere: a file already found clean, and others that nobody touches.
      const quiet = sbx.p('flood-q-quiet');
      fs.mkdirSync(quiet);
      const kept = path.join(quiet, 'kept.txt');
      fs.writeFileSync(kept, 'clean for now\n');
      for (let i = 1; i <= 20; i++) fs.writeFileSync(path.join(quiet, `still${i}`), `untouched ${i}\n`);
      await waitFor(() => [kept, path.join(quiet, 'still20')].every((f) => auditFor(sbx.store, f, 'clean').length > 0), 20000, 'the quiet files scanned');
      const payload = path.join(dir, 'payload.com');
      // The warden runs in this process: while these synchronous calls hold the event loop, the
      // kernel queues 24,000 events (more than max_queued_events, 16384), drops the rest and
      // reports only an overflow, which libuv discards. The payload's own events are among the
      // dropped ones, and so are those of the clean file rewritten in place.
      execFileSync('bash', ['-c', `for n in $(seq 1 120); do touch ${dir}/f{1..200}; done`]);
      fs.writeFileSync(payload, EICAR);
      fs.writeFileSync(kept, EICAR);
      await caught(payload, 30000);
      await caught(kept, 30000);
      // The walk that found them skipped what was clean and unchanged.
      await warden.whenIdle();
      for (let i = 1; i <= 20; i++) expect(auditFor(sbx.store, path.join(quiet, `still${i}`), 'clean')).toHaveLength(1);
    });

    /** 200 files in a directory the warden already watches (a new one would not be watched yet). */
    const prepareBurst = async (name: string) => {
      const d = sbx.p(name);
      fs.mkdirSync(d);
      for (let i = 1; i <= 200; i++) fs.writeFileSync(path.join(d, `b${i}`), `burst ${i}\n`);
      await waitFor(() => auditFor(sbx.store, path.join(d, 'b200'), 'clean').length > 0, 20000, 'the burst files scanned');
    };
    /**
     * 1,200 events at once: touched while this process (the warden's) is held, so the kernel
     * queues them and they arrive together, within one second: a burst, and a walk for lost
     * events follows.
     */
    const burst = (name: string) => execFileSync('bash', ['-c', `for n in 1 2 3 4 5 6; do touch ${sbx.p(name)}/b{1..200}; done`]);

    test('a write through mmap, which raises no event and moves no timestamp, is caught by the next walk for lost events', async () => {
      const dir = sbx.p('mmap');
      fs.mkdirSync(dir);
      const f = path.join(dir, 'note.txt');
      await prepareBurst('mmap-burst');
      fs.writeFileSync(f, Buffer.alloc(EICAR.length, 'a'));
      await waitFor(() => auditFor(sbx.store, f, 'clean').length > 0, 20000, 'first clean scan');
      const bin = path.join(outside, 'mmapwrite');
      execFileSync('gcc', ['-O2', '-o', bin, path.join(__dirname, 'fixtures', 'mmapwrite.c')]);
      const go = path.join(outside, 'mmap-go');
      const child = spawn(bin, [f, EICAR.toString('latin1'), go], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await waitFor(() => out.includes('mapped'), 10000, 'the mapping');
      // One event after the page fault: the warden judges the file, as it is now, clean.
      const judged = auditFor(sbx.store, f, 'clean').length;
      fs.utimesSync(f, new Date(), new Date());
      await waitFor(() => auditFor(sbx.store, f, 'clean').length > judged, 20000, 'the clean scan after the fault');
      await warden.whenIdle();
      const before = fs.statSync(f, { bigint: true });
      fs.writeFileSync(go, '');
      expect(await exited).toBe(0);
      const after = fs.statSync(f, { bigint: true });
      expect(fs.readFileSync(f).equals(EICAR)).toBe(true);
      // The premise: nothing about the file says it changed.
      expect([after.ino, after.size, after.ctimeNs, after.mtimeNs]).toEqual([before.ino, before.size, before.ctimeNs, before.mtimeNs]);
      const bursts = warden.counters.eventBursts;
      burst('mmap-burst');
      await waitFor(() => warden.counters.eventBursts > bursts, 10000, 'the burst noticed');
      await caught(f, 30000);
    });

    test('a write into another name of the same inode, unlinked before the write, is caught', async () => {
      const dir = sbx.p('unlinked-link');
      fs.mkdirSync(dir);
      const f = path.join(dir, 'kept.txt');
      fs.writeFileSync(f, 'clean for now\n');
      await waitFor(() => auditFor(sbx.store, f, 'clean').length > 0, 20000, 'first clean scan');
      await warden.whenIdle();
      // ln F x; open x; unlink x; write: the events name x, which is gone; F gets none.
      const x = path.join(dir, 'x');
      fs.linkSync(f, x);
      const fd = fs.openSync(x, 'r+');
      fs.unlinkSync(x);
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, EICAR);
      fs.closeSync(fd);
      await caught(f, 20000);
    });

    test("OpenClaw's atomic write: the rename target is scanned", async () => {
      fs.mkdirSync(sbx.p('tmp2'));
      const t = sbx.p('tmp2', '.fs-safe-replace.77.1b4e28ba-2fa1-11d2-883f-0016d3cca427.tmp');
      const target = sbx.p('tmp2', 'notes.md');
      fs.writeFileSync(target, 'harmless\n');
      await waitFor(() => auditFor(sbx.store, target, 'clean').length > 0, 10000, 'first clean scan');
      fs.writeFileSync(t, EICAR);
      fs.renameSync(t, target);
      await caught(target);
      expect(exists(t)).toBe(false);
    });

    test('a plain *.tmp file is scanned at once (no blanket .tmp exclusion)', async () => {
      fs.mkdirSync(sbx.p('tmp3'));
      const t0 = Date.now();
      const f = sbx.p('tmp3', 'evil.tmp');
      fs.writeFileSync(f, EICAR);
      await caught(f, GRACE_MS - 500);
      expect(Date.now() - t0).toBeLessThan(GRACE_MS);
    });

    test('symlinks are never followed and nothing outside is touched', async () => {
      fs.mkdirSync(sbx.p('links'));
      const outsideEicar = path.join(outside, 'eicar.com');
      fs.writeFileSync(outsideEicar, EICAR, { mode: 0o644 });
      fs.mkdirSync(path.join(outside, 'dir'));
      fs.writeFileSync(path.join(outside, 'dir', 'eicar2.com'), EICAR);
      const passwdBefore = fs.statSync('/etc/passwd');
      const l1 = sbx.p('links', 'passwd');
      const l2 = sbx.p('links', 'eicar-link');
      const l3 = sbx.p('links', 'dir-link');
      fs.symlinkSync('/etc/passwd', l1);
      fs.symlinkSync(outsideEicar, l2);
      fs.symlinkSync(path.join(outside, 'dir'), l3);
      await waitFor(() => [l1, l2, l3].every((l) => auditFor(sbx.store, l, 'symlink-ignored').length > 0), 10000, 'symlink-ignored lines');
      await warden.whenIdle();
      for (const l of [l1, l2, l3]) {
        expect(fs.lstatSync(l).isSymbolicLink()).toBe(true);
        expect(exists(tombstoneOf(l))).toBe(false);
        expect(recordFor(sbx.store, l)).toBeUndefined();
      }
      expect(auditFor(sbx.store, l2, 'symlink-ignored')[0]).toMatchObject({ target: { text: outsideEicar } });
      expect(fs.readFileSync(outsideEicar).equals(EICAR)).toBe(true);
      expect(fs.statSync(outsideEicar).mode & 0o777).toBe(0o644);
      expect(fs.readFileSync(path.join(outside, 'dir', 'eicar2.com')).equals(EICAR)).toBe(true);
      const passwdAfter = fs.statSync('/etc/passwd');
      expect(passwdAfter.mtimeMs).toBe(passwdBefore.mtimeMs);
      expect(passwdAfter.mode).toBe(passwdBefore.mode);
      // nothing below the linked directory was ever scanned
      expect(readAudit(sbx.store).some((l) => l.path?.text.startsWith(l3 + '/'))).toBe(false);
    });

    test('a hardlink to a file elsewhere is scanned by content and quarantined by copy; the other link is untouched', async () => {
      fs.mkdirSync(sbx.p('hard'));
      const other = path.join(outside, 'hard-original.bin');
      fs.writeFileSync(other, EICAR, { mode: 0o640 });
      const link = sbx.p('hard', 'innocent.txt');
      fs.linkSync(other, link);
      await caught(link);
      expect(exists(link)).toBe(false);
      const rec = recordFor(sbx.store, link)!;
      expect(rec.method).toBe('copy');
      expect(rec.original.nlink).toBe(2);
      expect(rec.notes.join(' ')).toMatch(/hard links/);
      // the other name keeps its inode, content and mode (no chmod 0400 leaked through the link)
      expect(fs.readFileSync(other).equals(EICAR)).toBe(true);
      expect(fs.statSync(other).mode & 0o777).toBe(0o640);
      expect(fs.statSync(other).nlink).toBe(1);
      const stored = path.join(sbx.store, 'quarantine', rec.id, 'content');
      expect(fs.statSync(stored).ino).not.toBe(fs.statSync(other).ino);
    });

    test('two hard links in the workspace, rewritten through one: both names are caught', async () => {
      fs.mkdirSync(sbx.p('hard2', 'a'), { recursive: true });
      fs.mkdirSync(sbx.p('hard2', 'b'));
      const x = sbx.p('hard2', 'a', 'x.txt');
      const y = sbx.p('hard2', 'b', 'y.txt');
      fs.writeFileSync(x, Buffer.alloc(EICAR.length, 'c'));
      fs.linkSync(x, y);
      await waitFor(() => auditFor(sbx.store, x, 'clean').length > 0 && auditFor(sbx.store, y, 'clean').length > 0, 10000, 'both clean');
      const fd = fs.openSync(y, 'r+');
      fs.writeSync(fd, EICAR, 0, EICAR.length, 0);
      fs.closeSync(fd);
      await caught(y);
      await caught(x);
    });

    test('a file rewritten after a clean scan is rescanned and caught (same size, in place)', async () => {
      fs.mkdirSync(sbx.p('rewrite'));
      const f = sbx.p('rewrite', 'report.txt');
      const clean = Buffer.alloc(EICAR.length, 'a');
      fs.writeFileSync(f, clean);
      await waitFor(() => auditFor(sbx.store, f, 'clean').length > 0, 10000, 'clean scan');
      const fd = fs.openSync(f, 'r+');
      fs.writeSync(fd, EICAR, 0, EICAR.length, 0);
      fs.closeSync(fd);
      await caught(f);
      expect(recordFor(sbx.store, f)!.sha256).toBe(sha256(EICAR));
    });

    test('new nested directories and a deep tree', async () => {
      const nested = sbx.p('n1', 'n2', 'n3', 'n4');
      fs.mkdirSync(nested, { recursive: true });
      const f1 = path.join(nested, 'payload.exe');
      fs.writeFileSync(f1, EICAR);
      const parts = Array.from({ length: 60 }, (_, i) => `d${i}`);
      const deep = sbx.p('deep', ...parts);
      fs.mkdirSync(deep, { recursive: true });
      const f2 = path.join(deep, 'bottom.com');
      fs.writeFileSync(f2, EICAR);
      await caught(f1);
      await caught(f2);
    });

    test.each([
      ['deleted', (d: string) => fs.rmSync(d, { recursive: true })],
      ['renamed away', (d: string) => fs.renameSync(d, `${d}-moved`)],
    ])('a directory made again under the name of one %s is watched again', async (how, away) => {
      // inotify watches an inode, not a name: the old directory's watch never hears of the new one
      const d = sbx.p(`again-${how.split(' ')[0]}`);
      fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
      const first = path.join(d, 'sub', 'first.txt');
      fs.writeFileSync(first, 'clean\n');
      await waitFor(() => auditFor(sbx.store, first, 'clean').length > 0, 20000, 'the first file scanned');
      away(d);
      fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
      // past the sweeps that the gone names start (they look at recent files once, then stop)
      await sleep(3000);
      await warden.whenIdle();
      const payloads = [path.join(d, 'payload.com'), path.join(d, 'sub', 'payload.com')];
      for (const f of payloads) fs.writeFileSync(f, EICAR);
      for (const f of payloads) await caught(f, 5000);
      if (how === 'renamed away') {
        // and the moved directory is still watched, under its new name
        const moved = path.join(`${d}-moved`, 'sub', 'later.com');
        fs.writeFileSync(moved, EICAR);
        await caught(moved, 5000);
      }
    });

    test('names with spaces, newlines and non-UTF-8 bytes (files and directories)', async () => {
      fs.mkdirSync(sbx.p('names'));
      await sleep(300); // let the directory's own walk pass: the files below must be seen as events
      const spaced = sbx.p('names', 'my report final.com');
      const newline = sbx.p('names', 'line1\nline2.com');
      const binName = sbx.pb(['names'], Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x63, 0x6f, 0x6d])); // bad\xff\xfe.com
      const replacementChar = sbx.p('names', 'real\uFFFDchar.com'); // valid UTF-8 that looks like a lossy decoding
      for (const p of [spaced, newline, binName, replacementChar]) fs.writeFileSync(p, EICAR);
      // a directory whose name is not UTF-8, and a file written into it later
      const binDir = sbx.pb(['names'], Buffer.from([0x64, 0x69, 0x72, 0xc3, 0x28])); // dir\xc3(
      fs.mkdirSync(binDir);
      const inBinDir = Buffer.concat([binDir, Buffer.from('/first.com')]);
      fs.writeFileSync(inBinDir, EICAR);
      for (const p of [spaced, newline, binName, replacementChar, inBinDir]) await caught(p);
      await sleep(200);
      const later = Buffer.concat([binDir, Buffer.from('/later\xfe.com', 'latin1')]);
      fs.writeFileSync(later, EICAR);
      await caught(later);
      const rec = recordFor(sbx.store, binName)!;
      expect(Buffer.from(rec.original.path.b64, 'base64').equals(binName)).toBe(true);
      expect(rec.original.path.text).toMatch(/bad\\xff\\xfe\.com$/);
      expect(recordFor(sbx.store, newline)!.original.path.text).toMatch(/line1\\nline2\.com$/);
      // the audit log stays one JSON object per line
      for (const l of fs.readFileSync(path.join(sbx.store, 'audit.log'), 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    });

    test('a FIFO does not block the warden and is not read', async () => {
      fs.mkdirSync(sbx.p('fifo'));
      const fifo = sbx.p('fifo', 'pipe');
      execFileSync('mkfifo', [fifo]);
      const after = sbx.p('fifo', 'after.com');
      fs.writeFileSync(after, EICAR);
      await caught(after);
      await waitFor(() => auditFor(sbx.store, fifo, 'special-file-ignored').length > 0, 10000, 'fifo ignored');
    });
  });

  describe('size limits', () => {
    test("over clamd's stream limit: unscannable, quarantined by the default policy", async () => {
      fs.mkdirSync(sbx.p('big'));
      const f = sbx.p('big', 'video.bin');
      fs.writeFileSync(f, Buffer.alloc(5 * 1024 * 1024, 'v'));
      await caught(f);
      const rec = recordFor(sbx.store, f)!;
      expect(rec).toMatchObject({ verdict: 'unscannable', signature: null, size: 5 * 1024 * 1024 });
      expect(rec.reason).toMatch(/size-limit|StreamMaxLength/);
      expect(fs.readFileSync(tombstoneOf(f), 'utf8')).toContain('could not be scanned');
      await waitFor(() => logs.some((l) => /"alert":true/.test(l) && l.includes('video.bin')), 5000, 'alert logged'); // logged right after the record
    });

    test("over the warden's own limit: not even sent, quarantined", async () => {
      const f = sbx.p('big', 'huge.iso');
      fs.writeFileSync(f, Buffer.alloc(13 * 1024 * 1024, 'h'));
      await caught(f);
      expect(recordFor(sbx.store, f)!.reason).toMatch(/too-large/);
    });
  });

  test('rewrite during a scan: the change is noticed and the file rescanned', async () => {
    // a second warden on its own sandbox, whose test hook rewrites the file right after clamd
    // has read it (deterministic "during the scan")
    const sbx2 = new Sandbox();
    let fired = false;
    const target = path.join(sbx2.ws, 'flip.bin');
    const w2 = await startWarden(sbx2, clamd.tcp, {}, {
      afterRead: (p) => {
        if (!fired && p.toString() === target) {
          fired = true;
          fs.writeFileSync(target, EICAR);
        }
      },
    });
    try {
      fs.writeFileSync(target, 'clean at first, rewritten while clamd reads it\n');
      await waitFor(() => isQuarantined(sbx2.store, target), 20000, 'quarantined');
      expect(fired).toBe(true);
      expect(w2.warden.counters.changedDuringScan).toBeGreaterThanOrEqual(1);
      expect(auditFor(sbx2.store, target, 'clean')).toHaveLength(0); // never marked clean
      expect(recordFor(sbx2.store, target)!.sha256).toBe(sha256(EICAR));
    } finally {
      await w2.warden.stop();
      sbx2.cleanup();
    }
  });

  test('policy "allow": an oversized file stays, with an alert and an audit line', async () => {
    const sbx3 = new Sandbox();
    const w3 = await startWarden(sbx3, clamd.tcp, { WARDEN_UNSCANNABLE: 'allow', WARDEN_MAX_FILE_SIZE: '1M' });
    try {
      const f = path.join(sbx3.ws, 'dataset.csv');
      const data = Buffer.alloc(2 * 1024 * 1024, 'd');
      fs.writeFileSync(f, data);
      const e = path.join(sbx3.ws, 'still-caught.com');
      fs.writeFileSync(e, EICAR);
      await waitFor(() => auditFor(sbx3.store, f, 'unscannable-allowed').length > 0, 20000, 'unscannable-allowed');
      await waitFor(() => exists(tombstoneOf(e)), 20000, 'EICAR still quarantined under allow');
      expect(fs.readFileSync(f).equals(data)).toBe(true);
      expect(exists(tombstoneOf(f))).toBe(false);
      expect(auditFor(sbx3.store, f, 'unscannable-allowed')[0]).toMatchObject({ reason: 'too-large' });
      expect(w3.logs.some((l) => /"alert":true/.test(l) && l.includes('dataset.csv'))).toBe(true);
    } finally {
      await w3.warden.stop();
      sbx3.cleanup();
    }
  });

  test('store on another filesystem (/dev/shm): copy + fsync + unlink', async () => {
    if (!fs.existsSync('/dev/shm')) return;
    const sbx4 = new Sandbox({ storeParent: '/dev/shm' });
    const w4 = await startWarden(sbx4, clamd.tcp);
    try {
      const f = path.join(sbx4.ws, 'x.com');
      fs.writeFileSync(f, EICAR);
      await waitFor(() => isQuarantined(sbx4.store, f), 20000, 'quarantined');
      const rec = recordFor(sbx4.store, f)!;
      expect(rec.method).toBe('copy');
      expect(exists(f)).toBe(false);
      const stored = path.join(sbx4.store, 'quarantine', rec.id, 'content');
      expect(fs.readFileSync(stored).equals(EICAR)).toBe(true);
      expect(fs.statSync(stored).mode & 0o777).toBe(0o400);
    } finally {
      await w4.warden.stop();
      sbx4.cleanup();
    }
  });

  test('polling mode (filesystems without inotify): files, odd names and new directories are caught', async () => {
    const sbx5 = new Sandbox();
    const w5 = await startWarden(sbx5, clamd.tcp, { WARDEN_POLL: 'true', WARDEN_POLL_INTERVAL_MS: '100' });
    try {
      const a = path.join(sbx5.ws, 'polled.com');
      fs.writeFileSync(a, EICAR);
      fs.mkdirSync(path.join(sbx5.ws, 'new', 'dir'), { recursive: true });
      const b = path.join(sbx5.ws, 'new', 'dir', 'deep.com');
      fs.writeFileSync(b, EICAR);
      const c = sbx5.pb([], Buffer.from('poll\xff.com', 'latin1'));
      fs.writeFileSync(c, EICAR);
      const d = path.join(sbx5.ws, 'later.txt');
      fs.writeFileSync(d, 'clean first\n');
      await waitFor(() => auditFor(sbx5.store, d, 'clean').length > 0, 15000, 'clean scan (poll)');
      fs.writeFileSync(d, EICAR);
      for (const p of [a, b, c, d]) await waitFor(() => isQuarantined(sbx5.store, p), 20000, `poll quarantine of ${String(p)}`);
    } finally {
      await w5.warden.stop();
      sbx5.cleanup();
    }
  });

  test('a quarantine interrupted by a crash is finished at the next start', async () => {
    const sbx6 = new Sandbox();
    const staging = path.join(sbx6.store, 'quarantine', '.staging-20260101T000000Z-0badc0de');
    fs.mkdirSync(staging, { recursive: true });
    fs.writeFileSync(path.join(staging, 'content'), EICAR);
    fs.writeFileSync(path.join(staging, 'intent.json'), JSON.stringify({
      id: '20260101T000000Z-0badc0de',
      verdict: { kind: 'infected', signature: 'Eicar-Test-Signature' },
      scannedSha256: sha256(EICAR),
      original: { path: { text: '/ws/x.com', b64: Buffer.from('/ws/x.com').toString('base64') }, relative: { text: 'x.com', b64: Buffer.from('x.com').toString('base64') }, workspace: '/ws', uid: 1000, gid: 1000, mode: '0644', mtime: null, nlink: 1 },
    }));
    fs.mkdirSync(path.join(sbx6.store, 'quarantine', '.staging-20260101T000001Z-00000000')); // empty: discarded
    const w6 = await startWarden(sbx6, clamd.tcp);
    try {
      const recs = records(sbx6.store);
      expect(recs).toHaveLength(1);
      expect(recs[0]).toMatchObject({ id: '20260101T000000Z-0badc0de', status: 'recovered', signature: 'Eicar-Test-Signature', sha256: sha256(EICAR), original: { relative: { text: 'x.com' } } });
      expect(fs.readdirSync(path.join(sbx6.store, 'quarantine')).filter((n) => n.startsWith('.'))).toEqual([]);
      expect(readAudit(sbx6.store).some((l) => l.event === 'quarantine-recovered')).toBe(true);
    } finally {
      await w6.warden.stop();
      sbx6.cleanup();
    }
  });

  test('health reports ok and the counters add up', async () => {
    await warden.whenIdle();
    const h = warden.health();
    expect(h.status).toBe('ok');
    expect(h.queue).toMatchObject({ pending: 0, inflight: 0, concurrency: 2 });
    const c = warden.counters;
    expect(c.quarantined).toBe(records(sbx.store).length);
    expect(c.auditErrors).toBe(0);
  });
});
