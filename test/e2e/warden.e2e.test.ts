// The warden in the jail, on the real Docker engine: the prisoner writes malware into its
// workspace and finds only a tombstone; the file is in the quarantine volume, which the prisoner cannot see
// and the operator reads with `clawjail quarantine --stack`; clamd is out of the prisoner's reach.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CLAMD_PORT, WARDEN_HEALTH_FILE, WARDEN_QUARANTINE_DIR } from '../../infra/model';
import { EICAR } from '../../warden/test/clamdHarness';
import { clawjail } from './cli';
import { testJail, type TestJail } from './testJail';
import { until as waitUntil } from '../helpers/wait';

jest.setTimeout(5 * 60_000);

const DIR = '/workspace/warden-e2e';
let jail: TestJail;
let cell: string;
let warden: string;
let clamd: string;
let tmp: string;


/** Runs sh in the cell as the prisoner; the script's stdout. */
async function prisoner(script: string, input?: Buffer): Promise<string> {
  // The sentry freezes the cell while the warden is down or behind (a flood): the prisoner runs
  // again when it is thawed, and an exec into a frozen cell is refused.
  await waitUntil('the cell to be thawed', async () => ((await jail.deployment.inspect(cell)) as { State: { Paused: boolean } }).State.Paused ? undefined : true, 120_000, { everyMs: 250 });
  const r = await jail.deployment.exec(cell, ['sh', '-c', script], { input });
  if (r.code !== 0) throw new Error(`prisoner script failed (${r.code}): ${script}\n${r.stderr}`);
  return r.stdout;
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitUntil(what, probe, timeoutMs, { everyMs: 500, context: async () => (await jail.deployment.logs(warden)).slice(-3000) });

/** The prisoner's view of the test directory: names, one per line (names here have no newline). */
const listing = async () => (await prisoner(`ls -A ${DIR}`)).split('\n').filter(Boolean).sort();

/** Whether a TCP connection from inside `container` to host:port is accepted, by node or bash. */
async function tcpFrom(container: string, host: string, port: number, shell: 'node' | 'bash'): Promise<boolean> {
  const argv =
    shell === 'node'
      ? ['node', '-e', `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:3000});s.on('connect',()=>{console.log('open');process.exit(0)});s.on('error',()=>{console.log('closed');process.exit(0)});s.on('timeout',()=>{console.log('closed');process.exit(0)})`]
      : ['bash', '-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/${host}/${port}' 2>/dev/null && echo open || echo closed`];
  const r = await jail.deployment.exec(container, argv);
  const out = r.stdout.trim();
  if (out !== 'open' && out !== 'closed') throw new Error(`tcp probe from ${container} gave ${JSON.stringify(r)}`);
  return out === 'open';
}

async function endpointOn(container: string, network: string): Promise<{ IPAddress: string; Gateway: string }> {
  const info = (await jail.deployment.inspect(container)) as { NetworkSettings: { Networks: Record<string, { IPAddress: string; Gateway: string }> } };
  const ep = info.NetworkSettings.Networks[network];
  if (!ep?.IPAddress) throw new Error(`${container} has no address on ${network}`);
  return ep;
}
const ipOn = async (container: string, network: string) => (await endpointOn(container, network)).IPAddress;

beforeAll(async () => {
  jail = testJail();
  cell = jail.container('cell').name;
  warden = jail.container('warden').name;
  clamd = jail.container('clamd').name;
  await jail.up();
  await jail.deployment.waitHealthy(clamd);
  await jail.deployment.waitHealthy(warden);
  await until('the cell to run', async () => ((await jail.deployment.state(cell)).Running ? true : undefined));
  await prisoner(`mkdir -p ${DIR}`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-warden-'));
}, 30 * 60_000);

afterAll(async () => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (jail) await jail.deployment.down();
}, 5 * 60_000);

describe('the prisoner writes malware into its workspace', () => {
  const clean = Buffer.from(`notes of the agent ${crypto.randomUUID()}\n`);

  it('finds only the tombstone where the malware was, and its clean file untouched beside it', async () => {
    await prisoner(`cat > ${DIR}/notes.txt`, clean);
    await prisoner(`cat > ${DIR}/payload.com`, EICAR);
    const names = await until('the tombstone', async () => {
      const l = await listing();
      return l.includes('payload.com.quarantined.txt') && !l.includes('payload.com') ? l : undefined;
    });
    expect(names).toEqual(['notes.txt', 'payload.com.quarantined.txt']);
    const tombstone = await prisoner(`cat ${DIR}/payload.com.quarantined.txt`);
    expect(tombstone).toMatch(/quarantin/i);
    expect(tombstone).toContain('Eicar-Test-Signature');
    // Not one byte of the sample is left for the prisoner, anywhere it can read in the workspace.
    expect(await prisoner(`grep -rl 'EICAR-STANDARD' /workspace || true`)).toBe('');
    expect(Buffer.from(await prisoner(`cat ${DIR}/notes.txt`))).toEqual(clean);
  });

  it('the warden judged the clean file clean, so it is scanning, not sweeping everything away', async () => {
    const audit = await until('the clean verdict in the audit log', async () => {
      const r = await jail.deployment.exec(warden, ['cat', `${WARDEN_QUARANTINE_DIR}/audit.log`]);
      return r.stdout.includes('notes.txt') ? r.stdout : undefined;
    });
    const lines = audit.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const about = (name: string) => lines.filter((l) => JSON.stringify(l).includes(name));
    // Once or twice (the file is created, then written): clean every time, never anything else.
    const verdicts = about('notes.txt').map((l) => l.event);
    expect(verdicts.length).toBeGreaterThan(0);
    expect(new Set(verdicts)).toEqual(new Set(['clean']));
    expect(about('payload.com').filter((l) => l.event === 'quarantined').map((l) => l.verdict)).toEqual(['infected']);
    // the stack's clamd and warden agree on clamd's ReadTimeout, so the scans ran in clamd sessions
    const health = JSON.parse((await jail.deployment.exec(warden, ['cat', WARDEN_HEALTH_FILE])).stdout) as { clamd: { sessions: boolean; sessionsOpened: number } };
    expect(health.clamd).toMatchObject({ sessions: true, sessionsOpened: expect.any(Number) });
    expect(health.clamd.sessionsOpened).toBeGreaterThan(0);
  });

  it('an atomic-write temp file renamed into place is caught under its final name', async () => {
    const tmpName = `.fs-safe-replace.4242.${crypto.randomUUID()}.tmp`;
    await prisoner(`cat > ${DIR}/${tmpName} && mv ${DIR}/${tmpName} ${DIR}/report.pdf`, EICAR);
    await until('the renamed file quarantined', async () => {
      const l = await listing();
      return l.includes('report.pdf.quarantined.txt') && !l.includes('report.pdf') && !l.includes(tmpName) ? true : undefined;
    });
  });
});

describe('the quarantine is out of the prisoner\'s reach', () => {
  it('is not mounted in the cell, where the workspace is; it is in the warden', async () => {
    const { quarantineVolume, workspaceVolume } = { quarantineVolume: `${jail.config.namePrefix}-quarantine`, workspaceVolume: `${jail.config.namePrefix}-sandbox_data` };
    // A volume shows in mountinfo by its path; a capped one (infra/model/stores.ts) by its loop
    // device's major:minor, which the host tells for the volume's directory.
    const marks = async (volume: string): Promise<string> => {
      if (!jail.spec.stores.some((x) => x.volume === volume)) return volume;
      const dir = await jail.deployment.docker('volume', 'inspect', '--format', '{{.Mountpoint}}', volume);
      return ` ${execFileSync('mountpoint', ['-d', dir], { encoding: 'utf8' }).trim()} `;
    };
    const [ws, q] = [await marks(workspaceVolume), await marks(quarantineVolume)];
    const cellMounts = await prisoner('cat /proc/self/mountinfo');
    expect(cellMounts).toContain(ws);
    expect(cellMounts).not.toContain(q);
    const wardenMounts = (await jail.deployment.exec(warden, ['cat', '/proc/self/mountinfo'])).stdout;
    expect(wardenMounts).toContain(q);
    expect(await prisoner(`test -e ${WARDEN_QUARANTINE_DIR} && echo present || echo absent`)).toBe('absent\n');
    expect(await prisoner(`find / -path /proc -prune -o -name audit.log -print 2>/dev/null | head -1`)).toBe('');
  });

  it('cannot see or signal the warden\'s processes', async () => {
    const procs = await prisoner(`cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '`);
    expect(procs).toContain('openclaw');
    expect(procs).not.toContain('/app/dist/main.js');
  });

  it('cannot reach clamd, which the warden reaches; and clamd reaches nothing of the cell\'s network', async () => {
    const clamdIp = await ipOn(clamd, jail.spec.networks[1].name);
    const gatewayIp = await ipOn(jail.container('gateway').name, jail.spec.networks[0].name);
    expect(await tcpFrom(warden, clamdIp, CLAMD_PORT, 'node')).toBe(true);
    expect(await tcpFrom(warden, clamd, CLAMD_PORT, 'node')).toBe(true);
    expect(await tcpFrom(cell, clamdIp, CLAMD_PORT, 'node')).toBe(false);
    expect(await tcpFrom(cell, clamd, CLAMD_PORT, 'node')).toBe(false);
    // The cell reaches its own gateway on the bridge address: the probe itself works from there.
    expect(await tcpFrom(cell, gatewayIp, 8443, 'node')).toBe(true);
    // clamd, which parses the prisoner's files, cannot reach the gateway that the cell can.
    expect(await tcpFrom(clamd, clamdIp, CLAMD_PORT, 'bash')).toBe(true);
    expect(await tcpFrom(clamd, gatewayIp, 8443, 'bash')).toBe(false);
  });
});

