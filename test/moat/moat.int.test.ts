// The moat against real kernels: a namespace lab (test/moat/lab.ts) with its own dockerd, the
// cell network created from the stack's spec, REAL containers probing, the rules applied by the
// moat's dynamic provider functions (what `pulumi up` runs) and checked with `clawjail moat check`.
//
// Nothing here can reach the real network: the lab's jail host routes only into the lab's world
// namespace, and every probe proves its answer with a nonce. Needs root (CI runs as root).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../../infra/paths';
import { moatDrift, moatTag, renderMoatRules, moatRulesPlan, splitFamilies } from '../../infra/model/firewall';
import { moatPaths } from '../../infra/model/moatHost';
import { readMoat, moatRulesProvider, type MoatRulesState } from '../../infra/components/moatRules';
import { readLiveMoat } from '../../infra/components/moatExec';
import { A, MoatLab, nonce, run, type Probe, type ProbeResult } from './lab';

jest.setTimeout(300_000);

const lab = new MoatLab();
let peerIp = '';
let state: MoatRulesState;

interface Case {
  probe: Probe;
  /** With the moat in force. */
  moat: 'open' | 'blocked';
  /** In the lab without the moat: proves a "blocked" above is the moat's doing. */
  bare: 'open' | 'blocked';
  /** What a successful answer must name (role and address, or the resolver's keyed address). */
  from?: string;
}

function v4Cases(): Case[] {
  const tcp = (id: string, host: string, from: string, moat: Case['moat'], bare: Case['bare'] = 'open'): Case => ({
    probe: { id, kind: 'tcp', host, port: 7777, nonce: nonce() },
    moat,
    bare,
    from,
  });
  const udp = (id: string, host: string, from: string, moat: Case['moat']): Case => ({
    probe: { id, kind: 'udp', host, port: 7777, nonce: nonce() },
    moat,
    bare: 'open',
    from,
  });
  const name = `n${nonce()}.cjm.test`;
  const dnsName = () => `n${nonce()}.cjm.test`;
  return [
    tcp('internet tcp', A.internet, `world ${A.internet}`, 'open'),
    udp('internet udp', A.internet, `world ${A.internet}`, 'open'),
    { probe: { id: 'dns via docker', kind: 'lookup', name }, moat: 'open', bare: 'open', from: lab.expectedAddress(name) },
    ...(['dns', 'dnstcp'] as const).flatMap((kind): Case[] => {
      const n1 = dnsName();
      const n2 = dnsName();
      const n3 = dnsName();
      return [
        { probe: { id: `${kind} to the resolver`, kind, server: A.resolver, name: n1 }, moat: 'open', bare: 'open', from: lab.expectedAddress(n1) },
        { probe: { id: `${kind} to a LAN non-resolver`, kind, server: A.nas, name: n2 }, moat: 'blocked', bare: 'open', from: lab.expectedAddress(n2) },
        { probe: { id: `${kind} to an internet non-resolver`, kind, server: A.internet, name: n3 }, moat: 'blocked', bare: 'open', from: lab.expectedAddress(n3) },
      ];
    }),
    tcp('LAN host tcp', A.nas, `world ${A.nas}`, 'blocked'),
    udp('LAN host udp', A.nas, `world ${A.nas}`, 'blocked'),
    tcp('LAN router (the resolver, not port 53)', A.router, `world ${A.router}`, 'blocked'),
    tcp('host: bridge gateway tcp', A.gateway, `host ${A.gateway}`, 'blocked'),
    udp('host: bridge gateway udp', A.gateway, `host ${A.gateway}`, 'blocked'),
    tcp('host: uplink address', A.hostUplink, `host ${A.hostUplink}`, 'blocked'),
    udp('host: uplink address udp', A.hostUplink, `host ${A.hostUplink}`, 'blocked'),
    tcp('cloud metadata', A.metadata, `world ${A.metadata}`, 'blocked'),
    tcp('CGNAT', A.cgnat, `world ${A.cgnat}`, 'blocked'),
    tcp('IETF protocol assignments 192.0.0/24', A.ietf, `world ${A.ietf}`, 'blocked'),
    tcp('benchmarking 198.18/15', A.benchmarking, `world ${A.benchmarking}`, 'blocked'),
    tcp('Azure host services 168.63.129.16', A.azure, `world ${A.azure}`, 'blocked'),
    // Docker's own enable_icc=false already keeps containers apart; the moat drops it too.
    { ...tcp('the other container', peerIp, 'peer', 'blocked'), bare: 'blocked' },
  ];
}

