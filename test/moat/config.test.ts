// The moat's stack settings.
import * as path from 'path';
import { ConfigError, CONFIG_DEFAULTS, parseConfig, parseEgressException, SECRET_KEYS } from '../../infra/config';
import { MOAT_CONN_LIMIT_DEFAULTS, moatRulesPlan } from '../../infra/model/firewall';
import { loadStackConfig, readStackRaw } from '../../infra/stackFile';

const SECRETS = Object.fromEntries(SECRET_KEYS.map((k) => [k, 'x'.repeat(48)]));
const root = path.resolve(__dirname, '..', '..');

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseConfig({ ...SECRETS, ...raw });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('moat settings', () => {
  it('defaults: the Docker host\'s own resolvers, no exceptions, no sudo, systemd boot restore', () => {
    const { config } = parseConfig({ ...SECRETS });
    expect(config.moat).toEqual({
      dnsResolvers: 'auto',
      egressExceptions: [],
      extraBlocked: [],
      sudo: false,
      bootRestore: 'systemd',
      connLimits: { ...MOAT_CONN_LIMIT_DEFAULTS },
    });
    expect(CONFIG_DEFAULTS).toMatchObject({ dnsResolvers: 'auto', egressExceptions: '[]', moatExtraBlocked: '[]', moatSudo: 'false', moatBootRestore: 'systemd' });
    // One set of numbers: the config's defaults are the renderer's.
    expect([CONFIG_DEFAULTS.moatConnRate, CONFIG_DEFAULTS.moatConnBurst, CONFIG_DEFAULTS.moatConnMax].map(Number)).toEqual([
      MOAT_CONN_LIMIT_DEFAULTS.rate,
      MOAT_CONN_LIMIT_DEFAULTS.burst,
      MOAT_CONN_LIMIT_DEFAULTS.max,
    ]);
  });

  it('reads the connection limits into the plan the rules are rendered from', () => {
    const { config } = parseConfig({ ...SECRETS, moatConnRate: '5', moatConnBurst: '10000', moatConnMax: '16' });
    expect(config.moat.connLimits).toEqual({ rate: 5, burst: 10000, max: 16 });
    expect(moatRulesPlan(config, ['10.255.255.53']).connLimits).toEqual({ rate: 5, burst: 10000, max: 16 });
  });

  it('reads explicit resolvers and exceptions', () => {
    const { config } = parseConfig({
      ...SECRETS,
      dnsResolvers: '["192.168.1.1", "1.1.1.1"]',
      egressExceptions: '["192.168.1.50:11434", "10.0.0.7:5353/udp", "172.16.0.9:8080/tcp"]',
      moatExtraBlocked: '["192.0.2.0/24"]',
      moatSudo: 'true',
      moatBootRestore: 'none',
    });
    expect(config.moat).toEqual({
      dnsResolvers: ['192.168.1.1', '1.1.1.1'],
      egressExceptions: [
        { ip: '192.168.1.50', port: 11434, proto: 'tcp' },
        { ip: '10.0.0.7', port: 5353, proto: 'udp' },
        { ip: '172.16.0.9', port: 8080, proto: 'tcp' },
      ],
      extraBlocked: ['192.0.2.0/24'],
      sudo: true,
      bootRestore: 'none',
      connLimits: { ...MOAT_CONN_LIMIT_DEFAULTS },
    });
  });

  it.each([
    ['dnsResolvers', '192.168.1.1', /clawjail:dnsResolvers = "192\.168\.1\.1": must be a JSON list/],
    ['dnsResolvers', '["127.0.0.53"]', /clawjail:dnsResolvers .*127\.0\.0\.53: must be IPv4 addresses that are not loopback/],
    ['dnsResolvers', '["dns.google"]', /dnsResolvers.*dns\.google/],
    ['dnsResolvers', '[]', /clawjail:dnsResolvers = "\[\]": must list at least one resolver, or be "auto"/],
    ['egressExceptions', '["192.168.1.50"]', /clawjail:egressExceptions .*192\.168\.1\.50: must be "ip:port"/],
    ['egressExceptions', '["192.168.1.50:0"]', /egressExceptions.*port 1-65535/],
    ['egressExceptions', '["192.168.1.50:80/icmp"]', /egressExceptions/],
    ['egressExceptions', '["host.lan:80"]', /egressExceptions/],
    ['moatExtraBlocked', '["192.0.2.0"]', /clawjail:moatExtraBlocked .*192\.0\.2\.0: must be IPv4 networks/],
    ['moatSudo', 'yes', /clawjail:moatSudo = "yes": must be one of false, true/],
    ['moatBootRestore', 'cron', /clawjail:moatBootRestore = "cron": must be one of systemd, none/],
    ['moatConnRate', '0', /clawjail:moatConnRate = "0": must be a whole number from 1 to 10000 \(new connections a second, per source address\)/],
    ['moatConnRate', 'off', /clawjail:moatConnRate = "off": must be a whole number from 1 to 10000/],
    ['moatConnBurst', '10001', /clawjail:moatConnBurst = "10001": must be a whole number from 1 to 10000/],
    ['moatConnMax', '15', /clawjail:moatConnMax = "15": must be a whole number from 16 to 1048576/],
    ['moatConnMax', '1.5', /clawjail:moatConnMax/],
    ['dockerHost', 'tcp://10.0.0.5:2376', /clawjail:dockerHost = "tcp:\/\/10\.0\.0\.5:2376": the moat applies its firewall through a shell/],
  ])('rejects %s = %s naming the key and what is allowed', (key, value, re) => {
    const problems = problemsOf({ [key]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(re);
  });

  it.each([
    ['1.2.3.4:80', { ip: '1.2.3.4', port: 80, proto: 'tcp' }],
    ['1.2.3.4:65535/udp', { ip: '1.2.3.4', port: 65535, proto: 'udp' }],
    ['1.2.3.4:080', undefined],
    ['1.2.3.4:65536', undefined],
    ['0.0.0.0:80', undefined],
    ['256.1.1.1:80', undefined],
  ])('exception %s', (s, want) => {
    expect(parseEgressException(s)).toEqual(want);
  });
});

describe('moat stack files', () => {
  it('Pulumi.dev.yaml spells the moat defaults out', () => {
    const raw = readStackRaw(path.join(root, 'Pulumi.dev.yaml'));
    for (const k of ['dnsResolvers', 'egressExceptions', 'moatExtraBlocked', 'moatSudo', 'moatBootRestore', 'moatConnRate', 'moatConnBurst', 'moatConnMax'] as const) {
      expect(raw[k]).toBe(CONFIG_DEFAULTS[k]);
    }
  });

  it('Pulumi.remote-example.yaml is a valid stack on a remote Docker host over ssh', () => {
    const config = loadStackConfig('remote-example', root);
    expect(config.dockerHost).toMatch(/^ssh:\/\/[^@]+@/);
    expect(config.moat.sudo).toBe(true);
    expect(config.moat.egressExceptions).toEqual([{ ip: '192.168.1.50', port: 11434, proto: 'tcp' }]);
  });
});