describe('clamd has no way to the host', () => {
  let listener: net.Server;
  let port: number;

  beforeAll(async () => {
    // A service on every host address, as sshd or an admin UI would be.
    listener = net.createServer((sock) => {
      sock.on('error', () => undefined); // the probes hang up at once
      sock.end('host\n');
    });
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    port = (listener.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  it('cannot reach the host through its own network\'s gateway, nor through another bridge\'s host address', async () => {
    const scan = await endpointOn(clamd, jail.spec.networks[1].name);
    const cellBridge = await endpointOn(jail.container('gateway').name, jail.spec.networks[0].name);
    // Docker names the first address the gateway even where the bridge holds no address.
    const scanGateway = scan.Gateway || scan.IPAddress.replace(/\.\d+$/, '.1');
    expect(await tcpFrom(clamd, scanGateway, port, 'bash')).toBe(false);
    expect(await tcpFrom(clamd, cellBridge.Gateway, port, 'bash')).toBe(false);
    expect(await tcpFrom(warden, scanGateway, port, 'node')).toBe(false);
    // The control: from a bridge that does hold a host address (the cell's, here without the
    // moat, which the moat lab tests), the same probe reaches the same listener.
    expect(await tcpFrom(cell, cellBridge.Gateway, port, 'node')).toBe(true);
  });
});

describe('the operator', () => {
  let stackDir: string;

  beforeAll(() => {
    // A stack file for the test jail, so the CLI finds the jail as it finds a deployed stack's.
    stackDir = path.join(tmp, 'stack');
    fs.mkdirSync(stackDir);
    const keys = { namePrefix: 'cjtest', cellEgress: 'none', clamdSignatures: 'custom', bridgeName: 'cjtest0', subnet: '172.29.201.0/24' };
    const yaml = 'config:\n' + Object.entries(keys).map(([k, v]) => `  clawjail:${k}: ${JSON.stringify(v)}\n`).join('');
    fs.writeFileSync(path.join(stackDir, 'Pulumi.e2e.yaml'), yaml);
  });

  it('lists the quarantine of the stack, shows the entry intact and restores it byte for byte, elsewhere', async () => {
    const list = await clawjail('quarantine', 'list', '--stack', 'e2e', '--cwd', stackDir, '--json');
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const records = JSON.parse(list.stdout) as { id: string; signature: string | null; original: { relative: { text: string } } }[];
    const entry = records.find((r) => r.original.relative.text === 'warden-e2e/payload.com');
    expect(entry?.signature).toMatch(/^Eicar-Test-Signature/);
    const show = await clawjail('quarantine', 'show', entry!.id, '--stack', 'e2e', '--cwd', stackDir);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/content check: ok/);
    const to = path.join(tmp, 'restored.com');
    const restore = await clawjail('quarantine', 'restore', entry!.id, '--stack', 'e2e', '--cwd', stackDir, '--to', to, '--yes');
    expect(restore.code).toBe(0);
    expect(fs.readFileSync(to)).toEqual(EICAR);
    // Restoring into the workspace over the tombstone's neighbour is refused, never overwritten.
    const again = await clawjail('quarantine', 'restore', entry!.id, '--stack', 'e2e', '--cwd', stackDir, '--to', to, '--yes');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);
  });
});

describe('the warden down: the sentry freezes the prisoner', () => {
  const LOOP_DIR = '/workspace/outage-e2e';
  const LOG = '/tmp/outage-loop.log';
  let sentry: string;
  const paused = async (c: string) => (await jail.deployment.inspect(c) as { State: { Paused: boolean } }).State.Paused;
  const waitPaused = (want: boolean, what: string, timeoutMs = 120_000) =>
    until(what, async () => ((await paused(cell)) === want ? true : undefined), timeoutMs);
  const openclawAnswers = async () =>
    (await jail.deployment.exec(cell, ['node', '-e', `fetch('http://127.0.0.1:${jail.config.cell.openclawPort}/healthz').then(r=>console.log(r.status),()=>console.log('down'))`])).stdout.trim();

  /**
   * The prisoner's attack: write a payload, give it half a second (a healthy warden quarantines in
   * milliseconds), then read it back; "survived" means it could have used it. Runs detached until
   * /tmp/outage-stop exists; one line per payload in the log.
   */
  async function startLoop(tag: string): Promise<void> {
    await prisoner(`rm -f ${LOG} /tmp/outage-stop; mkdir -p ${LOOP_DIR}; cat > /tmp/outage-payload`, Buffer.from(EICAR));
    const script = [
      'i=0',
      'while [ ! -e /tmp/outage-stop ] && [ $i -lt 2000 ]; do',
      `  i=$((i+1)); f=${LOOP_DIR}/${tag}-$i.com`,
      '  cp /tmp/outage-payload "$f" 2>/dev/null || { echo "nowrite $i" >>' + LOG + '; sleep 0.2; continue; }',
      '  sleep 0.5',
      `  if grep -q EICAR-STANDARD "$f" 2>/dev/null; then echo "survived $i $(date +%T.%N)" >>${LOG}; else echo "gone $i" >>${LOG}; fi`,
      'done',
      `echo done >>${LOG}`,
    ].join('\n');
    await jail.deployment.docker('exec', '-d', cell, 'sh', '-c', script);
    await until('the prisoner loop to start', async () => ((await prisoner(`cat ${LOG} 2>/dev/null || true`)).trim() ? true : undefined), 30_000);
  }

  /**
   * The warden crashes: its node process is killed from inside its container (as `kill -9` of
   * the process would be by the OOM killer or a bug), so Docker's restart policy brings it back;
   * `docker kill` would count as stopped by hand and leave it down.
   */
  const crashWarden = () => jail.deployment.exec(warden, ['sh', '-c', 'kill -9 -1']);

  async function stopLoop(): Promise<{ survived: number; gone: number; log: string }> {
    await prisoner('touch /tmp/outage-stop');
    const log = await until('the prisoner loop to end', async () => {
      const t = await prisoner(`cat ${LOG}`);
      return t.includes('done') ? t : undefined;
    }, 30_000);
    const lines = log.split('\n');
    return { survived: lines.filter((l) => l.startsWith('survived')).length, gone: lines.filter((l) => l.startsWith('gone')).length, log };
  }

  beforeAll(() => {
    sentry = jail.container('sentry').name;
  });

  afterAll(async () => {
    // whatever happened, leave the jail as it was: everything running, the cell thawed
    for (const c of [clamd, warden, sentry]) await jail.deployment.docker('start', c).catch(() => undefined);
    await waitPaused(false, 'the cell to be thawed after the outage tests').catch(() => undefined);
  }, 5 * 60_000);

  it('runs the sentry with no network, the socket read-only and nothing of the prisoner', async () => {
    const info = (await jail.deployment.inspect(sentry)) as { HostConfig: { NetworkMode: string; GroupAdd: string[] }; Mounts: { Source: string; Destination: string; RW: boolean }[] };
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.GroupAdd).toEqual([String(fs.statSync('/var/run/docker.sock').gid)]);
    expect(info.Mounts.map((m) => [m.Destination, m.RW]).sort()).toEqual([['/run/engine.sock', false], ['/run/warden-health', false]]);
    expect(await paused(cell)).toBe(false);
  });

  it('control: with the sentry stopped, a payload written while the warden is down is read back; the sentry then freezes the cell until the warden has caught up', async () => {
    await jail.deployment.docker('stop', sentry);
    await jail.deployment.docker('stop', warden);
    await startLoop('control');
    await until('a payload to survive its read-back', async () => ((await prisoner(`cat ${LOG} 2>/dev/null || true`)).includes('survived') ? true : undefined), 30_000);
    await jail.deployment.docker('start', sentry);
    await waitPaused(true, 'the sentry to freeze the cell while the warden is down', 30_000);
    // frozen stays frozen while the warden is down
    await new Promise((r) => setTimeout(r, 3000));
    expect(await paused(cell)).toBe(true);
    await jail.deployment.docker('start', warden);
    await waitPaused(false, 'the cell to be thawed once the warden has caught up');
    const r = await stopLoop();
    expect(r.survived).toBeGreaterThan(0);
    // the survivors were caught by the warden's startup walk before the prisoner ran again
    expect((await prisoner(`ls ${LOOP_DIR} | grep -c '^control-[0-9]*[.]com$' || true`)).trim()).toBe('0');
  });

  it('crashes of the warden and a lost clamd freeze the cell at once; no payload survives its read-back, and OpenClaw answers after', async () => {
    await startLoop('attack');
    const freezeMs: number[] = [];
    for (let k = 0; k < 3; k++) {
      const t0 = Date.now();
      await crashWarden();
      await waitPaused(true, `the cell to freeze after crash ${k + 1} of the warden`, 10_000);
      freezeMs.push(Date.now() - t0);
      await waitPaused(false, `the cell to thaw after crash ${k + 1}`);
      await new Promise((r) => setTimeout(r, 1500));
    }
    // two crashes in a row: the second lands while the warden is starting again
    await crashWarden();
    await until('the warden to be started again', async () => ((await jail.deployment.state(warden)).Running ? true : undefined), 30_000);
    await crashWarden();
    await waitPaused(true, 'the cell to be frozen across a double crash', 10_000);
    await waitPaused(false, 'the cell to thaw after the double crash');
    // clamd gone (as with no signatures): the warden can judge nothing, so the prisoner waits
    await jail.deployment.docker('stop', clamd);
    await waitPaused(true, 'the cell to freeze while clamd is down', 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await paused(cell)).toBe(true);
    await jail.deployment.docker('start', clamd);
    await waitPaused(false, 'the cell to thaw once clamd is back');
    const r = await stopLoop();
    process.stdout.write(`sentry: warden crash to frozen cell (ms, as seen by the test's polling): ${freezeMs.join(', ')}\n`);
    const survivors = r.log.split('\n').filter((l) => l.startsWith('survived'));
    expect({ survivors, sentryLog: survivors.length ? (await jail.deployment.logs(sentry)).slice(-6000) : '' }).toEqual({ survivors: [], sentryLog: '' });
    expect(r.gone).toBeGreaterThan(5);
    expect(await paused(cell)).toBe(false);
    expect(await until('OpenClaw to answer after the outages', async () => ((await openclawAnswers()) === '200' ? true : undefined), 60_000)).toBe(true);
  });
});

