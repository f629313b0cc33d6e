// The capped stores' scripts (infra/model/stores.ts) run for real on this machine: a host
// directory with files in it is moved into an ext4 image of fixed size and mounted; the prisoner's
// uid then meets ENOSPC at the cap (a huge fallocate, a file flood, an inode flood), and the
// host's disk gives the image not one block more, while the same fallocate succeeds in a
// directory of the host's own disk; with
// the image unmounted (a reboot before `pulumi up`) nothing can be written there; applied again,
// everything is back. Needs root and loop devices: elsewhere the tests say why they do not apply.
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseReadOutput, renderApplyScript, renderReadScript, renderReleaseScript, STORE_ROOT, type CappedStore } from '../../infra/model/stores';

const DOCKER_HOST = 'unix:///var/run/docker.sock';
/** The prefix the scripts keep their scratch under (STORE_ROOT/<prefix>/.work); no stack of it exists. */
const PREFIX = 'cjstores-none';
const PRISONER = 1000;

function notApplicable(): string | null {
  if (process.getuid?.() !== 0) return 'not root: loop-mounting needs root';
  if (!fs.existsSync('/dev/loop-control')) return 'no /dev/loop-control: this host has no loop devices';
  for (const tool of ['mkfs.ext4', 'losetup', 'chattr', 'findmnt', 'setpriv', 'fallocate']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `no ${tool} on this host`;
  }
  return null;
}
const why = notApplicable();
const describeHere = why ? describe.skip : describe;
if (why) {
  // eslint-disable-next-line no-console
  console.warn(`capped stores (test/unit/stores.int.test.ts): NOT APPLICABLE here: ${why}`);
}