function v6Cases(): Case[] {
  const tcp = (id: string, host: string, from: string): Case => ({
    probe: { id, kind: 'tcp', host, port: 7777, nonce: nonce() },
    moat: 'blocked',
    bare: 'open',
    from,
  });
  return [
    tcp('IPv6 internet', A.internet6, `world ${A.internet6}`),
    { probe: { id: 'IPv6 internet udp', kind: 'udp', host: A.internet6, port: 7777, nonce: nonce() }, moat: 'blocked', bare: 'open', from: 'world' },
    tcp('IPv6 LAN (fc00::/7)', A.lan6, `world ${A.lan6}`),
    tcp('IPv6 host uplink', A.hostUplink6, `host ${A.hostUplink6}`),
    tcp('IPv6 host on the bridge', A.bridge6, `host ${A.bridge6}`),
  ];
}

/** Runs the cases, returns a readable list of the ones that did not behave as expected. */
async function verify(cases: Case[], mode: 'moat' | 'bare', container?: string): Promise<string[]> {
  const results = await lab.probe(cases.map((c) => c.probe), container);
  const wrong: string[] = [];
  for (const c of cases) {
    const want = c[mode];
    const r: ProbeResult | undefined = results[c.probe.id];
    if (!r) {
      wrong.push(`${c.probe.id}: no result`);
      continue;
    }
    if (want === 'open') {
      const proof = c.probe.kind === 'tcp' || c.probe.kind === 'udp' ? r.reply ?? '' : r.address ?? '';
      if (!r.ok || (c.from && !proof.includes(c.from))) wrong.push(`${c.probe.id}: expected an answer from ${c.from}, got ${JSON.stringify(r)}`);
    } else if (r.ok) {
      wrong.push(`${c.probe.id}: expected blocked, but it was answered: ${JSON.stringify(r)}`);
    }
  }
  return wrong;
}

async function moatCheck(): Promise<{ code: number; out: string }> {
  // The CLI itself, run inside the lab's jail host (where its `iptables-save` sees the lab's
  // tables), on the lab's stack file.
  const js = `require(${JSON.stringify(path.join(REPO_ROOT, 'cli/commands/moat'))}).run(process.argv.slice(1), process).then((c) => process.exit(c), (e) => { console.error(e); process.exit(99); })`;
  const r = await run(
    'ip',
    ['netns', 'exec', lab.hostNs, process.execPath, '-r', 'ts-node/register/transpile-only', '-e', js, 'check', '--stack', 'lab', '--cwd', lab.tmpDir],
    { check: false, env: { ...process.env, TS_NODE_PROJECT: path.join(REPO_ROOT, 'tsconfig.json') }, timeoutMs: 120_000 },
  );
  return { code: r.code, out: r.stdout + r.stderr };
}

async function liveSave(): Promise<string> {
  return (await lab.hostSh('iptables-save -t filter; ip6tables-save -t filter')).stdout;
}

beforeAll(async () => {
  try {
    await lab.up({ ipv6: true });
    peerIp = await lab.containerIp(lab.peerContainer);
    lab.writeStackFile();
  } catch (e) {
    await lab.down().catch(() => undefined);
    throw e;
  }
});

afterAll(async () => {
  await lab.down();
  expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(lab.prefix);
});

