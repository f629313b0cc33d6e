// The egress gate in the pure spec (cellEgress allowlist, the default): who is on which network at
// which address, what the moat lets out, what the cell and the gate are told.
import { parseConfig } from '../../infra/config';
import { buildJailSpec } from '../../infra/model';
import { egressPolicyDocument, egressPolicyWriteScript, openclawGatedConfig, parseEgressPolicy, PLACEHOLDER_KEY } from '../../infra/model/egress';
import { BLOCKED_V4, moatRulesPlan, renderMoatRules } from '../../infra/model/firewall';

const TOKEN = 't'.repeat(40);
const KEY = 'sk-test-' + 'k'.repeat(40);
const parse = (raw: Record<string, string> = {}) => parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw });
const specOf = (raw: Record<string, string> = {}) => buildJailSpec(parse(raw).config);
const role = (raw: Record<string, string>, r: string) => {
  const c = specOf(raw).containers.find((x) => x.role === r);
  if (!c) throw new Error(`no ${r}`);
  return c;
};
const withProviders = {
  modelProviders: JSON.stringify([{ name: 'openai', api: 'openai' }, { name: 'anthropic', api: 'anthropic' }]),
  modelKeys: JSON.stringify({ openai: KEY, anthropic: `${KEY}-2` }),
};

describe('egress gate: the layout', () => {
  const spec = specOf();

  it('is the default: a gate container, an internal link without a host address, a state volume', () => {
    expect(parse().config.cell.egress).toBe('allowlist');
    const link = spec.networks.find((n) => n.name === 'clawjail-gate');
    expect(link).toMatchObject({ internal: true, bridgeName: 'clawjail2', subnet: '172.29.79.0/24' });
    expect(link?.options['com.docker.network.bridge.inhibit_ipv4']).toBe('true');
    expect(spec.volumes.map((v) => v.name)).toContain('clawjail-egress-state');
    for (const r of ['internet', 'none']) {
      const other = specOf({ cellEgress: r, ...(r === 'none' ? { clamdSignatures: 'custom' } : {}) });
      expect(other.containers.map((c) => c.role)).not.toContain('egress');
      expect(other.networks.map((n) => n.name)).not.toContain('clawjail-gate');
    }
  });

  it('puts the cell’s namespace, the gate and freshclam at fixed addresses the moat names', () => {
    const gw = role({}, 'gateway');
    expect(gw.networkAddresses).toEqual({ 'clawjail-cell': '172.29.77.2', 'clawjail-gate': '172.29.79.3' });
    expect(gw.dns).toEqual(['127.0.0.1']);
    expect(gw.ports).toEqual([{ internal: 8443, external: 8443, ip: '127.0.0.1' }, { internal: 8444, external: 8444, ip: '127.0.0.1' }]);
    const gate = role({}, 'egress');
    expect(gate.networks).toEqual(['clawjail-cell', 'clawjail-gate']);
    expect(gate.networkAddresses).toEqual({ 'clawjail-cell': '172.29.77.3', 'clawjail-gate': '172.29.79.2' });
    expect(role({}, 'freshclam').networkAddresses).toEqual({ 'clawjail-cell': '172.29.77.4' });
    const rules = renderMoatRules(moatRulesPlan(parse().config, ['10.255.255.53']));
    expect(rules).toMatch(/-A clawjail-FWD -s 172\.29\.77\.3\/32 -m comment --comment "[^"]*the internet from 172\.29\.77\.3[^"]*" -j ACCEPT/);
    expect(rules).toMatch(/-A clawjail-FWD -s 172\.29\.77\.4\/32 .* -j ACCEPT/);
    expect(rules).toMatch(/-A clawjail-FWD -m comment --comment "[^"]*cellEgress allowlist: nothing else[^"]*" -j DROP/);
    expect(rules).not.toMatch(/-A clawjail-FWD -m comment --comment "[^"]*: the internet" -j ACCEPT/);
    // DNS only from the two that may go out: the cell's namespace (.2) has no resolver.
    expect(rules).not.toMatch(/-A clawjail-FWD -d 10\.255\.255\.53\/32/);
    expect(rules).toMatch(/-A clawjail-IN -s 172\.29\.77\.3\/32 -d 10\.255\.255\.53\/32 -p udp/);
    // The private drops come before any accept of the internet, for the gate too.
    expect(rules.indexOf('drop private network 10/8')).toBeLessThan(rules.indexOf('the internet from 172.29.77.3'));
  });

  it('listens on the link only, resolves through Docker, and is hardened like the rest', () => {
    const gate = role({ moatExtraBlocked: '["203.0.113.0/24"]' }, 'egress');
    expect(gate.env).toMatchObject({
      EGRESS_LISTEN: '172.29.79.2:3128',
      EGRESS_RESOLVER: '127.0.0.11:53',
      EGRESS_POLICY_FILE: '/var/lib/clawjail-egress/policy.json',
      EGRESS_ADMIN_SOCKET: '/var/lib/clawjail-egress/admin.sock',
    });
    // The moat's whole list, then moatExtraBlocked: the gate refuses what the moat drops.
    expect(gate.env.EGRESS_EXTRA_BLOCKED.split(',')).toEqual([...BLOCKED_V4.map((b) => b.cidr), '203.0.113.0/24']);
    expect(gate).toMatchObject({ capDrop: ['ALL'], capAdd: [], readOnlyRootfs: true, user: '10480:10480', runtime: 'runc', ports: [] });
    expect(gate.securityOpts).toContain('no-new-privileges:true');
    expect(gate.mounts).toEqual([{ type: 'volume', source: 'clawjail-egress-state', target: '/var/lib/clawjail-egress', readOnly: false }]);
    // No other container mounts the gate's state (its admin socket, its keys).
    for (const c of specOf().containers.filter((x) => x.role !== 'egress')) {
      expect(c.mounts.map((m) => m.source)).not.toContain('clawjail-egress-state');
    }
  });

  it('tells the cell where the gate is, for the tools that honour it', () => {
    const cell = role({}, 'cell');
    expect(cell.env).toMatchObject({ HTTPS_PROXY: 'http://172.29.79.2:3128', http_proxy: 'http://172.29.79.2:3128', NODE_USE_ENV_PROXY: '1' });
    expect(cell.env.NO_PROXY.split(',')).toContain('172.29.79.2');
    expect(role({ cellEgress: 'internet' }, 'cell').env.HTTPS_PROXY).toBeUndefined();
  });
});

