import { basenameOf, dirnameOf, isUtf8, isWithin, joinPath, pathFromRecord, printable, recordPath, relativeTo } from '../src/paths';
import { backoffMs, dispositionFor, isOpenClawTemp, quarantineId, QUARANTINE_ID, TempDeferral, tombstoneName, tombstoneText, TOMBSTONE_HEADER } from '../src/policy';

const B = (s: string) => Buffer.from(s, 'latin1');

describe('byte paths', () => {
  test('join, basename, dirname on bytes', () => {
    const p = joinPath(B('/ws/dir'), B('a\xffb'));
    expect(p.equals(B('/ws/dir/a\xffb'))).toBe(true);
    expect(basenameOf(p).equals(B('a\xffb'))).toBe(true);
    expect(dirnameOf(p).equals(B('/ws/dir'))).toBe(true);
    expect(joinPath(B('/'), 'x').toString()).toBe('/x');
    expect(dirnameOf(B('/x')).toString()).toBe('/');
  });

  test('containment compares whole components', () => {
    expect(isWithin(B('/ws'), B('/ws/a'))).toBe(true);
    expect(isWithin(B('/ws'), B('/ws'))).toBe(true);
    expect(isWithin(B('/ws'), B('/ws2/a'))).toBe(false);
    expect(isWithin(B('/ws'), B('/w'))).toBe(false);
    expect(relativeTo(B('/ws'), B('/ws/a/b')).toString()).toBe('a/b');
  });

  test('utf-8 detection', () => {
    expect(isUtf8(Buffer.from('héllo wörld ✓'))).toBe(true);
    expect(isUtf8(B('bad\xff'))).toBe(false);
    expect(isUtf8(B('\xc3\x28'))).toBe(false);
  });

  test('printable form is one line, lossless and unambiguous', () => {
    expect(printable(Buffer.from('with space.txt'))).toBe('with space.txt');
    expect(printable(Buffer.from('new\nline'))).toBe('new\\nline');
    expect(printable(Buffer.from('tab\tand\\slash'))).toBe('tab\\tand\\\\slash');
    expect(printable(B('bad\xff\xfe.bin'))).toBe('bad\\xff\\xfe.bin');
    expect(printable(Buffer.from('日本語'))).toBe('日本語');
    expect(printable(B('\xc3\x28'))).toBe('\\xc3(');
    expect(printable(Buffer.from('\u2028'))).toBe('\\xe2\\x80\\xa8');
    // a literal "\xff" typed as text differs from the byte 0xff
    expect(printable(Buffer.from('\\xff'))).not.toBe(printable(B('\xff')));
  });

  test('records keep the exact bytes', () => {
    const raw = B('/ws/odd \n\xff\x01name');
    const r = recordPath(raw);
    expect(pathFromRecord(r).equals(raw)).toBe(true);
    expect(r.text).toBe('/ws/odd \\n\\xff\\x01name');
    expect(JSON.parse(JSON.stringify(r)).b64).toBe(raw.toString('base64'));
  });
});