describe('the moat in a namespace lab, probed from real containers', () => {
  it('without the moat, the lab answers every probe (so "blocked" below is the moat)', async () => {
    expect(await verify(v4Cases(), 'bare')).toEqual([]);
    await lab.armIPv6();
    expect(await verify(v6Cases(), 'bare')).toEqual([]);
  });

  it('pulumi up (the provider create) applies it; moat check is in sync', async () => {
    const inputs = lab.moatInputs();
    const checked = (await moatRulesProvider.check!({}, inputs)).inputs as MoatRulesState;
    const created = await moatRulesProvider.create(checked);
    expect(created.id).toBe(`${lab.prefix}@${lab.dockerHost}`);
    state = created.outs as MoatRulesState;
    expect(state.rules).toBe(renderMoatRules(moatRulesPlan(lab.config, [A.resolver])));
    const check = await moatCheck();
    expect(check.out).toMatch(/in sync/);
    expect(check.code).toBe(0);
  });

  it('the cell reaches the internet and DNS through the resolver, and nothing else', async () => {
    expect(await verify(v4Cases(), 'moat')).toEqual([]);
  });

  it("Docker's embedded DNS forwards the cell's queries as forwarded traffic (DOCKER-USER), not INPUT", async () => {
    await lab.hostSh(`iptables -Z ${lab.prefix}-FWD; iptables -Z ${lab.prefix}-IN`);
    const name = `n${nonce()}.cjm.test`;
    const r = await lab.probe([{ id: 'dns', kind: 'lookup', name }]);
    expect(r.dns).toMatchObject({ ok: true, address: lab.expectedAddress(name) });
    const counted = async (chain: string) => {
      const out = (await lab.hostSh(`iptables -L ${chain} -v -n -x`)).stdout;
      const line = out.split('\n').find((l) => l.includes(`DNS to resolver ${A.resolver}`) && l.includes(' udp '));
      return Number(line?.trim().split(/\s+/)[0] ?? NaN);
    };
    expect(await counted(`${lab.prefix}-FWD`)).toBeGreaterThan(0);
    expect(await counted(`${lab.prefix}-IN`)).toBe(0);
  });

  it('IPv6 goes nowhere, even from a cell that got IPv6 configured', async () => {
    await lab.armIPv6();
    expect(await verify(v6Cases(), 'moat')).toEqual([]);
  });

  it('every rule of the stack carries its clawjail comment', async () => {
    const [v4, v6] = (await liveSave()).split('# Generated by ip6tables-save');
    const isOurs = (l: string) =>
      l.startsWith(`-A ${lab.prefix}-`) || l.includes(`-j ${lab.prefix}-`) || (/^-A (INPUT|DOCKER-USER) /.test(l) && l.includes(`-i ${lab.bridge} `)) ||
      (/^-A DOCKER-USER /.test(l) && l.includes(`-o ${lab.bridge} `) && l.includes(moatTag(lab.prefix)));
    const rules4 = v4.split('\n').filter(isOurs);
    // Docker does not touch ip6tables here: every rule there that names the bridge is ours.
    const rules6 = v6.split('\n').filter((l) => l.startsWith('-A ') && (isOurs(l) || l.includes(lab.bridge)));
    const rendered = splitFamilies(renderMoatRules(moatRulesPlan(lab.config, [A.resolver])));
    expect(rules4.length).toBe(rendered.v4.split('\n').filter((l) => /^-[AI] /.test(l)).length);
    expect(rules6.length).toBe(rendered.v6.split('\n').filter((l) => /^-[AI] /.test(l)).length);
    for (const l of [...rules4, ...rules6]) expect(l).toContain(`--comment "${moatTag(lab.prefix)}`);
  });

  it("dockerd moving its FORWARD jump (delete, then insert at the top, as at each network it makes) during an apply, a refresh and a check: each waits for it to settle", async () => {
    // dockerd's own two calls, in a loop, in the lab host's namespace; stopped by its PID.
    const flicker = spawn('ip', ['netns', 'exec', lab.hostNs, 'sh', '-c', 'while :; do iptables -w -D FORWARD -j DOCKER-USER; iptables -w -I FORWARD -j DOCKER-USER; sleep 0.1; done'], { stdio: 'ignore' });
    const stopped = new Promise((r) => flicker.once('close', r));
    try {
      // Control: one bare read does catch FORWARD without the jump, so the race is real here.
      const plan = moatRulesPlan(lab.config, [A.resolver]);
      let caught = '';
      for (let i = 0; i < 300 && !caught; i++) {
        const d = moatDrift(state.rules, (await readLiveMoat(state.target, plan)).rules);
        if (d.length) caught = d.filter((l) => l.op !== ' ').map((l) => `${l.op} ${l.line}`).join('\n');
      }
      expect(caught).toMatch(/^\+ # dockerd: FORWARD does not start with -j DOCKER-USER/m);
      for (let i = 0; i < 5; i++) {
        state = (await moatRulesProvider.update!(lab.id, state, lab.moatInputs())).outs as MoatRulesState;
        expect(moatDrift(state.rules, (await readMoat(state)).rules)).toEqual([]);
        expect(await moatCheck()).toMatchObject({ code: 0, out: expect.stringMatching(/in sync/) });
      }
    } finally {
      if (flicker.pid !== undefined && flicker.exitCode === null) flicker.kill('SIGTERM');
      await stopped;
      await lab.hostSh('iptables -w -D FORWARD -j DOCKER-USER 2>/dev/null; iptables -w -I FORWARD -j DOCKER-USER');
    }
    // A jump that stays away is drift, settled or not.
    await lab.hostSh('iptables -w -D FORWARD -j DOCKER-USER');
    try {
      expect(await moatCheck()).toMatchObject({ code: 1, out: expect.stringMatching(/DRIFT[^]*FORWARD does not start with -j DOCKER-USER/) });
    } finally {
      await lab.hostSh('iptables -w -I FORWARD -j DOCKER-USER');
    }
    expect((await moatCheck()).code).toBe(0);
  });

  it('an update swaps the rules atomically: a flood during 20 updates never gets through', async () => {
    const withException = { ...lab.moatInputs(), exceptions: [{ ip: A.nas, port: 7777, proto: 'tcp' as const }] };
    const floodNonce = nonce();
    const flood = lab.probe([{ id: 'flood', kind: 'flood', host: A.nas, port: 9999, nonce: floodNonce, durationMs: 12_000 }]);
    for (let i = 0; i < 20; i++) {
      await moatRulesProvider.update!(lab.id, state, i % 2 === 0 ? withException : lab.moatInputs());
    }
    const sent = (await flood).flood;
    expect(sent.ok).toBe(true);
    expect(Number(sent.sent)).toBeGreaterThan(1000);
    expect(await lab.worldCount(floodNonce)).toBe(0);
    // And the control: the same flood without the moat arrives.
    await moatRulesProvider.delete!(lab.id, state);
    const control = nonce();
    await lab.probe([{ id: 'flood', kind: 'flood', host: A.nas, port: 9999, nonce: control, durationMs: 500 }]);
    expect(await lab.worldCount(control)).toBeGreaterThan(0);
    state = (await moatRulesProvider.create(lab.moatInputs())).outs as MoatRulesState;
  });

  it('an egress exception opens exactly that ip:port/proto', async () => {
    const inputs = { ...lab.moatInputs(), exceptions: [{ ip: A.nas, port: 7777, proto: 'tcp' as const }] };
    const d = await moatRulesProvider.diff!(lab.id, state, (await moatRulesProvider.check!(state, inputs)).inputs);
    expect(d.changes).toBe(true);
    const updated = (await moatRulesProvider.update!(lab.id, state, inputs)).outs as MoatRulesState;
    const r = await lab.probe([
      { id: 'nas tcp 7777', kind: 'tcp', host: A.nas, port: 7777, nonce: nonce() },
      { id: 'nas udp 7777', kind: 'udp', host: A.nas, port: 7777, nonce: nonce() },
      { id: 'router tcp 7777', kind: 'tcp', host: A.router, port: 7777, nonce: nonce() },
    ]);
    expect(r['nas tcp 7777']).toMatchObject({ ok: true });
    expect(r['nas tcp 7777'].reply).toContain(`world ${A.nas}`);
    expect(r['nas udp 7777'].ok).toBe(false);
    expect(r['router tcp 7777'].ok).toBe(false);
    state = (await moatRulesProvider.update!(lab.id, updated, lab.moatInputs())).outs as MoatRulesState;
    expect((await lab.probe([{ id: 'nas', kind: 'tcp', host: A.nas, port: 7777, nonce: nonce() }])).nas.ok).toBe(false);
  });

  it('new connections from the cell are limited per address (hashlimit): a connect loop stalls at the rate, and runs free with the rate lifted', async () => {
    const loop = async () => {
      const r = await lab.probe([{ id: 'conn', kind: 'conn', host: A.internet, port: 5002, durationMs: 2000, parallel: 4 }]);
      return { count: Number(r.conn.count), ms: Number(r.conn.ms) };
    };
    const withLimits = async (connLimits: { rate: number; burst: number; max: number }) => {
      const inputs = { ...lab.moatInputs(), connLimits };
      state = (await moatRulesProvider.update!(lab.id, state, (await moatRulesProvider.check!(state, inputs)).inputs)).outs as MoatRulesState;
    };
    try {
      await withLimits({ rate: 10, burst: 10, max: 1024 });
      const limited = await loop();
      // The guard counted what it dropped.
      const guard = (await lab.hostSh(`iptables -L ${lab.prefix}-FWD -v -n -x`)).stdout.split('\n').find((l) => l.includes('conntrack guard: over 10 new'));
      await withLimits({ rate: 10000, burst: 10000, max: 1024 });
      const free = await loop();
      // 10 a second with a burst of 10, over about 2 s (and SYNs retried 1 s later): some 30-40.
      expect(limited.count).toBeLessThanOrEqual(60);
      expect(limited.count).toBeGreaterThanOrEqual(10);
      expect(free.count).toBeGreaterThan(Math.max(200, limited.count * 4));
      expect(Number(guard?.trim().split(/\s+/)[0] ?? 0)).toBeGreaterThan(0);
    } finally {
      state = (await moatRulesProvider.update!(lab.id, state, lab.moatInputs())).outs as MoatRulesState;
    }
    expect((await moatCheck()).code).toBe(0);
  });

  it('moat check and a refresh see a hand-deleted rule', async () => {
    await lab.hostSh(`iptables -D ${lab.prefix}-FWD -d 192.168.0.0/16 -m comment --comment "${moatTag(lab.prefix)}drop private network 192.168/16 (RFC 1918)" -j DROP`);
    // The deleted rule is what kept the LAN out: it matters.
    expect((await lab.probe([{ id: 'nas', kind: 'tcp', host: A.nas, port: 7777, nonce: nonce() }])).nas.ok).toBe(true);
    const check = await moatCheck();
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/DRIFT/);
    expect(check.out).toMatch(/^- -A \S+-FWD -d 192\.168\.0\.0\/16 .*-j DROP$/m);
    const refreshed = await readMoat(state);
    const checked = (await moatRulesProvider.check!(refreshed, lab.moatInputs())).inputs;
    expect((await moatRulesProvider.diff!(lab.id, refreshed, checked)).changes).toBe(true);
    state = (await moatRulesProvider.update!(lab.id, refreshed, lab.moatInputs())).outs as MoatRulesState;
    expect((await moatCheck()).code).toBe(0);
    expect((await lab.probe([{ id: 'nas', kind: 'tcp', host: A.nas, port: 7777, nonce: nonce() }])).nas.ok).toBe(false);
  });

  it('moat check and a refresh see a hand-added rule, in our chain or ahead of our hook', async () => {
    await lab.hostSh(`iptables -I ${lab.prefix}-FWD 1 -d ${A.metadata} -j ACCEPT`);
    expect((await lab.probe([{ id: 'md', kind: 'tcp', host: A.metadata, port: 7777, nonce: nonce() }])).md.ok).toBe(true);
    let check = await moatCheck();
    expect(check.code).toBe(1);
    expect(check.out).toMatch(/^\+ -A \S+-FWD -d 169\.254\.169\.254\/32 -j ACCEPT$/m);
    let refreshed = await readMoat(state);
    expect((await moatRulesProvider.diff!(lab.id, refreshed, (await moatRulesProvider.check!(refreshed, lab.moatInputs())).inputs)).changes).toBe(true);
    state = (await moatRulesProvider.update!(lab.id, refreshed, lab.moatInputs())).outs as MoatRulesState;
    expect((await moatCheck()).code).toBe(0);

    await lab.hostSh(`iptables -I INPUT 1 -i ${lab.bridge} -j ACCEPT`);
    expect((await lab.probe([{ id: 'gw', kind: 'tcp', host: A.gateway, port: 7777, nonce: nonce() }])).gw.ok).toBe(true);
    check = await moatCheck();
    expect(check.code).toBe(1);
    expect(check.out).toMatch(new RegExp(`^\\+ -I INPUT 1 -i ${lab.bridge} -j ACCEPT$`, 'm'));
    refreshed = await readMoat(state);
    expect((await moatRulesProvider.diff!(lab.id, refreshed, (await moatRulesProvider.check!(refreshed, lab.moatInputs())).inputs)).changes).toBe(true);
    // Not ours: `pulumi up` puts our hooks first again; the foreign rule stays, behind them.
    state = (await moatRulesProvider.update!(lab.id, refreshed, lab.moatInputs())).outs as MoatRulesState;
    expect((await moatCheck()).code).toBe(0);
    expect((await lab.probe([{ id: 'gw', kind: 'tcp', host: A.gateway, port: 7777, nonce: nonce() }])).gw.ok).toBe(false);
    await lab.hostSh(`iptables -D INPUT -i ${lab.bridge} -j ACCEPT`);
  });

  it('fails closed: with the hook deleted or the chain flushed, the cell gets nowhere', async () => {
    const hook = `-i ${lab.bridge} -m comment --comment "${moatTag(lab.prefix)}forwarded traffic from the cell bridge goes through the moat" -j ${lab.prefix}-FWD`;
    const probes = (): Probe[] => [
      { id: 'internet', kind: 'tcp', host: A.internet, port: 7777, nonce: nonce() },
      { id: 'nas', kind: 'tcp', host: A.nas, port: 7777, nonce: nonce() },
    ];
    await lab.hostSh(`iptables -D DOCKER-USER ${hook}`);
    let r = await lab.probe(probes());
    expect([r.internet.ok, r.nas.ok]).toEqual([false, false]);
    expect((await moatCheck()).code).toBe(1);
    state = (await moatRulesProvider.update!(lab.id, await readMoat(state), lab.moatInputs())).outs as MoatRulesState;
    await lab.hostSh(`iptables -F ${lab.prefix}-FWD`);
    r = await lab.probe(probes());
    expect([r.internet.ok, r.nas.ok]).toEqual([false, false]);
    state = (await moatRulesProvider.update!(lab.id, await readMoat(state), lab.moatInputs())).outs as MoatRulesState;
    expect((await lab.probe(probes())).internet.ok).toBe(true);
  });

  it('survives a dockerd restart (the lab host runs its own dockerd)', async () => {
    const before = await liveSave();
    await lab.restartDockerd();
    peerIp = await lab.containerIp(lab.peerContainer);
    const after = await liveSave();
    const ours = (s: string) => s.split('\n').filter((l) => l.includes(moatTag(lab.prefix)) || l.startsWith(`:${lab.prefix}-`));
    expect(ours(after)).toEqual(ours(before));
    expect((await moatCheck()).code).toBe(0);
    expect(await verify(v4Cases(), 'moat')).toEqual([]);
    await lab.armIPv6();
    expect(await verify(v6Cases(), 'moat')).toEqual([]);
    // What docker.service's ExecStartPost does after each start: idempotent, still in sync.
    await lab.hostSh(`sh ${moatPaths(lab.prefix, lab.filesRoot).script}`);
    await lab.hostSh(`sh ${moatPaths(lab.prefix, lab.filesRoot).script}`);
    expect((await moatCheck()).code).toBe(0);
  });

  it('reboot (flush everything, boot restore, then dockerd): back before the cell runs', async () => {
    await lab.stopDockerd();
    // The kernel after a reboot: empty tables, default policies.
    await lab.hostSh(
      'for t in filter nat mangle raw; do iptables -t $t -F; iptables -t $t -X; done; iptables -P FORWARD ACCEPT; ' +
        'ip6tables -F; ip6tables -X; ip6tables -P FORWARD ACCEPT',
    );
    expect(await liveSave()).not.toContain(lab.prefix);
    // The boot unit's ExecStart (ordered before docker.service):
    await lab.hostSh(`sh ${moatPaths(lab.prefix, lab.filesRoot).script}`);
    const restored = await liveSave();
    expect(restored).toContain(`-A DOCKER-USER -i ${lab.bridge} -m comment --comment "${moatTag(lab.prefix)}forwarded traffic`);
    expect(restored).toContain(`-A INPUT -i ${lab.bridge} -m comment --comment "${moatTag(lab.prefix)}traffic from the cell bridge`);
    await lab.startDockerd();
    await lab.waitRunning(lab.probeContainer);
    await lab.waitRunning(lab.peerContainer);
    peerIp = await lab.containerIp(lab.peerContainer);
    expect((await moatCheck()).code).toBe(0);
    expect(await verify(v4Cases(), 'moat')).toEqual([]);
    await lab.armIPv6();
    expect(await verify(v6Cases(), 'moat')).toEqual([]);
  });

  it('pulumi destroy (the provider delete) removes every trace', async () => {
    await moatRulesProvider.delete!(lab.id, state);
    const save = await liveSave();
    expect(save).not.toContain(`clawjail/${lab.prefix}`);
    expect(save).not.toContain(`${lab.prefix}-FWD`);
    expect(save).not.toContain(`${lab.prefix}-IN`);
    expect(fs.existsSync(moatPaths(lab.prefix, lab.filesRoot).dir)).toBe(false);
    const check = await moatCheck();
    expect(check.code).toBe(1);
  });
});
