// The moat's dynamic provider: diff/read logic and the config-to-inputs mapping, pure; and the
// provider as Pulumi serializes it, evaluated on its own.
import * as pulumi from '@pulumi/pulumi';
import { parseConfig } from '../../infra/config';
import { moatRulesInputs } from '../../infra/components/moat';
import {
  declaredMoat,
  moatId,
  moatRulesDiff,
  moatRulesProvider,
  stateFromLive,
  type MoatRulesInputs,
  type MoatRulesState,
} from '../../infra/components/moatRules';
import { renderMoatRules } from '../../infra/model/firewall';
import { cellNetworkSpec } from '../../infra/model/network';

const config = (raw: Record<string, string> = {}) => parseConfig({ dnsResolvers: '["10.255.255.53"]', ...raw }, { requireSecrets: false }).config;
const inputsOf = (raw: Record<string, string> = {}): MoatRulesInputs => {
  const c = config(raw);
  return moatRulesInputs(c, cellNetworkSpec(c));
};
/** What `check` makes of the inputs (explicit resolvers: no I/O). */
const checked = (i: MoatRulesInputs): MoatRulesState => {
  const d = declaredMoat(i, i.dnsResolvers === 'auto' ? [] : i.dnsResolvers);
  return { ...i, resolvers: d.plan.resolvers, rules: d.rules, files: d.files };
};

