// Benchmark of the sentry: how long the prisoner runs on after the warden dies (the warden's
// death to the cell frozen, both read off the engine's own event clock), beside what a bare
// `docker pause` takes in the same run (the floor); how long the prisoner stays frozen after the
// warden is back (its start to the thaw: the warden's startup walk and the sentry's look); and
// the sentry's own memory, beside a bare Node process in the same image.
//
// The stack's clamd, warden and sentry from the spec, on the real engine (test/e2e/deployer.ts),
// with a stand-in cell (a sleeping Debian container under the cell's name: the sentry only
// pauses it). Needs root, the Docker engine and the stand-in images (infra/images/standins/build.sh).
//
//   npm run bench -- sentry
import { spawn } from 'child_process';
import * as fs from 'fs';
import { hostBuildArgs } from '../infra/buildArgs';
import { jailNames, type JailSpec } from '../infra/model';
import { JailDeployment } from '../test/e2e/deployer';
import { DEBIAN_STANDIN, seedSignatures, testJail } from '../test/e2e/testJail';
import { until } from '../test/helpers/wait';
import type { BenchRow } from './moat';

const PREFIX = 'cjsbench';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface EngineEvent {
  Action: string;
  Actor: { Attributes: Record<string, string> };
  timeNano: number;
}

/** The engine's events for some containers, as they come (`docker events`), until stop(). */
function followEvents(names: string[]): { events: EngineEvent[]; stop: () => void } {
  const args = ['events', '--format', '{{json .}}', ...names.flatMap((n) => ['--filter', `container=${n}`])];
  const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: EngineEvent[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) events.push(JSON.parse(line) as EngineEvent);
    }
  });
  return { events, stop: () => child.kill() };
}

/** The RSS of the container's node (the child of its init), read on the host. */
const rssOf = async (d: JailDeployment, container: string): Promise<number> => {
  const init = Number(await d.docker('inspect', '--format', '{{.State.Pid}}', container));
  const child = fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/)[0];
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child}/status`, 'utf8'));
  if (!m) throw new Error(`no RSS for the node of ${container}`);
  return Number(m[1]) / 1024;
};

export async function run(opts: { crashes?: number; pauses?: number } = {}): Promise<BenchRow[]> {
  const crashes = opts.crashes ?? 5;
  const pauses = opts.pauses ?? 10;
  // The end-to-end tests' stack config (stand-in images, no egress, small capped stores), under a
  // prefix and networks of the bench's own.
  const { config, secrets, spec: full } = testJail({
    namePrefix: PREFIX,
    bridgeName: 'cjsbench0',
    subnet: '172.29.221.0/24',
    scanBridgeName: 'cjsbench1',
    scanSubnet: '172.29.222.0/24',
  });
  const names = jailNames(config);
  const keep = new Set(['clamd', 'warden', 'sentry']);
  const containers = full.containers.filter((c) => keep.has(c.role));
  const spec: JailSpec = {
    ...full,
    containers,
    images: [...new Map(containers.map((c) => [c.image.name, c.image])).values()],
    networks: full.networks.filter((n) => n.name === names.scanNetwork),
  };
  const d = new JailDeployment(spec, secrets, hostBuildArgs(config));
  const cell = names.cellContainer;
  const warden = names.wardenContainer;
  const removeCell = () => d.docker('rm', '-f', cell).catch(() => '');
  await removeCell();
  await d.down();
  const watch = followEvents([cell, warden]);
  try {
    await seedSignatures(d.engine, names.signatureVolume, { 'clawjail.stack': PREFIX });
    await d.up();
    await d.docker('run', '-d', '--name', cell, '--network', 'none', '--read-only', '--cap-drop', 'ALL', DEBIAN_STANDIN, 'sleep', 'infinity');
    await d.waitHealthy(warden);
    const paused = async () => (await d.docker('inspect', '--format', '{{.State.Paused}}', cell)) === 'true';
    const waitPaused = (want: boolean, what: string) => until(what, async () => ((await paused()) === want ? true : undefined), 180_000, { everyMs: 100 });
    await waitPaused(false, 'the stand-in cell to run');

    // The floor: a pause asked of the engine directly, timed on the engine's clock (the API call
    // to the pause event), as the sentry's own pause is. The sentry is stopped meanwhile: it owns
    // the cell's pause and would thaw it at its next look.
    await d.docker('stop', names.sentryContainer);
    const floor: number[] = [];
    for (let i = 0; i < pauses; i++) {
      const t0 = BigInt(Date.now()) * 1_000_000n;
      await d.engine.request('POST', `/containers/${cell}/pause`);
      const ev = await until('the pause event', async () => watch.events.find((e) => e.Action === 'pause' && BigInt(e.timeNano) >= t0), 10_000, { everyMs: 10 });
      floor.push(Number(BigInt(ev.timeNano) - t0) / 1e6);
      await d.engine.request('POST', `/containers/${cell}/unpause`);
      watch.events.length = 0;
    }
    await d.docker('start', names.sentryContainer);
    await d.waitHealthy(names.sentryContainer);
    await waitPaused(false, 'the cell to run after the floor');

    const freeze: number[] = [];
    const frozenFor: number[] = [];
    for (let i = 0; i < crashes; i++) {
      watch.events.length = 0;
      await d.exec(warden, ['sh', '-c', 'kill -9 -1']);
      const died = await until('the warden to die', async () => watch.events.find((e) => e.Actor.Attributes.name === warden && e.Action === 'die'), 30_000, { everyMs: 10 });
      const froze = await until('the cell to freeze', async () => watch.events.find((e) => e.Actor.Attributes.name === cell && e.Action === 'pause'), 30_000, { everyMs: 10 });
      freeze.push(Number(BigInt(froze.timeNano) - BigInt(died.timeNano)) / 1e6);
      const started = await until('the warden to start again', async () => watch.events.find((e) => e.Actor.Attributes.name === warden && e.Action === 'start'), 60_000, { everyMs: 50 });
      const thawed = await until('the cell to thaw', async () => watch.events.find((e) => e.Actor.Attributes.name === cell && e.Action === 'unpause'), 180_000, { everyMs: 50 });
      frozenFor.push(Number(BigInt(thawed.timeNano) - BigInt(started.timeNano)) / 1e6);
      await new Promise((r) => setTimeout(r, 2000));
    }

    const sentryRss = await rssOf(d, names.sentryContainer);
    const bare = await d.docker('run', '--rm', '--entrypoint', 'node', spec.containers.find((c) => c.role === 'sentry')!.image.name, '-e', "setTimeout(()=>console.log(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1]),500)");
    return [
      { name: `warden's death → cell frozen (median of ${crashes}, engine clock)`, value: median(freeze), unit: 'ms', baseline: { name: `docker pause alone, median of ${pauses}`, value: median(floor) } },
      { name: `warden's death → cell frozen, worst of ${crashes}`, value: Math.max(...freeze), unit: 'ms', baseline: { name: `docker pause alone, worst of ${pauses}`, value: Math.max(...floor) } },
      { name: 'warden started again → cell thawed (startup walk, caught up; median)', value: median(frozenFor), unit: 'ms' },
      { name: 'sentry RSS', value: sentryRss, unit: 'MiB', baseline: { name: 'bare node in the same image', value: Number(bare.trim()) / 1024 } },
    ];
  } finally {
    watch.stop();
    await removeCell();
    await d.down().catch((e) => process.stderr.write(`bench sentry: teardown: ${(e as Error).message}\n`));
  }
}
