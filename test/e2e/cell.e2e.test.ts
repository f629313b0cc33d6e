// The Cell on the real Docker engine, attacked from inside by the prisoner. Every attack must
// fail in the cell and, to prove the probe can tell, succeed in a deliberately weak control
// container built from the same image.
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { compileProbe, parseProbeOutput, type ProbeResult } from './probe';
import { testJail, type TestJail } from './testJail';

const run = promisify(execFile);
jest.setTimeout(10 * 60_000);

const PROBE = '/workspace/.cellprobe';
let jail: TestJail;
let cellName: string;
let controlName: string;

const docker = (...args: string[]) => jail.deployment.docker(...args);

async function probeIn(container: string, path: string, ...args: string[]): Promise<ProbeResult[]> {
  const r = await jail.deployment.exec(container, [path, ...args], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`probe ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return parseProbeOutput(r.stdout);
}
const inCell = (...args: string[]) => probeIn(cellName, PROBE, ...args);
const inControl = (...args: string[]) => probeIn(controlName, '/tmp/cellprobe', ...args);

/**
 * Whether this kernel has the 32-bit syscall entry (int $0x80) at all: the same probe, run on the
 * host itself (the engine is this machine's; the tests read its cgroups too). Some VMs build or
 * boot the kernel without it (CONFIG_IA32_EMULATION, ia32_emulation=0); int $0x80 then segfaults
 * even here, and no control can show the attack working. Runs as the file loads, so that the
 * test's own name can say so.
 */
function hostCompat32(): { works: true } | { works: false; reason: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-hostprobe-'));
  let line: ProbeResult | undefined;
  try {
    const bin = path.join(dir, 'cellprobe');
    fs.writeFileSync(bin, compileProbe(), { mode: 0o700 });
    line = parseProbeOutput(execFileSync(bin, ['compat32'], { encoding: 'utf8', timeout: 30_000 })).find((r) => r.attack === 'compat32');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!line) throw new Error('the probe printed no compat32 line on the host');
  if (line.ok) return { works: true };
  const how = line.signal ? `killed by SIG${line.signal}` : line.errno ? `failed with ${line.errno}` : `failed (${JSON.stringify(line)})`;
  const hints: string[] = [];
  const cmdline = fs.readFileSync('/proc/cmdline', 'utf8');
  const boot = /\bia32_emulation=\S+/.exec(cmdline)?.[0];
  if (boot) hints.push(`booted with ${boot}`);
  const release = os.release();
  try {
    if (/^# CONFIG_IA32_EMULATION is not set/m.test(fs.readFileSync(`/boot/config-${release}`, 'utf8'))) hints.push('built without CONFIG_IA32_EMULATION');
  } catch {
    /* no config to read */
  }
  return { works: false, reason: `int $0x80 getpid on the host itself, outside any container, was ${how} (kernel ${release}${hints.length ? `, ${hints.join(', ')}` : ''})` };
}
const compat32 = hostCompat32();

/**
 * Which socket families (and netlink protocols) this kernel opens outside any filter: the probe's
 * `families` attempts, run on the host itself as root and as nobody. Only a family that opens
 * somewhere can prove the probe detects it; one this kernel lacks (EAFNOSUPPORT even as root: not
 * built in, no module) is not applicable here, and the test's name says so. Creating a socket is
 * all the probe does (closed at once, nothing bound or sent); on a kernel with loadable modules,
 * the attempts may autoload a family's module, as any process's socket() may.
 */
type FamilyClass = { kind: 'unprivileged' } | { kind: 'root' } | { kind: 'absent'; reason: string };
function hostFamilies(): Map<string, FamilyClass> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-hostfamilies-'));
  try {
    fs.chmodSync(dir, 0o755);
    const bin = path.join(dir, 'cellprobe');
    fs.writeFileSync(bin, compileProbe(), { mode: 0o755 });
    const probe = (uid?: number) => parseProbeOutput(execFileSync(bin, ['families'], {
      encoding: 'utf8', timeout: 30_000, ...(uid === undefined ? {} : { uid, gid: uid }),
    }));
    const root = probe();
    const nobody = new Map(probe(65534).map((r) => [r.attack, r]));
    const classes = new Map<string, FamilyClass>();
    for (const r of root) {
      if (nobody.get(r.attack)?.ok) classes.set(r.attack, { kind: 'unprivileged' });
      else if (r.ok) classes.set(r.attack, { kind: 'root' });
      else {
        const errnos = [...new Set(Object.values(r.tries as Record<string, string>))];
        const why = errnos.length === 1 && errnos[0] === 'EAFNOSUPPORT'
          ? 'this kernel has no such family'
          : errnos.every((e) => e === 'EPROTONOSUPPORT') ? 'this kernel has no such protocol' : 'no try opened one';
        classes.set(r.attack, { kind: 'absent', reason: `${why}: ${r.attack.startsWith('socketpair') ? 'socketpair()' : 'socket()'} on the host, as root, unconfined, failed with ${errnos.join('/')} (kernel ${os.release()})` });
      }
    }
    return classes;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const families = hostFamilies();

/** The cgroup v1 directory of a container, for the kernel's own view of its limits. */
async function cgroupFile(controller: string, file: string): Promise<string> {
  const id = await docker('inspect', '--format', '{{.Id}}', cellName);
  return fs.readFileSync(`/sys/fs/cgroup/${controller}/docker/${id}/${file}`, 'utf8').trim();
}

async function gatewayPid(): Promise<string> {
  const r = await jail.deployment.exec(cellName, [
    'sh', '-c',
    'for d in /proc/[0-9]*; do tr "\\0" " " < $d/cmdline 2>/dev/null | grep -q "^openclaw" && basename $d; done | sort -n | head -1',
  ]);
  const pid = r.stdout.trim();
  if (!/^\d+$/.test(pid)) throw new Error(`no OpenClaw gateway process in the cell: ${r.stdout} ${r.stderr}`);
  return pid;
}

beforeAll(async () => {
  jail = testJail();
  cellName = jail.container('cell').name;
  controlName = `${jail.config.namePrefix}-control`;
  await run('docker', ['rm', '-f', controlName]).catch(() => undefined);
  await jail.up();
  await jail.deployment.waitHealthy(cellName);

  const probe = compileProbe();
  const put = await jail.deployment.exec(cellName, ['sh', '-c', `cat > ${PROBE} && chmod 700 ${PROBE}`], { input: probe });
  if (put.code !== 0) throw new Error(`cannot drop the probe into the workspace: ${put.stderr}`);

  // The control: same image, but root with every capability (bar one dockerd itself lacks
  // here, which is why --privileged fails on this host), no seccomp, writable root, no network.
  await docker(
    'run', '-d', '--name', controlName, '--network', 'none', '--ipc', 'private', '--user', '0:0',
    '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
    '--security-opt', 'seccomp=unconfined', '--security-opt', 'systempaths=unconfined',
    '-v', '/var/run/docker.sock:/var/run/docker.sock:ro',
    '--entrypoint', 'sleep', jail.container('cell').image.name, '3600',
  );
  // Executable by uid 1000 too: some attacks are run there without the control's capabilities.
  const putControl = await jail.deployment.exec(controlName, ['sh', '-c', 'cat > /tmp/cellprobe && chmod 755 /tmp/cellprobe'], { input: probe });
  if (putControl.code !== 0) throw new Error(`cannot put the probe into the control: ${putControl.stderr}`);
}, 30 * 60_000);

afterAll(async () => {
  await run('docker', ['rm', '-f', controlName]).catch(() => undefined);
  if (jail) await jail.deployment.down();
}, 5 * 60_000);

describe('the real OpenClaw gateway in the cell', () => {
  it('is healthy by Docker’s own healthcheck and answers /healthz', async () => {
    expect((await jail.deployment.state(cellName)).Health?.Status).toBe('healthy');
    const r = await jail.deployment.exec(cellName, [
      'node', '-e', "fetch('http://127.0.0.1:18789/healthz').then(r=>r.text()).then(t=>console.log(t))",
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, status: 'live' });
  });

  it('answers a real protocol request with the right token and refuses a wrong one', async () => {
    const url = 'ws://127.0.0.1:18789';
    const good = await jail.deployment.exec(cellName, ['openclaw', 'gateway', 'health', '--url', url, '--token', jail.secrets.openclawToken]);
    expect(good.stdout).toMatch(/OK/);
    const bad = await jail.deployment.exec(cellName, ['openclaw', 'gateway', 'health', '--url', url, '--token', 'x'.repeat(64)]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/unauthorized|mismatch/i);
  });
});

/** The 32-bit entry, and i386's multiplexers whose socket family and msgget no filter can read. */
const COMPAT32_ATTACKS = ['compat32', 'compat32-socketcall', 'compat32-ipc-msgget'];

describe('the prisoner attacks from inside the cell', () => {
  let cell: ProbeResult[];
  let control: ProbeResult[];
  beforeAll(async () => {
    cell = await inCell('all');
    control = await inControl('all');
  });

  it('runs as uid 1000 with no capabilities at all, no-new-privileges and seccomp', () => {
    const caps = cell.find((r) => r.attack === 'caps');
    expect(caps).toMatchObject({ ok: false, CapEff: '0000000000000000', CapPrm: '0000000000000000', CapBnd: '0000000000000000', CapAmb: '0000000000000000', NoNewPrivs: 1, Seccomp: 2, uid: 1000 });
    expect(control.find((r) => r.attack === 'caps')).toMatchObject({ ok: true });
  });

  // Attacks the control must carry out, so that the probe is known to detect each one.
  const mustWorkInControl = [
    'mount', 'mount-fsopen', 'mknod', 'raw-inet', 'raw-packet', 'chown', 'write-rootfs', 'write-procsys',
    'unshare-user', 'unshare-mount', 'clone-newuser', 'syscall-bpf', 'syscall-userfaultfd', 'syscall-keyctl',
    'syscall-io_uring_setup', 'syscall-setns', 'syscall-msgsnd', 'syscall-msgrcv', 'syscall-msgctl', 'msgget',
    ...(compat32.works ? COMPAT32_ATTACKS : []),
  ];

  it.each(mustWorkInControl)('%s fails in the cell and works in the control', (attack) => {
    const inCellLines = cell.filter((r) => r.attack === attack);
    expect(inCellLines.length).toBeGreaterThan(0);
    for (const line of inCellLines) expect(line).toMatchObject({ ok: false });
    expect(control.filter((r) => r.attack === attack && r.ok)).not.toHaveLength(0);
  });

  if (!compat32.works) {
    // Where the kernel has no 32-bit entry the attack cannot work anywhere: the cell must still
    // refuse it, and the report says the control part is not applicable, and why.
    const why = compat32.reason;
    it.each(COMPAT32_ATTACKS)(`%s fails in the cell; the control is N/A (not applicable on this kernel: ${why})`, (attack) => {
      const inCellLines = cell.filter((r) => r.attack === attack);
      expect(inCellLines.length).toBeGreaterThan(0);
      for (const line of inCellLines) expect(line).toMatchObject({ ok: false });
      const inControlLines = control.filter((r) => r.attack === attack);
      expect(inControlLines.length).toBeGreaterThan(0);
      // The control runs on the engine's kernel unconfined: if it carried the attack out, the
      // host probe did not see that kernel, and "not applicable" would be a lie.
      if (inControlLines.some((r) => r.ok)) {
        throw new Error(`the host probe found no 32-bit entry (${why}), yet the control carried ${attack} out: the probe on this machine does not see the engine's kernel (a remote DOCKER_HOST? a seccomp filter around the test run?)`);
      }
      // eslint-disable-next-line no-console
      console.warn(
        `${attack}: NOT APPLICABLE on this kernel, the positive control is skipped: ${why}.\n` +
          `  cell: ${JSON.stringify(inCellLines)}\n  control: ${JSON.stringify(inControlLines)}`,
      );
    });
  }

  describe('socket families the jail does not use (all but AF_UNIX, AF_INET, AF_INET6 and NETLINK_ROUTE)', () => {
    let controlUnprivileged: ProbeResult[];
    beforeAll(async () => {
      // The control's own unconfined kernel view, without its capabilities: uid 1000, as in the cell.
      controlUnprivileged = parseProbeOutput(await docker('exec', '--user', '1000:1000', controlName, '/tmp/cellprobe', 'families'));
    });

    /** In the cell every try is refused with EPERM: the filter's answer (a missing family is EAFNOSUPPORT). */
    const refusedInCell = (attack: string) => {
      const lines = cell.filter((r) => r.attack === attack);
      expect(lines).toHaveLength(1);
      const tries = lines[0].tries as Record<string, string>;
      expect(Object.keys(tries).length).toBeGreaterThan(0);
      expect([attack, lines[0].ok, [...new Set(Object.values(tries))]]).toEqual([attack, false, ['EPERM']]);
    };
    const inControlAs = (lines: ProbeResult[], attack: string) => lines.find((r) => r.attack === attack);

    it('the probe tries the families and netlink protocols the host probe classified', () => {
      const attacks = cell.filter((r) => /^socket(pair)?-/.test(r.attack)).map((r) => r.attack);
      expect(new Set(attacks)).toEqual(new Set(families.keys()));
      expect(attacks.length).toBeGreaterThan(50);
      expect(new Set(controlUnprivileged.map((r) => r.attack))).toEqual(new Set(families.keys()));
    });

    for (const [attack, cls] of families) {
      if (cls.kind === 'unprivileged') {
        it(`${attack} fails in the cell (EPERM) and works in the control even as uid 1000 without capabilities`, () => {
          refusedInCell(attack);
          expect(inControlAs(controlUnprivileged, attack)).toMatchObject({ ok: true });
          expect(inControlAs(control, attack)).toMatchObject({ ok: true });
        });
      } else if (cls.kind === 'root') {
        it(`${attack} fails in the cell (EPERM) and works in the control as root (uid 1000 lacks the capability it needs)`, () => {
          refusedInCell(attack);
          expect(inControlAs(control, attack)).toMatchObject({ ok: true });
        });
      } else {
        it(`${attack} fails in the cell (EPERM, the filter's); the control is N/A (not applicable here: ${cls.reason})`, () => {
          refusedInCell(attack);
          const c = inControlAs(control, attack);
          expect(c).toBeDefined();
          if (c?.ok) throw new Error(`the host probe could not open ${attack} (${cls.reason}), yet the control did: the probe on this machine does not see the engine's kernel`);
          // eslint-disable-next-line no-console
          console.warn(`${attack}: NOT APPLICABLE here, the positive control is skipped: ${cls.reason}.\n  cell: ${JSON.stringify(cell.find((r) => r.attack === attack))}\n  control: ${JSON.stringify(c)}`);
        });
      }
    }

    it('the families the jail does use still work in the cell: interfaces over NETLINK_ROUTE, unix, IPv4, IPv6', async () => {
      const script = `
        const os = require('os'), net = require('net'), dgram = require('dgram'), dns = require('dns');
        const out = { interfaces: Object.keys(os.networkInterfaces()) };
        const udp = (type) => new Promise((res) => { const s = dgram.createSocket(type);
          s.on('error', (e) => { res(e.code); s.close(); }); s.bind(0, () => { res('OK'); s.close(); }); });
        (async () => {
          out.udp4 = await udp('udp4');
          out.udp6 = await udp('udp6');
          out.unix = await new Promise((res) => { const srv = net.createServer().on('error', (e) => res(e.code))
            .listen('/tmp/cjtest.sock', () => { srv.close(); res('OK'); }); });
          out.lookup = await new Promise((res) => dns.lookup('localhost', { hints: dns.ADDRCONFIG }, (e, a) => res(e ? e.code : a)));
          console.log(JSON.stringify(out));
        })();`;
      const r = await jail.deployment.exec(cellName, ['node', '-e', script]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.interfaces).toContain('lo');
      expect(out).toMatchObject({ udp4: 'OK', unix: 'OK', lookup: '127.0.0.1' });
      // The socket opens; a namespace without IPv6 addresses may still refuse the bind itself.
      expect(['OK', 'EADDRNOTAVAIL']).toContain(out.udp6);
    });
  });

  it('every attempt of the probe fails in the cell, each with its reason', () => {
    const worked = cell.filter((r) => r.ok);
    expect(worked).toEqual([]);
    // A refusal says why: an errno or a signal, never a silent nothing.
    for (const r of cell.filter((x) => x.attack !== 'caps')) expect(r.errno ?? r.signal).toBeDefined();
    expect(new Set(cell.map((r) => r.attack))).toEqual(new Set(control.map((r) => r.attack)));
  });

  it('cannot become root: setuid(0) fails and no setuid file is left in the image', async () => {
    expect(cell.filter((r) => r.attack === 'setuid' || r.attack === 'setgid')).toEqual([
      expect.objectContaining({ attack: 'setuid', ok: false, errno: 'EPERM' }),
      expect.objectContaining({ attack: 'setgid', ok: false, errno: 'EPERM' }),
    ]);
    const find = 'find / -xdev -perm /6000 -type f 2>/dev/null';
    expect((await jail.deployment.exec(cellName, ['sh', '-c', find])).stdout.trim()).toBe('');
    // The same search does find setuid files where they exist (the stand-in base keeps them).
    const base = await docker('run', '--rm', '--network', 'none', 'clawjail-standin/node:24-bookworm-slim', 'sh', '-c', find);
    expect(base).toMatch(/\/(su|mount|passwd)\b/);
  });

  it('cannot ptrace or read the memory of the OpenClaw gateway', async () => {
    const pid = await gatewayPid();
    const lines = await inCell('ptrace', pid);
    expect(lines.map((l) => l.attack)).toEqual(expect.arrayContaining(['ptrace-attach', 'ptrace-seize', 'process_vm_readv', 'proc-mem']));
    for (const l of lines) expect(l).toMatchObject({ ok: false });
    // The control traces its own pid 1 (sleep): the probe's ptrace does work where allowed.
    const controlLines = await inControl('ptrace', '1');
    expect(controlLines.find((l) => l.attack === 'ptrace-attach')).toMatchObject({ ok: true });
  });

  it('finds no docker.sock, no devices beyond the basics, and no host mount but the workspace', async () => {
    const check = 'ls -la /var/run/docker.sock /run/docker.sock 2>&1; echo ---; ls /dev; echo ---; cat /proc/self/mountinfo';
    const [cellOut, controlOut] = await Promise.all([
      jail.deployment.exec(cellName, ['sh', '-c', check]),
      jail.deployment.exec(controlName, ['sh', '-c', check]),
    ]);
    const [sock, dev, mounts] = cellOut.stdout.split('---\n');
    expect(sock).not.toMatch(/^s/m);
    expect(controlOut.stdout.split('---\n')[0]).toMatch(/^s.*docker\.sock/m); // the check can see a socket
    // `core` may appear as a symlink to the masked /proc/kcore; it is not a device.
    expect(dev.split(/\s+/).filter((d) => d && d !== 'core').sort()).toEqual(
      ['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero'].sort(),
    );
    // Mount points that come from outside the container's own image and tmpfs.
    const targets = mounts.split('\n').filter(Boolean).map((l) => l.split(' ')[4]);
    const fromHost = targets.filter((t) => !/^\/(proc|sys|dev)(\/|$)/.test(t) && t !== '/' && t !== '/tmp' && t !== '/home/node');
    // Docker's own: the name files and the init binary (read-only); ours: the workspace.
    expect(fromHost.sort()).toEqual(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/usr/sbin/docker-init', '/workspace'].sort());
    const initMount = mounts.split('\n').find((l) => l.split(' ')[4] === '/usr/sbin/docker-init') ?? '';
    expect(initMount.split(' ')[5].split(',')).toContain('ro');
  });

  it('shares no namespace with the host', async () => {
    const info = (await jail.deployment.inspect(cellName)) as { HostConfig: Record<string, unknown> };
    const hc = info.HostConfig;
    // The cell's one network is the gateway's namespace (infra/model/gateway.ts).
    expect(String(hc.NetworkMode)).toMatch(/^container:/);
    expect(hc).toMatchObject({ PidMode: '', IpcMode: 'private', UTSMode: '', UsernsMode: '', Privileged: false, ReadonlyRootfs: true });
    expect(hc.Devices ?? []).toEqual([]);
    const hostPidNs = fs.readlinkSync('/proc/self/ns/pid'); // the test runs in the host's
    const r = await jail.deployment.exec(cellName, ['sh', '-c', 'cat /proc/1/comm; ls -la /proc/self/ns/pid']);
    expect(r.stdout).toMatch(/docker-init/);
    expect(r.stdout).not.toContain(hostPidNs);
  });
});

