// `clawjail quarantine` runs as root over a store that the warden (the prisoner's uid) owns. Here
// the store is forged, as a compromised warden would forge it, and every trick must fail while the
// same operation on an honest entry works.
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { spawn } from 'child_process';
import { run } from '../../cli/commands/quarantine';
import { recordPath } from '../src/paths';
import { Sandbox, exists } from './helpers';

jest.setTimeout(30000);

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, stdin },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

let n = 0;
/** Writes a quarantine entry by hand: what the warden writes, or what a compromised one could. */
function forge(store: string, opts: { relative?: Buffer; path?: Buffer; text?: string; content?: Buffer; uid?: number; mode?: string; extra?: Record<string, unknown> } = {}): string {
  const id = `20260102T030405Z-${(0xabc00000 + n++).toString(16)}`;
  const dir = path.join(store, 'quarantine', id);
  fs.mkdirSync(dir, { recursive: true });
  const relative = opts.relative ?? Buffer.from(`notes/file-${n}.txt`);
  const rp = recordPath(opts.path ?? Buffer.concat([Buffer.from('/workspace/'), relative]));
  if (opts.text) rp.text = opts.text;
  const rec = {
    version: 1, id, time: new Date().toISOString(), status: 'quarantined', verdict: 'infected', signature: 'Forged', reason: 'forged',
    original: { path: rp, relative: recordPath(relative), workspace: '/workspace', uid: opts.uid ?? 1000, gid: opts.uid ?? 1000, mode: opts.mode ?? '0644', mtime: null, nlink: 1 },
    sha256: null, size: (opts.content ?? Buffer.from('payload\n')).length, scannedSha256: null, method: 'copy', tombstone: null, notes: [],
    ...opts.extra,
  };
  fs.writeFileSync(path.join(dir, 'content'), opts.content ?? Buffer.from('payload\n'));
  fs.writeFileSync(path.join(dir, 'record.json'), JSON.stringify(rec));
  return id;
}