describe('the workspace is a filesystem of its own, of fixed size', () => {
  const CAP = '/workspace/cap-e2e';
  const store = () => jail.spec.stores.find((x) => x.name === 'workspace')!;
  /** The image's allocated blocks on the host's disk: what the host gives the workspace. */
  const hostBlocks = () => fs.statSync(store().image).blocks;

  it('stops a fallocate, a file flood and an inode flood at the cap with ENOSPC; the host gives nothing more; the warden still quarantines after', async () => {
    expect(store()).toMatchObject({ sizeMb: 128, volume: 'cjtest-sandbox_data' });
    const blocks0 = hostBlocks();
    expect(blocks0 * 512).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    await prisoner(`mkdir -p ${CAP}`);
    const size = Number((await prisoner("df --output=size -k /workspace | tail -n 1")).trim());
    expect(size).toBeLessThanOrEqual(128 * 1024);

    // -n (keep the size): the blocks are taken all the same, while the file stays empty to the
    // warden. A file of that size would be quarantined as too big to scan, and a quarantine
    // smaller than it refuses it, which freezes the prisoner (a way it can stop itself, by design)
    const big = await jail.deployment.exec(cell, ['sh', '-c', `true > ${CAP}/big && fallocate -n -l 1G ${CAP}/big 2>&1; echo rc=$?`]);
    expect(big.stdout).toMatch(/No space left on device[\s\S]*rc=1/);
    await prisoner(`rm -f ${CAP}/big`);
    const free = async () => Number((await prisoner('df --output=avail -k /workspace | tail -n 1')).trim());
    await until('the space to be free again', async () => ((await free()) > 100 * 1024 ? true : undefined), 60_000);

    // true, not the special builtin ':', whose failed redirection would end the shell
    const files = Number((await prisoner(`i=0; while head -c 1048576 /dev/zero > ${CAP}/f$i 2>/dev/null; do i=$((i+1)); done; echo $i`)).trim());
    expect(files).toBeGreaterThan(50);
    expect(files).toBeLessThanOrEqual(128);
    await prisoner(`rm -f ${CAP}/f*`);
    await until('the space to be free again', async () => ((await free()) > 100 * 1024 ? true : undefined), 60_000);

    const inodes = (await prisoner(`mkdir ${CAP}/flood && i=0; while true > ${CAP}/flood/e$i 2>/dev/null; do i=$((i+1)); done; echo $i; true > ${CAP}/flood/one-more 2>/dev/null || echo refused`)).trim().split('\n');
    expect(Number(inodes[0])).toBeGreaterThan(4000);
    expect(Number(inodes[0])).toBeLessThanOrEqual(128 * 64);
    expect(inodes[1]).toBe('refused');
    await prisoner(`rm -rf ${CAP}/flood`);
    expect(hostBlocks()).toBe(blocks0);

    // control: the same fallocate where the cap is not (the cell's own /tmp, bounded by its size)
    // goes through, so it is the cap that stopped it above
    const tmp = await jail.deployment.exec(cell, ['sh', '-c', 'true > /tmp/cap-control && fallocate -n -l 64M /tmp/cap-control && echo ok; rm -f /tmp/cap-control']);
    expect(tmp.stdout.trim()).toBe('ok');

    // the warden still judges what comes after the flood
    await prisoner(`cat > ${CAP}/after.com`, Buffer.from(EICAR));
    await until('the payload written after the flood to be quarantined', async () => {
      const names = (await prisoner(`ls -A ${CAP}`)).split('\n').filter(Boolean);
      return names.includes('after.com.quarantined.txt') && !names.includes('after.com') ? true : undefined;
    });
  });
});