describe('the prisoner tries to exhaust the host', () => {
  it('a fork bomb is capped by the pids limit while the host stays responsive', async () => {
    const limit = jail.container('cell').pidsLimit;
    expect((await jail.deployment.inspect(cellName) as { HostConfig: { PidsLimit: number } }).HostConfig.PidsLimit).toBe(limit);
    expect(await cgroupFile('pids', 'pids.max')).toBe(String(limit));

    const bomb = inCell('forkbomb', '20', '100000');
    // While it runs, the host still starts processes promptly.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      await run('true');
      latencies.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 200));
    }
    const [result] = (await bomb).filter((r) => r.attack === 'forkbomb');
    expect(result).toMatchObject({ ok: false, errno: 'EAGAIN' });
    // It really bombed: it got close to the limit, and no further.
    expect(result.children as number).toBeGreaterThan(limit / 2);
    expect(result.children as number).toBeLessThan(limit);
    expect(result.reaped).toBe(result.children);
    expect(Math.max(...latencies)).toBeLessThan(2000);
    await jail.deployment.waitHealthy(cellName, 60_000);
  });

  it('a memory hog is killed at the memory limit, and only the hog', async () => {
    const limitMb = jail.container('cell').memoryMb;
    const oomKills = async () => Number(/oom_kill (\d+)/.exec(await cgroupFile('memory', 'memory.oom_control'))?.[1]);
    const before = await oomKills();
    const [hog] = (await inCell('memhog', String(limitMb * 2))).filter((r) => r.attack === 'memhog');
    expect(hog).toMatchObject({ ok: false, signal: 'KILL' });
    expect(hog.touched_mb as number).toBeGreaterThan(256); // it did grab memory
    expect(hog.touched_mb as number).toBeLessThan(limitMb);
    expect(Number(await cgroupFile('memory', 'memory.limit_in_bytes'))).toBe(limitMb * 1024 * 1024);
    // No swap beyond the limit: memory+swap is capped where the kernel accounts swap; where it
    // does not, the host must have no swap at all for the cap to hold.
    const memsw = await cgroupFile('memory', 'memory.memsw.limit_in_bytes').catch(() => null);
    if (memsw !== null) expect(Number(memsw)).toBe(limitMb * 1024 * 1024);
    else expect(fs.readFileSync('/proc/swaps', 'utf8').trim().split('\n')).toHaveLength(1);
    // The kernel's OOM killer of the cell's own cgroup did the killing.
    expect(await oomKills()).toBeGreaterThan(before);
    const state = await jail.deployment.state(cellName);
    expect(state.Running).toBe(true);
    await jail.deployment.waitHealthy(cellName, 60_000);
  });

  it('a log flood is capped by log rotation', async () => {
    const spec = jail.container('cell');
    const maxBytes = parseInt(spec.logOpts['max-size'], 10) * 1024 * 1024 * Number(spec.logOpts['max-file']);
    const floodBytes = Math.round(maxBytes * 2.5);
    // The prisoner writes to the container's stdout through pid 1's descriptor.
    const flood = `head -c ${floodBytes} /dev/zero | tr '\\0' 'F' | fold -w 1000 > /proc/1/fd/1`;
    const r = await jail.deployment.exec(cellName, ['sh', '-c', flood], { timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const logPath = await docker('inspect', '--format', '{{.LogPath}}', cellName);
    const dir = logPath.slice(0, logPath.lastIndexOf('/'));
    const base = logPath.slice(logPath.lastIndexOf('/') + 1);
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(base));
    const total = files.reduce((n, f) => n + fs.statSync(`${dir}/${f}`).size, 0);
    // json-file wraps each line in JSON, so the flood is larger on disk than written.
    expect(files.length).toBeLessThanOrEqual(Number(spec.logOpts['max-file']));
    expect(total).toBeLessThanOrEqual(maxBytes + 1024 * 1024);
    expect(total).toBeGreaterThan(maxBytes / 2); // the flood did reach the log
    expect(await docker('logs', '--tail', '1', cellName)).toMatch(/FFFF/);
  });

  it('an inode flood in its scratch space stops at the tmpfs inode cap, not at the host\'s memory', async () => {
    const spec = jail.container('cell');
    const cap = Number(/nr_inodes=(\d+)/.exec(spec.tmpfs['/tmp'])?.[1]);
    expect(cap).toBeGreaterThan(0);
    // Empty files take no space, only inodes: without the cap the tmpfs default (half the host's
    // RAM pages) would let the prisoner pin gigabytes of kernel memory.
    // `true`, not `:`: a redirection that fails on a special builtin ends the shell; stderr is
    // redirected first so that the failure's message lands in .err.
    // (OpenClaw keeps a few hundred files of its own there: the free count is read first.)
    const flood = ': > /tmp/.err; stat -f -c \'%d %c\' /tmp; i=0; while true 2>/tmp/.err >/tmp/inode$i; do i=$((i+1)); done; echo "$i"; cat /tmp/.err; ' +
      "find /tmp -maxdepth 1 -name 'inode*' -delete; grep ' /tmp ' /proc/mounts";
    const r = await jail.deployment.exec(cellName, ['sh', '-c', flood], { timeoutMs: 300_000 });
    const [inodes, made, err, mount] = r.stdout.split('\n');
    const [free, total] = inodes.split(' ').map(Number);
    expect(total).toBe(cap);
    // The files could be made right up to the cap (so the stop is the cap, not another error) ...
    expect(Number(made)).toBeGreaterThan(free - 512); // OpenClaw may make a few meanwhile
    expect(Number(made)).toBeLessThanOrEqual(free);
    expect(Number(made)).toBeGreaterThan(cap / 2);
    // ... and the cap says so: no space (in inodes) on that filesystem.
    expect(err ?? '').toMatch(/No space left on device/);
    expect(mount).toContain(`nr_inodes=${cap}`);
    // The scratch space works again once the prisoner's files are gone.
    expect((await jail.deployment.exec(cellName, ['sh', '-c', ': > /tmp/after && echo ok'])).stdout.trim()).toBe('ok');
  });
});

describe('limits that outlive a restart', () => {
  it('a graceful restart comes back healthy with the pids limit still in force', async () => {
    await docker('restart', '-t', String(jail.container('cell').stopTimeoutSeconds), cellName);
    await jail.deployment.waitHealthy(cellName);
    expect(await cgroupFile('pids', 'pids.max')).toBe(String(jail.container('cell').pidsLimit));
  });
});