describe('policy', () => {
  test('only the exact OpenClaw temp shape may be deferred', () => {
    expect(isOpenClawTemp(B('.fs-safe-replace.1234.3f2a9c1e-7b1d-4c55-9a0e-0123456789ab.tmp'))).toBe(true);
    expect(isOpenClawTemp(B('evil.tmp'))).toBe(false);
    expect(isOpenClawTemp(B('.fs-safe-replace.tmp'))).toBe(false);
    expect(isOpenClawTemp(B('.fs-safe-replace.x.y.tmp'))).toBe(false);
    expect(isOpenClawTemp(B('.fs-safe-replace.1.a.tmp.exe'))).toBe(false);
    expect(isOpenClawTemp(B('x.fs-safe-replace.1.a.tmp'))).toBe(false);
    expect(isOpenClawTemp(B('.fs-safe-replace.1.a\xff.tmp'))).toBe(false);
    expect(isOpenClawTemp(B('.fs-safe-replace.1.a\n.tmp'))).toBe(false);
  });

  test('deferral is counted from first sight, for temp files only', () => {
    const d = new TempDeferral(2000);
    d.sight(B('.fs-safe-replace.1.abc.tmp'), 1000);
    expect(d.notBefore(B('.fs-safe-replace.1.abc.tmp'), 1000)).toBe(3000);
    expect(d.notBefore(B('evil.tmp'), 1000)).toBe(0);
    expect(new TempDeferral(0).notBefore(B('.fs-safe-replace.1.abc.tmp'), 1000)).toBe(0);
  });

  test('a run of temp files kept alive by renames or copies gets one grace period in all', () => {
    const T = (i: number) => B(`.fs-safe-replace.${i}.abc.tmp`);
    const d = new TempDeferral(2000);
    // The payload hops to a fresh temp name every 1.5 s, each first seen when it appears.
    for (let i = 0; i < 10; i++) d.sight(T(i), 1000 + i * 1500);
    // The tenth is young (first seen at 14500) but the run began at 1000: scan it now.
    expect(d.notBefore(T(9), 14500)).toBe(3000);
    // After a quiet gap of a grace period, OpenClaw's next atomic write gets its deferral again.
    d.sight(T(20), 20000);
    expect(d.notBefore(T(20), 20000)).toBe(22000);
    // Sightings closer together than the grace continue the run, wherever they are.
    d.sight(B('.fs-safe-replace.7.other-dir-name.tmp'), 21900);
    expect(d.notBefore(B('.fs-safe-replace.7.other-dir-name.tmp'), 21900)).toBe(22000);
  });

  test('dispositions: fail-closed by default', () => {
    expect(dispositionFor({ kind: 'clean' }, 'quarantine')).toEqual({ action: 'clean' });
    expect(dispositionFor({ kind: 'infected', signature: 'X' }, 'allow')).toEqual({ action: 'quarantine', because: 'infected' });
    const u = { kind: 'unscannable' as const, reason: 'size-limit' as const, detail: '' };
    expect(dispositionFor(u, 'quarantine')).toEqual({ action: 'quarantine', because: 'unscannable' });
    expect(dispositionFor(u, 'allow')).toEqual({ action: 'allow-with-alert' });
  });

  test('backoff doubles and caps', () => {
    expect([0, 1, 2, 3, 10, 100].map((a) => backoffMs(a, 250, 10000))).toEqual([250, 500, 1000, 2000, 10000, 10000]);
  });

  test('tombstone names stay within NAME_MAX and can be disambiguated', () => {
    expect(tombstoneName(B('evil.exe'), 'ID').toString()).toBe('evil.exe.quarantined.txt');
    expect(tombstoneName(B('evil.exe'), 'ID', 1).toString()).toBe('evil.exe.ID.quarantined.txt');
    expect(tombstoneName(B('evil.exe'), 'ID', 2).toString()).toBe('evil.exe.ID-2.quarantined.txt');
    const long = Buffer.alloc(250, 0x61);
    const t = tombstoneName(long, '20260101T000000Z-abcdef01');
    expect(t.length).toBeLessThanOrEqual(255);
    expect(t.toString().endsWith('.20260101T000000Z-abcdef01.quarantined.txt')).toBe(true);
  });

  test('tombstone text says what happened in plain words', () => {
    const t = tombstoneText({ name: 'evil.exe', id: 'Q1', reason: 'malware detected (Eicar-Test-Signature)', sha256: 'ab', size: 68, time: 'T' });
    expect(t.startsWith(TOMBSTONE_HEADER)).toBe(true);
    expect(t).toContain('"evil.exe"');
    expect(t).toContain('contained malware (Eicar-Test-Signature)');
    expect(t).toContain('It was not deleted');
    expect(t).toContain('Q1');
    const u = tombstoneText({ name: 'big.bin', id: 'Q2', reason: 'could not be scanned (too-large: x)', sha256: null, size: 9, time: 'T' });
    expect(u).toContain('because it could not be scanned');
  });

  test('quarantine ids sort by time and match the id pattern', () => {
    const a = quarantineId(new Date('2026-01-02T03:04:05.678Z'), Buffer.from('a1b2c3d4', 'hex'));
    expect(a).toBe('20260102T030405Z-a1b2c3d4');
    expect(QUARANTINE_ID.test(a)).toBe(true);
    expect(QUARANTINE_ID.test('../../etc')).toBe(false);
  });
});
