// The moat's apply/read/remove against the real iptables and ip6tables of a network namespace
// this test creates (no containers, no traffic): the rendered text is what the kernel ends up
// with, applying is idempotent, two stacks coexist, removal leaves nothing. Needs root.
import * as crypto from 'crypto';
import * as fs from 'fs';
import { parseConfig } from '../../infra/config';
import { moatRulesInputs } from '../../infra/components/moat';
import { readLiveMoat, resolveResolvers, runOnHost } from '../../infra/components/moatExec';
import { applyMoat, readMoat, removeMoat, type MoatRulesInputs } from '../../infra/components/moatRules';
import { hostResolvers, moatDrift, moatRulesPlan, renderMoatRules } from '../../infra/model/firewall';
import { moatPaths, type MoatTarget } from '../../infra/model/moatHost';
import { cellNetworkSpec } from '../../infra/model/network';
import { run } from './lab';

jest.setTimeout(60_000);

const id = crypto.randomBytes(2).toString('hex');
const ns = `cjm${id}r`;
const root = `/tmp/cjm${id}r-root`;
const target: MoatTarget = { dockerHost: 'unix:///var/run/docker.sock', sudo: false, wrap: ['ip', 'netns', 'exec', ns], root };

function inputs(prefix: string, raw: Record<string, string> = {}): MoatRulesInputs {
  const config = parseConfig(
    { namePrefix: prefix, bridgeName: `${prefix}0`, dnsResolvers: '["192.168.77.1","10.255.255.53"]', moatBootRestore: 'none', ...raw },
    { requireSecrets: false },
  ).config;
  return { ...moatRulesInputs(config, cellNetworkSpec(config)), target };
}

const sh = async (script: string) => (await run('ip', ['netns', 'exec', ns, 'sh', '-c', script])).stdout;
const save = () => sh('iptables-save -t filter; ip6tables-save -t filter');

beforeAll(async () => {
  await run('ip', ['netns', 'add', ns]);
  // What dockerd sets up in the filter table, so the moat hooks in where it will on a real host.
  await sh('iptables -N DOCKER-USER && iptables -A DOCKER-USER -j RETURN && iptables -A FORWARD -j DOCKER-USER');
});

afterAll(async () => {
  await run('ip', ['netns', 'del', ns], { check: false });
  fs.rmSync(root, { recursive: true, force: true });
  expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(ns);
});

describe('the moat on a real kernel', () => {
  const a = `cjm${id}a`;
  const b = `cjm${id}b`;

  it('reads back exactly what it rendered, with exceptions, several resolvers and IPv6', async () => {
    const i = inputs(a, { egressExceptions: '["192.168.77.10:7777","10.1.2.3:53/udp"]' });
    const st = await applyMoat(i); // throws unless the live rules are the declared ones
    const config = parseConfig({ namePrefix: a, bridgeName: `${a}0`, egressExceptions: '["192.168.77.10:7777","10.1.2.3:53/udp"]' }, { requireSecrets: false }).config;
    expect(st.rules).toBe(renderMoatRules(moatRulesPlan(config, ['192.168.77.1', '10.255.255.53'])));
    const live = await readLiveMoat(target, { namePrefix: a, bridgeName: `${a}0`, subnet: i.subnet, resolvers: st.resolvers, exceptions: i.exceptions });
    expect(moatDrift(st.rules, live.rules)).toEqual([]);
    expect(await save()).toMatch(new RegExp(`^-A DOCKER-USER -i ${a}0 -m comment --comment "clawjail/${a}: forwarded`, 'm'));
  });

  it('applying again (pulumi up, boot, after dockerd starts) changes nothing and adds no duplicate hooks', async () => {
    const before = await save();
    await applyMoat(inputs(a, { egressExceptions: '["192.168.77.10:7777","10.1.2.3:53/udp"]' }));
    await sh(`sh ${moatPaths(a, root).script}; sh ${moatPaths(a, root).script}`);
    const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(strip(await save())).toBe(strip(before));
  });

  it('an update replaces the rules (fewer exceptions) in place', async () => {
    const st = await applyMoat(inputs(a));
    expect(await save()).not.toContain('192.168.77.10/32');
    expect(moatDrift(st.rules, (await readMoat(st)).rules)).toEqual([]);
  });

  it('a second stack on the same host coexists; removing one leaves the other intact', async () => {
    const sa = await applyMoat(inputs(a));
    const sb = await applyMoat(inputs(b, { cellEgress: 'none', clamdSignatures: 'custom' }));
    expect(moatDrift(sa.rules, (await readMoat(sa)).rules)).toEqual([]);
    expect(moatDrift(sb.rules, (await readMoat(sb)).rules)).toEqual([]);
    await removeMoat(inputs(b));
    const s = await save();
    expect(s).not.toContain(b);
    expect(moatDrift(sa.rules, (await readMoat(sa)).rules)).toEqual([]);
  });

  it('removal takes hand-made jumps to its chains along, and every file', async () => {
    await sh(`iptables -A OUTPUT -j ${a}-IN; iptables -I ${a}-FWD 1 -j ACCEPT; ip6tables -A OUTPUT -j ${a}-FWD`);
    await removeMoat(inputs(a));
    const s = await save();
    expect(s).not.toContain(a);
    expect(s).toContain('-A FORWARD -j DOCKER-USER'); // Docker's own rules stay
    expect(s).toContain('-A DOCKER-USER -j RETURN');
    expect(fs.existsSync(moatPaths(a, root).dir)).toBe(false);
    await removeMoat(inputs(a)); // and removing twice is fine
  });

  (fs.existsSync('/run/systemd/system') ? it.skip : it)(
    'refuses a systemd boot restore on a host without systemd, and applies nothing',
    async () => {
      await expect(applyMoat(inputs(a, { moatBootRestore: 'systemd' }))).rejects.toThrow(/moatBootRestore is systemd, but .* does not run systemd/);
      expect(await save()).not.toContain(a);
    },
  );

  it('"auto" resolvers are read from the Docker host (here: this machine), as dockerd reads them', async () => {
    const local: MoatTarget = { dockerHost: 'unix:///var/run/docker.sock', sudo: false };
    const got = await resolveResolvers(local, 'auto');
    const file = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '');
    expect(got).toEqual(
      hostResolvers({ daemonJson: file('/etc/docker/daemon.json'), resolvConf: file('/etc/resolv.conf'), systemdResolvConf: file('/run/systemd/resolve/resolv.conf') }),
    );
    expect(got.length).toBeGreaterThan(0);
    await expect(runOnHost({ dockerHost: 'unix:///x', sudo: false, wrap: ['false'] }, 'true')).rejects.toThrow(/moat command on this machine failed/);
  });

  it('reading without root fails loudly (check says "cannot tell", never "drift" or "in sync")', async () => {
    const plan = { namePrefix: a, bridgeName: `${a}0`, subnet: '172.29.77.0/24', resolvers: [], exceptions: [] };
    const nobody: MoatTarget = { ...target, wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] };
    await expect(readLiveMoat(nobody, plan)).rejects.toThrow(/moat command on this machine failed.*(root|Permission denied)/s);
  });
});