describe('config to the moat resource', () => {
  it('maps the stack config: host, prefix, bridge, resolvers, exceptions, boot restore', () => {
    const i = inputsOf({ egressExceptions: '["192.168.1.50:11434"]', dockerHost: 'ssh://deploy@jailhost', moatSudo: 'true', cellEgress: 'internet' });
    expect(i).toEqual({
      target: { dockerHost: 'ssh://deploy@jailhost', sudo: true },
      namePrefix: 'clawjail',
      bridgeName: 'clawjail0',
      subnet: '172.29.77.0/24',
      dnsResolvers: ['10.255.255.53'],
      exceptions: [{ ip: '192.168.1.50', port: 11434, proto: 'tcp' }],
      extraBlocked: [],
      internet: true,
      connLimits: { rate: 50, burst: 250, max: 1024 },
      bootRestore: 'systemd',
    });
    expect(moatId(i)).toBe('clawjail@ssh://deploy@jailhost');
  });

  it('without egress (cellEgress none) the moat drops the internet and lets no DNS out', () => {
    const i = inputsOf({ cellEgress: 'none', clamdSignatures: 'custom' });
    expect(i.internet).toBe(false);
    const { rules } = declaredMoat(i, []);
    expect(rules).not.toMatch(/the internet" -j ACCEPT/);
    expect(rules).toMatch(/no egress.* -j DROP/);
    expect(rules).not.toMatch(/--dport 53 .* -j ACCEPT/);
  });

  it('with the egress gate (cellEgress allowlist, the default) only the gate and freshclam go out', () => {
    const i = inputsOf();
    expect(i.internet).toBe(true);
    expect(i.internetFrom).toEqual(['172.29.77.3', '172.29.77.4']);
    expect(inputsOf({ clamdSignatures: 'custom' }).internetFrom).toEqual(['172.29.77.3']);
    expect(inputsOf({ cellEgress: 'internet' }).internetFrom).toBeUndefined();
  });

  it('declares the rules the renderer renders and the hashes of the files it installs', () => {
    const i = inputsOf();
    const d = declaredMoat(i, ['10.255.255.53']);
    expect(d.rules).toBe(renderMoatRules({ namePrefix: 'clawjail', bridgeName: 'clawjail0', subnet: '172.29.77.0/24', resolvers: ['10.255.255.53'], exceptions: [], extraBlocked: [], internet: true, internetFrom: ['172.29.77.3', '172.29.77.4'] }));
    expect(Object.keys(d.files)).toEqual([
      '/etc/clawjail/moat-clawjail.v4.rules',
      '/etc/clawjail/moat-clawjail.v6.rules',
      '/etc/clawjail/moat-clawjail.sh',
      '/etc/systemd/system/clawjail-moat-clawjail.service',
      '/etc/systemd/system/docker.service.d/clawjail-moat-clawjail.conf',
    ]);
    for (const h of Object.values(d.files)) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('diff', () => {
  const news = checked(inputsOf());

  it('no changes when the state (live after a refresh) is what the inputs declare', () => {
    expect(moatRulesDiff(news, news)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it('an update when a rule was deleted or added by hand (seen by read)', () => {
    const deleted = stateFromLive(news, { rules: news.rules.replace(/^-A clawjail-FWD -d 10\.0\.0\.0\/8 .*\n/m, ''), files: news.files });
    expect(moatRulesDiff(deleted, news)).toMatchObject({ changes: true, replaces: [] });
    const added = stateFromLive(news, { rules: news.rules.replace('*filter\n:clawjail-FWD - [0:0]\n:clawjail-IN - [0:0]\n', '*filter\n:clawjail-FWD - [0:0]\n:clawjail-IN - [0:0]\n-A clawjail-FWD -j ACCEPT\n'), files: news.files });
    expect(moatRulesDiff(added, news).changes).toBe(true);
    expect(moatRulesDiff(stateFromLive(news, { rules: '', files: news.files }), news).changes).toBe(true);
  });

  it('an update when an installed file was changed or removed', () => {
    const files = { ...news.files, '/etc/clawjail/moat-clawjail.sh': 'missing' };
    expect(moatRulesDiff(stateFromLive(news, { rules: news.rules, files }), news).changes).toBe(true);
  });

  it('an update for new exceptions, resolvers, bridge, sudo or boot restore', () => {
    for (const raw of <Record<string, string>[]>[
      { egressExceptions: '["192.168.1.50:11434"]' },
      { dnsResolvers: '["1.1.1.1"]' },
      { bridgeName: 'jail1' },
      { moatSudo: 'true' },
      { moatBootRestore: 'none' },
      { moatExtraBlocked: '["192.0.2.0/24"]' },
      { moatConnRate: '51' },
      { moatConnBurst: '251' },
      { moatConnMax: '1025' },
    ]) {
      expect(moatRulesDiff(news, checked(inputsOf(raw)))).toMatchObject({ changes: true, replaces: [] });
    }
  });

  it('state from before the limits existed declares the default limits (no limits is never the fallback)', () => {
    const { connLimits, ...older } = inputsOf();
    expect(connLimits).toEqual({ rate: 50, burst: 250, max: 1024 });
    expect(declaredMoat(older, ['10.255.255.53']).rules).toBe(declaredMoat(inputsOf(), ['10.255.255.53']).rules);
  });

  it('a replacement for another Docker host or another prefix (another moat), created before the old one goes', () => {
    expect(moatRulesDiff(news, checked(inputsOf({ dockerHost: 'ssh://deploy@other' })))).toEqual({ changes: true, replaces: ['target'], deleteBeforeReplace: false });
    expect(moatRulesDiff(news, checked(inputsOf({ namePrefix: 'jail2' }))).replaces).toEqual(['namePrefix']);
  });

  it('the provider diff needs no I/O: it compares the checked inputs', async () => {
    await expect(moatRulesProvider.diff!('x', news, news)).resolves.toMatchObject({ changes: false });
  });
});

describe('as Pulumi serializes it', () => {
  it('captures only the pure modules and Node built-ins, and still works on its own', async () => {
    const sf = await pulumi.runtime.serializeFunction(() => moatRulesProvider, { allowSecrets: true });
    expect(sf.containsSecrets).toBe(false);
    expect(sf.text).not.toMatch(/require\(["']@pulumi/);
    expect(sf.text).not.toMatch(/require\(["']\./);
    // Evaluated like the dynamic provider host does: a module of its own, nothing in scope.
    const mod = { exports: {} as { handler: () => pulumi.dynamic.ResourceProvider } };
    new Function('exports', 'module', 'require', sf.text)(mod.exports, mod, require);
    const p = mod.exports.handler();
    const news = checked(inputsOf());
    const drifted = stateFromLive(news, { rules: '', files: news.files });
    await expect(p.diff!('x', news, news)).resolves.toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
    await expect(p.diff!('x', drifted, news)).resolves.toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  }, 60_000);
});