describe('a forged store cannot turn the root CLI against the host', () => {
  let sbx: Sandbox;
  let outside: string;

  beforeEach(() => {
    sbx = new Sandbox();
    outside = path.join(sbx.base, 'host-etc');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'shadow'), 'host secret\n');
    fs.mkdirSync(path.join(sbx.ws, 'notes'));
  });
  afterEach(() => sbx.cleanup());

  test('a record cannot choose where restore writes: relative paths that climb or are absolute are refused', async () => {
    for (const rel of ['../host-etc/cron', '/etc/cron.d/x', 'notes/../../host-etc/x', 'notes//x', '']) {
      const id = forge(sbx.store, { relative: Buffer.from(rel) });
      const t = io();
      expect(await run(['restore', id, '--yes', '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(1);
      expect(t.err()).toMatch(/not a plain path inside the workspace/);
    }
    expect(fs.readdirSync(outside)).toEqual(['shadow']);
    // The honest entry restores, owned by the workspace's owner, not by the uid the record names.
    const ok = forge(sbx.store, { uid: 0, mode: '4755' });
    const t = io();
    expect(await run(['restore', ok, '--yes', '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(0);
    const restored = path.join(sbx.ws, 'notes', `file-${n}.txt`);
    expect(fs.readFileSync(restored, 'utf8')).toBe('payload\n');
    expect(fs.statSync(restored).mode & 0o7777).toBe(0o755); // no setuid, whatever the record says
    expect(fs.statSync(restored).uid).toBe(fs.statSync(sbx.ws).uid);
  });

  test('list and show print the path restore would use, not the record\'s own text', async () => {
    const id = forge(sbx.store, { relative: Buffer.from('notes/evil.sh'), text: '/workspace/notes/harmless.pdf' });
    let t = io();
    expect(await run(['show', id, '--store', sbx.store], t.io, {})).toBe(0);
    expect(t.out()).toContain('/workspace/notes/evil.sh');
    expect(t.out()).not.toContain('harmless.pdf');
    t = io();
    expect(await run(['purge', id, '--yes', '--store', sbx.store], t.io, {})).toBe(0);
    expect(t.out()).not.toContain('harmless.pdf');
  });

  test('an entry that is a symlink is neither read nor purged through', async () => {
    // The "entry" points at a host directory holding files with the entry's names.
    fs.writeFileSync(path.join(outside, 'record.json'), fs.readFileSync(path.join(sbx.store, 'quarantine', forge(sbx.store), 'record.json')));
    fs.writeFileSync(path.join(outside, 'content'), 'host file\n');
    const id = '20260102T030405Z-deadbeef';
    fs.symlinkSync(outside, path.join(sbx.store, 'quarantine', id));
    let t = io();
    expect(await run(['show', id, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/not a directory \(a symlink\?\)/);
    t = io();
    expect(await run(['purge', id, '--yes', '--store', sbx.store], t.io, {})).toBe(1);
    expect(fs.readdirSync(outside).sort()).toEqual(['content', 'record.json', 'shadow']);
  });

  test('purge removes what is in the entry and nothing its symlinks point to', async () => {
    const id = forge(sbx.store);
    const entry = path.join(sbx.store, 'quarantine', id);
    fs.symlinkSync(path.join(outside, 'shadow'), path.join(entry, 'link-to-file'));
    fs.symlinkSync(outside, path.join(entry, 'link-to-dir'));
    fs.mkdirSync(path.join(entry, 'sub'));
    fs.symlinkSync(outside, path.join(entry, 'sub', 'deeper'));
    const t = io();
    expect(await run(['purge', id, '--yes', '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(entry)).toBe(false);
    expect(fs.readdirSync(path.join(sbx.store, 'quarantine')).filter((x) => x.includes(id))).toEqual([]);
    expect(fs.readFileSync(path.join(outside, 'shadow'), 'utf8')).toBe('host secret\n');
  });

  test('a symlinked record or content file is refused', async () => {
    const id = forge(sbx.store);
    const entry = path.join(sbx.store, 'quarantine', id);
    fs.rmSync(path.join(entry, 'content'));
    fs.symlinkSync(path.join(outside, 'shadow'), path.join(entry, 'content'));
    const to = path.join(sbx.base, 'exfil');
    const t = io();
    expect(await run(['restore', id, '--yes', '--to', to, '--store', sbx.store], t.io, {})).not.toBe(0);
    expect(exists(to)).toBe(false);
  });

  test('an audit log that is a FIFO is refused at once, not waited on; a new one goes to the store\'s owner', async () => {
    fs.chownSync(sbx.store, 1000, 1000);
    const t = io();
    expect(await run(['list', '--store', sbx.store], t.io, {})).toBe(0);
    const st = fs.statSync(path.join(sbx.store, 'audit.log'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    fs.rmSync(path.join(sbx.store, 'audit.log'));
    await new Promise<void>((resolve, reject) => {
      const p = spawn('mkfifo', [path.join(sbx.store, 'audit.log')]);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`))));
    });
    const started = Date.now();
    await expect(run(['list', '--store', sbx.store], io().io, {})).rejects.toThrow(/not a regular file/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a record\'s text cannot drive the operator\'s terminal, and a record must name its own entry', async () => {
    const ESC = '\u001b';
    const id = forge(sbx.store, { extra: { signature: `${ESC}]0;PWNED\u0007${ESC}[2K\rfake`, reason: `${ESC}[31mred`, notes: [`${ESC}[1A`] } });
    let t = io();
    expect(await run(['list', '--store', sbx.store], t.io, {})).toBe(0);
    expect(t.out()).toContain(id);
    expect(t.out()).not.toContain(ESC);
    t = io();
    await run(['show', id, '--store', sbx.store], t.io, {});
    expect(t.out()).not.toContain(ESC);
    expect(t.out()).toContain('\\x1b]0;PWNED');
    // Another entry's id, or a field of the wrong kind: refused, not printed.
    const other = forge(sbx.store, { extra: { id: '20260102T030405Z-00000000' } });
    t = io();
    expect(await run(['show', other, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/malformed \(id: not the name of its directory\)/);
    const notes = forge(sbx.store, { extra: { notes: 'not a list' } });
    t = io();
    expect(await run(['show', notes, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/malformed \(notes\)/);
  });

  test('an audit.log hard-linked to another file is neither written nor handed over', async () => {
    const victim = path.join(outside, 'root-owned');
    fs.writeFileSync(victim, 'root data\n', { mode: 0o666 });
    fs.chownSync(sbx.store, 1000, 1000);
    fs.linkSync(victim, path.join(sbx.store, 'audit.log'));
    await expect(run(['list', '--store', sbx.store], io().io, {})).rejects.toThrow(/not the quarantine store's own audit log \(links 2/);
    expect(fs.statSync(victim).uid).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('root data\n');
  });

  test('content that is a hard link, or more than its record says, is not restored', async () => {
    const secret = path.join(outside, 'root-only');
    fs.writeFileSync(secret, 'host secret\n', { mode: 0o600 });
    const linked = forge(sbx.store, { content: Buffer.from('host secret\n') });
    const content = path.join(sbx.store, 'quarantine', linked, 'content');
    fs.rmSync(content);
    fs.linkSync(secret, content);
    let t = io();
    expect(await run(['restore', linked, '--yes', '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/not the warden's own file \(links 2/);
    // A sparse giant behind a small record: refused after at most the record's size.
    const big = forge(sbx.store);
    const bigContent = path.join(sbx.store, 'quarantine', big, 'content');
    fs.truncateSync(bigContent, 1024 ** 3);
    t = io();
    expect(await run(['restore', big, '--yes', '--to', path.join(sbx.base, 'big'), '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/does not match its record/);
    expect(exists(path.join(sbx.base, 'big'))).toBe(false);
    expect(fs.readdirSync(sbx.ws, { recursive: true }).map(String)).toEqual(['notes']);
  });

  test('purge copes with any name inside an entry, and refuses a tree the warden never writes', async () => {
    const odd = forge(sbx.store);
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(sbx.store, 'quarantine', odd) + '/'), Buffer.from([0x66, 0xff, 0x0a])]), 'x');
    let t = io();
    expect(await run(['purge', odd, '--yes', '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(path.join(sbx.store, 'quarantine', odd))).toBe(false);
    const deep = forge(sbx.store);
    let d = path.join(sbx.store, 'quarantine', deep);
    for (let i = 0; i < 20; i++) fs.mkdirSync((d = path.join(d, 'd')));
    t = io();
    expect(await run(['purge', deep, '--yes', '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/nested deeper than the warden ever writes/);
    // Left where list shows it, not hidden under a .purging- name.
    t = io();
    expect(await run(['list', '--store', sbx.store], t.io, {})).toBe(0);
    expect(t.out()).toContain(deep);
    expect(exists(path.join(sbx.store, 'quarantine', deep, 'content'))).toBe(true);
  });
});