describe('egress gate: config', () => {
  it('normalises the allowlist and refuses entries the gate would not read as names', () => {
    expect(parse({ egressAllow: '["b.example.org","*.example.com:8443","b.example.org"]' }).config.egress.allow).toEqual(['*.example.com:8443', 'b.example.org']);
    for (const bad of ['198.51.100.7', 'https://x.example.org', 'x.example.org/path', 'Upper.Example.org', 'x.example.org:0', 'x.example.org:99999', '*', 'localhost', 'a b.example.org']) {
      expect(() => parse({ egressAllow: JSON.stringify([bad]) })).toThrow(/egressAllow/);
    }
    expect(egressPolicyDocument(parse({ egressAllow: '["z.example.org","a.example.org"]', egressDeny: '["bad.example.org"]' }).config)).toEqual({
      allow: ['a.example.org', 'z.example.org'],
      deny: ['bad.example.org'],
    });
  });

  it('refuses overlapping or public internal networks and clashing bridge names', () => {
    expect(() => parse({ gateSubnet: '172.29.78.0/24' })).toThrow(/gateSubnet = "172.29.78.0\/24": overlaps clawjail:scanSubnet/);
    expect(() => parse({ gateSubnet: '198.51.100.0/24' })).toThrow(/gateSubnet.*private range/);
    expect(() => parse({ gateBridgeName: 'clawjail0' })).toThrow(/gateBridgeName = "clawjail0": must differ from clawjail:bridgeName/);
  });

  it('model providers: keys go into the gate’s providers file only; the cell gets routes and a placeholder', () => {
    const { config, secrets } = parse(withProviders);
    const file = JSON.parse(secrets.egressProviders) as { providers: { name: string; baseUrl: string; header: string; prefix: string; key: string }[] };
    expect(file.providers).toEqual([
      { name: 'openai', baseUrl: 'https://api.openai.com/v1', header: 'authorization', prefix: 'Bearer ', key: KEY },
      { name: 'anthropic', baseUrl: 'https://api.anthropic.com', header: 'x-api-key', prefix: '', key: `${KEY}-2` },
    ]);
    const spec = buildJailSpec(config);
    // Nowhere in the declared containers, the cell least of all, is a key in the clear.
    expect(JSON.stringify(spec)).not.toContain(KEY);
    const gate = spec.containers.find((c) => c.role === 'egress');
    expect(gate?.secretFiles).toEqual({ '/var/lib/clawjail-egress/providers.json': 'egressProviders' });
    const oc = openclawGatedConfig(config) as { models: { providers: Record<string, { baseUrl: string; apiKey: string; api?: string }> } };
    expect(oc.models.providers.openai).toEqual({ baseUrl: 'http://172.29.79.2:3128/providers/openai', apiKey: PLACEHOLDER_KEY });
    expect(oc.models.providers.anthropic).toEqual({ baseUrl: 'http://172.29.79.2:3128/providers/anthropic', apiKey: PLACEHOLDER_KEY });
    const cell = spec.containers.find((c) => c.role === 'cell');
    expect(JSON.parse(cell?.env.CLAWJAIL_OPENCLAW_CONFIG ?? '{}')).toEqual(openclawGatedConfig(config));
  });

  it('model providers: bad shapes, missing keys, keys without a provider, providers without the gate', () => {
    expect(() => parse({ modelProviders: '[{"name":"openai","api":"openai"}]' })).toThrow(/modelKeys\.openai is required/);
    expect(() => parse({ ...withProviders, modelKeys: JSON.stringify({ openai: KEY, anthropic: KEY, other: KEY }) })).toThrow(/key for "other"/);
    expect(() => parse({ modelProviders: '[{"name":"x","api":"gemini"}]', modelKeys: '{"x":"k"}' })).toThrow(/api = "gemini"/);
    expect(() => parse({ modelProviders: '[{"name":"mine","api":"openai"}]', modelKeys: '{"mine":"k"}' })).toThrow(/name = "mine": must be one of OpenClaw's bundled providers/);
    expect(() => parse({ modelProviders: '[{"name":"openai","api":"openai","baseUrl":"http://198.51.100.7/v1"}]', modelKeys: '{"openai":"k"}' })).toThrow(/baseUrl/);
    expect(() => parse({ modelProviders: '[{"name":"x","api":"openai","key":"sk"}]' })).toThrow(/unknown field key/);
    expect(() => parse({ ...withProviders, cellEgress: 'internet' })).toThrow(/only with clawjail:cellEgress = "allowlist"/);
    // A bad modelKeys value is never echoed back.
    let message = '';
    try {
      parse({ ...withProviders, modelKeys: `not json ${KEY}` });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/modelKeys: must be a secret JSON object/);
    expect(message).not.toContain(KEY);
    // Tools without the passphrase (render, check) read the stack without its keys.
    expect(parseConfig({ modelProviders: withProviders.modelProviders }, { requireSecrets: false }).config.egress.providers).toHaveLength(2);
  });
});

describe('egress gate: the policy file', () => {
  it('is written atomically into the gate, quoted for the shell, and read back normalised', () => {
    const script = egressPolicyWriteScript('clawjail-egress', { allow: ["it's.example.org"], deny: [] });
    expect(script).toContain(`docker exec -i clawjail-egress sh -c`);
    expect(script).toContain(`'{"allow":["it'\\''s.example.org"],"deny":[]}'`);
    expect(script).toMatch(/mv -f \/var\/lib\/clawjail-egress\/policy\.json\.stack\.tmp \/var\/lib\/clawjail-egress\/policy\.json/);
    expect(parseEgressPolicy('{"allow":["b.example.org","a.example.org","a.example.org"]}\n')).toEqual({ allow: ['a.example.org', 'b.example.org'], deny: [], problem: null });
    expect(parseEgressPolicy('missing\n').problem).toBe('no policy file');
    expect(parseEgressPolicy('{oops').problem).toMatch(/not JSON/);
  });
});