const sh = (script: string) => spawnSync('sh', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
/** Runs a shell command as the prisoner's uid, with no groups. */
const asPrisoner = (cmd: string) => spawnSync('setpriv', ['--reuid', String(PRISONER), '--regid', String(PRISONER), '--clear-groups', 'sh', '-c', cmd], { encoding: 'utf8' });

describeHere('capped stores on this machine', () => {
  let root: string;
  let store: CappedStore;
  let before: Map<string, string>;

  /** Every entry under dir: its type, mode, owner and, for a file, its sha256; a link, its target. */
  function tree(dir: string): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const name of fs.readdirSync(path.join(dir, rel))) {
        const p = path.join(rel, name);
        const st = fs.lstatSync(path.join(dir, p));
        const what = st.isSymbolicLink()
          ? `link ${fs.readlinkSync(path.join(dir, p))}`
          : st.isDirectory()
            ? 'dir'
            : `file ${crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, p))).digest('hex')}`;
        out.set(p, `${what} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk('');
    return out;
  }
  const read = () => parseReadOutput(sh(renderReadScript(DOCKER_HOST, [store])).stdout).workspace;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cjstores-'));
    fs.chmodSync(root, 0o755); // the prisoner's uid must reach the directory, as in /var/lib/docker/volumes
    const ws = path.join(root, 'ws');
    fs.mkdirSync(path.join(ws, 'deep', 'er'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'notes.txt'), 'what the agent wrote before the cap\n');
    fs.writeFileSync(path.join(ws, 'deep', 'er', 'data.bin'), crypto.randomBytes(300_000));
    fs.writeFileSync(path.join(ws, 'a name\nwith a newline'), 'odd\n');
    fs.symlinkSync('/etc/shadow', path.join(ws, 'deep', 'link'));
    spawnSync('chown', ['-R', '-h', `${PRISONER}:${PRISONER}`, ws]);
    fs.chmodSync(path.join(ws, 'notes.txt'), 0o600);
    before = tree(ws);
    store = { name: 'workspace', volume: null, hostPath: ws, image: path.join(root, 'images', 'workspace.img'), sizeMb: 64, inodes: 2048, owner: '1000:1000', mode: '0755' };
  });

  afterAll(() => {
    if (!root) return;
    sh(renderReleaseScript(DOCKER_HOST, [store]));
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(path.join(STORE_ROOT, PREFIX), { recursive: true, force: true });
  });

  it('refuses, touching nothing, a directory that holds more than the store can take', () => {
    const small = { ...store, sizeMb: 32, inodes: 1024, image: path.join(root, 'images', 'small.img') };
    const big = path.join(store.hostPath!, 'big.bin');
    fs.writeFileSync(big, crypto.randomBytes(40 * 1024 * 1024));
    try {
      const r = sh(renderApplyScript(DOCKER_HOST, PREFIX, [small]));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/more than the capped store of 32 MiB can take/);
      expect(fs.existsSync(small.image)).toBe(false);
      expect(read()).toEqual({ state: 'uncapped' });
    } finally {
      fs.rmSync(big);
    }
    expect(tree(store.hostPath!)).toEqual(before);
  });

  it('moves what the directory holds into the image, unchanged, and mounts it', () => {
    const r = sh(renderApplyScript(DOCKER_HOST, PREFIX, [store]));
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(read()).toEqual({ state: 'capped', image: store.image, sizeMb: 64, inodes: 2048 });
    expect(tree(store.hostPath!)).toEqual(before);
    // applied again: nothing to do, nothing changed
    expect(sh(renderApplyScript(DOCKER_HOST, PREFIX, [store])).status).toBe(0);
    expect(tree(store.hostPath!)).toEqual(before);
  });

  it('stops a huge fallocate, a file flood and an inode flood at the cap, while the host keeps its free space', () => {
    const ws = store.hostPath!;
    const host = path.join(root, 'host-control');
    fs.mkdirSync(host, { mode: 0o777 });
    fs.chmodSync(host, 0o777);
    // What the host's disk gives the store: the image's allocated blocks, reserved when it was
    // made. (The disk's free space as a whole moves with whatever else runs on this machine.)
    const allocated = () => fs.statSync(store.image).blocks;
    const blocks0 = allocated();
    expect(blocks0 * 512).toBeGreaterThanOrEqual(64 * 1024 * 1024);

    const big = asPrisoner(`fallocate -l 100M ${ws}/big`);
    expect(big.status).not.toBe(0);
    expect(big.stderr).toMatch(/No space left on device/);
    asPrisoner(`rm -f ${ws}/big`);

    const files = asPrisoner(`i=0; while head -c 1048576 /dev/zero > ${ws}/f$i 2>/dev/null; do i=$((i+1)); done; echo $i`);
    const n = Number(files.stdout.trim());
    expect(n).toBeGreaterThan(10); // it wrote up to the cap...
    expect(n).toBeLessThanOrEqual(64); // ...and no further
    asPrisoner(`rm -f ${ws}/f*`);

    // true, not the special builtin ':', whose failed redirection would end the shell
    const inodes = asPrisoner(`mkdir ${ws}/flood && i=0; while true > ${ws}/flood/e$i 2>/dev/null; do i=$((i+1)); done; echo $i; true > ${ws}/flood/one-more 2>/dev/null || echo refused`);
    const [count, refused] = inodes.stdout.trim().split('\n');
    expect(Number(count)).toBeGreaterThan(1000);
    expect(Number(count)).toBeLessThanOrEqual(2048);
    expect(refused).toBe('refused');
    asPrisoner(`rm -rf ${ws}/flood`);

    // the host's disk gave nothing more to any of it
    expect(allocated()).toBe(blocks0);
    expect(tree(ws)).toEqual(before);
    // control: on the host's own disk the same fallocate goes through, and takes the space
    const control = asPrisoner(`fallocate -l 100M ${host}/big && echo ok`);
    expect(control.stdout.trim()).toBe('ok');
    expect(fs.statSync(path.join(host, 'big')).blocks * 512).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    fs.rmSync(path.join(host, 'big'));
  });

  it('fails closed when the image is not mounted, and is whole again when applied', () => {
    const ws = store.hostPath!;
    expect(sh(`umount '${ws}'`).status).toBe(0);
    expect(read()).toEqual({ state: 'uncapped' });
    // nothing can be written in the bare directory: not by the prisoner, not even by root
    expect(asPrisoner(`true > ${ws}/x && echo written`).stdout).not.toContain('written');
    expect(sh(`true > '${ws}/x' && echo written`).stdout).not.toContain('written');
    expect(sh(renderApplyScript(DOCKER_HOST, PREFIX, [store])).status).toBe(0);
    expect(read()).toMatchObject({ state: 'capped' });
    expect(tree(ws)).toEqual(before);
  });

  it('refuses to change the size of a store in place, and leaves it as it was', () => {
    const r = sh(renderApplyScript(DOCKER_HOST, PREFIX, [{ ...store, sizeMb: 128 }]));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/holds 64 MiB, the stack asks for 128 MiB; a capped store is not resized in place/);
    expect(read()).toMatchObject({ state: 'capped', sizeMb: 64 });
    expect(tree(store.hostPath!)).toEqual(before);
  });

  it('refuses a directory mounted from something else', () => {
    const other = { ...store, image: path.join(root, 'images', 'other.img') };
    const r = sh(renderApplyScript(DOCKER_HOST, PREFIX, [other]));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is a mount point, but not of/);
  });
});
