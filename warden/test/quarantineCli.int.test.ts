// `clawjail quarantine list | show | restore | purge` over a store filled by a real warden.

import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { run } from '../../cli/commands/quarantine';
import { ClamdInstance, EICAR, startClamd } from './clamdHarness';
import { Sandbox, exists, readAudit, recordFor, startWarden, tombstoneOf, waitFor } from './helpers';

jest.setTimeout(60000);

function io(opts: { tty?: boolean; input?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (opts.tty) stdin.isTTY = true;
  if (opts.input !== undefined) stdin.end(opts.input);
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, stdin },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('clawjail quarantine (CLI)', () => {
  let clamd: ClamdInstance;
  let sbx: Sandbox;
  const ids: Record<string, string> = {};
  let a: string, b: string, c: Buffer;

  beforeAll(async () => {
    clamd = await startClamd();
    sbx = new Sandbox();
    const { warden } = await startWarden(sbx, clamd.tcp);
    try {
      a = sbx.p('alpha.com');
      b = sbx.p('sub dir', 'beta.exe');
      c = sbx.pb([], Buffer.from('gamma\xff.bin', 'latin1'));
      fs.mkdirSync(path.dirname(b));
      fs.writeFileSync(a, EICAR, { mode: 0o750 });
      fs.writeFileSync(b, EICAR);
      fs.writeFileSync(c, EICAR);
      await waitFor(() => [a, b].every((p) => exists(tombstoneOf(p))) && exists(tombstoneOf(c)) && [a, b].every((p) => !!recordFor(sbx.store, p)) && !!recordFor(sbx.store, c), 20000, 'three quarantines');
    } finally {
      await warden.stop();
    }
    ids.a = recordFor(sbx.store, a)!.id;
    ids.b = recordFor(sbx.store, b)!.id;
    ids.c = recordFor(sbx.store, c)!.id;
  });
  afterAll(async () => {
    await clamd?.destroy();
    sbx?.cleanup();
  });

  const auditEvents = () => readAudit(sbx.store).filter((l) => l.actor === 'cli').map((l) => l.event);

  test('--help, usage errors, and a store is required', async () => {
    let t = io();
    expect(await run(['--help'], t.io)).toBe(0);
    expect(t.out()).toMatch(/list[\s\S]*show ID[\s\S]*restore ID[\s\S]*purge ID/);
    t = io();
    const noStack = { resolveStackQuarantine: () => Promise.reject(new Error('stack dev has no volume clawjail-quarantine')) };
    expect(await run(['list'], t.io, {}, noStack)).toBe(2);
    expect(t.err()).toMatch(/no quarantine store: stack dev has no volume clawjail-quarantine; pass --store DIR, --stack NAME or set CLAWJAIL_QUARANTINE/);
    t = io();
    expect(await run(['list', '--store', sbx.store, '--stack', 'dev'], t.io, {})).toBe(2);
    expect(t.err()).toMatch(/--store and --stack name the store twice/);
    t = io();
    expect(await run(['frobnicate', '--store', sbx.store], t.io, {})).toBe(2);
    t = io();
    expect(await run(['show', '--store', sbx.store], t.io, {})).toBe(2);
    t = io();
    expect(await run(['show', '../../etc', '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/not a quarantine id/);
  });

  test('the names of earlier versions are refused with the new ones, not ignored', async () => {
    for (const argv of [['list', '--jail', sbx.store], ['list', `--jail=${sbx.store}`]]) {
      const t = io();
      expect(await run(argv, t.io, {})).toBe(2);
      expect(t.err()).toMatch(/--jail was renamed --store/);
    }
    const t = io();
    expect(await run(['list'], t.io, { CLAWJAIL_JAIL: sbx.store })).toBe(2);
    expect(t.err()).toMatch(/CLAWJAIL_JAIL was renamed CLAWJAIL_QUARANTINE/);
  });

  test('--stack finds the stack\'s store, and its workspace becomes the default for restore', async () => {
    const asked: [string, string | undefined][] = [];
    const deps = {
      resolveStackQuarantine: async (stack: string, cwd?: string) => {
        asked.push([stack, cwd]);
        return { store: sbx.store, workspace: '/nowhere/workspace' };
      },
    };
    let t = io();
    expect(await run(['list', '--stack', 'e2e', '--cwd', '/some/dir'], t.io, { CLAWJAIL_QUARANTINE: '/not/this' }, deps)).toBe(0);
    expect(t.out()).toContain(ids.a);
    // With neither --store nor --stack nor CLAWJAIL_QUARANTINE: the dev stack.
    t = io();
    expect(await run(['list', '--json'], t.io, {}, deps)).toBe(0);
    expect(asked).toEqual([['e2e', '/some/dir'], ['dev', undefined]]);
    // restore without --to goes to the stack's workspace, which does not exist here: refused, not written elsewhere
    t = io();
    expect(await run(['restore', ids.a, '--stack', 'e2e', '--yes'], t.io, {}, deps)).toBe(1);
    expect(t.err()).toContain('/nowhere/workspace');
  });

  test('list shows every entry; CLAWJAIL_QUARANTINE works too', async () => {
    const t = io();
    expect(await run(['list'], t.io, { CLAWJAIL_QUARANTINE: sbx.store })).toBe(0);
    for (const id of Object.values(ids)) expect(t.out()).toContain(id);
    expect(t.out()).toContain('sub dir/beta.exe');
    expect(t.out()).toContain('gamma\\xff.bin');
    const j = io();
    expect(await run(['list', '--json', '--store', sbx.store], j.io, {})).toBe(0);
    expect(JSON.parse(j.out())).toHaveLength(3);
    expect(auditEvents()).toContain('cli-list');
  });

  test('show prints the record and verifies the content; tampering is reported', async () => {
    let t = io();
    expect(await run(['show', ids.b, '--store', sbx.store], t.io, {})).toBe(0);
    expect(t.out()).toMatch(/Eicar-Test-Signature/);
    expect(t.out()).toMatch(/content check: ok/);
    const content = path.join(sbx.store, 'quarantine', ids.b, 'content');
    fs.chmodSync(content, 0o600);
    fs.appendFileSync(content, 'x');
    t = io();
    expect(await run(['show', ids.b, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.out()).toMatch(/content check: MISMATCH/);
    expect(auditEvents()).toContain('cli-show');
    // Tampered content is not restored anywhere: the store is the warden's, and it was changed.
    const to = path.join(sbx.base, 'tampered-beta.exe');
    t = io();
    expect(await run(['restore', ids.b, '--yes', '--to', to, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/does not match its record .*refusing to restore it/);
    expect(exists(to)).toBe(false);
    expect(fs.readdirSync(sbx.base).filter((n) => n.startsWith('.clawjail-restore'))).toEqual([]);
    fs.truncateSync(content, EICAR.length); // as it was, for the tests below
  });

  test('restore needs a place: --to or a workspace, never the path the record names', async () => {
    const t = io();
    expect(await run(['restore', ids.a, '--yes', '--store', sbx.store], t.io, {})).toBe(2);
    expect(t.err()).toMatch(/restore needs --to PATH, or --workspace DIR/);
    expect(exists(a)).toBe(false);
  });

  test('restore needs --yes when stdin is not a terminal', async () => {
    const t = io();
    expect(await run(['restore', ids.a, '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(2);
    expect(t.err()).toMatch(/pass --yes/);
    expect(exists(a)).toBe(false);
    expect(auditEvents()).toContain('restore-declined');
  });

  test('restore asks on a terminal: "n" declines, "y" restores with the original mode and removes the tombstone', async () => {
    let t = io({ tty: true, input: 'n\n' });
    expect(await run(['restore', ids.a, '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.out()).toMatch(/Restore INFECTED \(Eicar-Test-Signature.UNOFFICIAL\)/);
    expect(exists(a)).toBe(false);
    t = io({ tty: true, input: 'y\n' });
    expect(await run(['restore', ids.a, '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(0);
    expect(fs.readFileSync(a).equals(EICAR)).toBe(true);
    expect(fs.statSync(a).mode & 0o777).toBe(0o750);
    expect(exists(tombstoneOf(a))).toBe(false);
    expect(exists(path.join(sbx.store, 'quarantine', ids.a, 'content'))).toBe(true); // kept until purged
    expect(readAudit(sbx.store).find((l) => l.event === 'restore' && l.id === ids.a)).toMatchObject({ actor: 'cli', tombstoneRemoved: true });
  });

  test('restore never overwrites', async () => {
    const t = io();
    expect(await run(['restore', ids.a, '--yes', '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/refusing to overwrite/);
    expect(auditEvents()).toContain('restore-refused');
  });

  test('restore to exact non-UTF-8 bytes, and --to / --workspace', async () => {
    let t = io();
    expect(await run(['restore', ids.c, '--yes', '--workspace', sbx.ws, '--store', sbx.store], t.io, {})).toBe(0);
    expect(fs.readFileSync(c).equals(EICAR)).toBe(true);
    const elsewhere = path.join(sbx.base, 'restored-beta.exe');
    t = io();
    expect(await run(['restore', ids.b, '--yes', '--to', elsewhere, '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(elsewhere)).toBe(true);
    expect(fs.statSync(elsewhere).mode & 0o777).toBe(0o600); // a place of the operator's: private
    const mirror = path.join(sbx.base, 'mirror');
    fs.mkdirSync(path.join(mirror, 'sub dir'), { recursive: true });
    t = io();
    expect(await run(['restore', ids.b, '--yes', '--workspace', mirror, '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(path.join(mirror, 'sub dir', 'beta.exe'))).toBe(true);
  });

  test('restore into a workspace never follows the prisoner\'s symlinked directory out of it', async () => {
    // The prisoner swaps "sub dir" for a symlink to a directory outside the workspace (think /etc).
    const ws = path.join(sbx.base, 'ws-attacked');
    const outside = path.join(sbx.base, 'outside');
    fs.mkdirSync(ws);
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(ws, 'sub dir'));
    let t = io();
    expect(await run(['restore', ids.b, '--yes', '--workspace', ws, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/refusing to restore into .*a directory on the way is a symlink/);
    expect(fs.readdirSync(outside)).toEqual([]);
    // The same restore with a real directory there works: the check is not refusing everything.
    fs.unlinkSync(path.join(ws, 'sub dir'));
    fs.mkdirSync(path.join(ws, 'sub dir'));
    t = io();
    expect(await run(['restore', ids.b, '--yes', '--workspace', ws, '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(path.join(ws, 'sub dir', 'beta.exe'))).toBe(true);
    // A symlinked workspace root itself is fine: it is what the operator named.
    const alias = path.join(sbx.base, 'ws-alias');
    fs.symlinkSync(ws, alias);
    fs.unlinkSync(path.join(ws, 'sub dir', 'beta.exe'));
    t = io();
    expect(await run(['restore', ids.b, '--yes', '--workspace', alias, '--store', sbx.store], t.io, {})).toBe(0);
  });

  test('purge asks, then deletes for good, and says so in the audit log', async () => {
    let t = io();
    expect(await run(['purge', ids.b, '--store', sbx.store], t.io, {})).toBe(2);
    expect(exists(path.join(sbx.store, 'quarantine', ids.b))).toBe(true);
    t = io({ tty: true, input: 'yes\n' });
    expect(await run(['purge', ids.b, '--store', sbx.store], t.io, {})).toBe(0);
    expect(exists(path.join(sbx.store, 'quarantine', ids.b))).toBe(false);
    t = io();
    expect(await run(['show', ids.b, '--store', sbx.store], t.io, {})).toBe(1);
    expect(t.err()).toMatch(/no quarantine entry/);
    const p = readAudit(sbx.store).find((l) => l.event === 'purge' && l.id === ids.b)!;
    expect(p).toMatchObject({ actor: 'cli', signature: 'Eicar-Test-Signature.UNOFFICIAL', size: 68 });
    // the warden's own lines are still there, in order, before the CLI's
    const all = readAudit(sbx.store);
    expect(all[0].event).toBe('warden-start');
    expect(all.filter((l) => l.event === 'quarantined')).toHaveLength(3);
  });
});
