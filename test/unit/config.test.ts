import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, CONFIG_DEFAULTS, isPinnedImageRef, parseConfig, type RawConfig } from '../../infra/config';
import { loadStackConfig, readStackRaw } from '../../infra/stackFile';

const TOKEN = 'x'.repeat(40);

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('stack config', () => {
  it('gives safe defaults for everything but the secret', () => {
    const { config, secrets } = parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN });
    expect(config.cell).toMatchObject({ memoryMb: 2048, cpus: 1, pidsLimit: 256, runtime: 'runc' });
    expect(config.allowedPublishAddresses).toEqual([]);
    expect(secrets.openclawToken).toBe(TOKEN);
  });

  it('requires the operator token as a secret and says how to set it', () => {
    expect(() => parseConfig({})).toThrow(/clawjail:openclawToken is required.*pulumi config set --secret/s);
  });

  it('never prints a secret back', () => {
    try {
      parseConfig({ openclawToken: 'short-secret-value' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).toMatch(/openclawToken: must be at least 32 characters/);
      expect((e as Error).message).not.toContain('short-secret-value');
    }
  });

  it.each([
    ['cellMemoryMb', '1024', /clawjail:cellMemoryMb = "1024": must be a whole number from 1536 to 65536/],
    ['cellMemoryMb', '2g', /cellMemoryMb.*whole number/],
    ['cellCpus', '0', /clawjail:cellCpus = "0": must be a number from 0.1/],
    ['cellPidsLimit', '10', /cellPidsLimit.*from 64 to 4096/],
    ['cellRuntime', 'kata', /clawjail:cellRuntime = "kata": must be one of runc, runsc/],
    ['cellRestart', 'sometimes', /cellRestart.*one of no, on-failure, always, unless-stopped/],
    ['bridgeName', 'a-very-long-bridge-name', /bridgeName.*1-15/],
    ['subnet', '10.0.0.0/33', /subnet.*IPv4 CIDR/],
    ['nodeBaseImage', 'node:latest', /nodeBaseImage.*never latest/],
    ['nodeBaseImage', 'node', /nodeBaseImage.*pinned/],
    ['openclawVersion', '^2026.9.6', /openclawVersion.*exact version/],
    ['workspaceHostPath', 'relative/dir', /workspaceHostPath.*under \/srv\/clawjail\/ or \/var\/lib\/clawjail\//],
    ['workspaceHostPath', '/srv/clawjail/../../etc', /workspaceHostPath/],
    ['workspaceHostPath', '/home/alice/work', /workspaceHostPath/],
    ['workspaceHostPath', '/run/user/1000', /workspaceHostPath/],
    ['workspaceHostPath', '/srv/clawjail/', /workspaceHostPath/],
    ['allowedPublishAddresses', '192.168.1.10', /allowedPublishAddresses.*JSON list/],
    ['allowedPublishAddresses', '["999.1.1.1"]', /999\.1\.1\.1: must be IPv4/],
    ['namePrefix', 'Bad_Prefix', /namePrefix/],
    ['dockerHost', 'http://x', /dockerHost.*unix:\/\/\/path, ssh:\/\/user@host/],
  ])('rejects %s = %s naming the key and what is allowed', (key, value, re) => {
    const problems = problemsOf({ [key]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(re);
  });

  it('reports every bad key at once', () => {
    expect(problemsOf({ cellCpus: 'many', cellPidsLimit: '1', logMaxFiles: '0' })).toHaveLength(3);
  });

  it('refuses unknown keys (typos would otherwise fall back to a default silently)', () => {
    expect(problemsOf({ cellMemory: '4096' })[0]).toMatch(/clawjail:cellMemory is not a setting of clawjail/);
  });

  it('accepts what the README documents', () => {
    expect(
      problemsOf({
        cellMemoryMb: '4096',
        cellCpus: '1.5',
        cellRuntime: 'runsc',
        workspaceHostPath: '/srv/clawjail/sandbox_data',
        allowedPublishAddresses: '["192.168.1.10"]',
        dockerHost: 'ssh://admin@jailhost',
      }),
    ).toEqual([]);
  });

  it.each([
    ['node:24-bookworm-slim', true],
    ['registry.local:5000/node:24', true],
    [`node@sha256:${'a'.repeat(64)}`, true],
    ['node:latest', false],
    ['registry.local:5000/node', false],
    ['node', false],
  ])('pinned image reference %s -> %s', (ref, ok) => {
    expect(isPinnedImageRef(ref)).toBe(ok);
  });
});

describe('stack files', () => {
  const root = path.resolve(__dirname, '..', '..');

  it('Pulumi.dev.yaml spells out exactly the defaults', () => {
    const raw = readStackRaw(path.join(root, 'Pulumi.dev.yaml'));
    expect(raw).toEqual(CONFIG_DEFAULTS);
  });

  it('typed values and YAML lists (as `pulumi config set --type`/`--path` write them) read as Pulumi\'s string spelling does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cj-stackfile-'));
    try {
      const typed = path.join(dir, 'typed.yaml');
      const strings = path.join(dir, 'strings.yaml');
      fs.writeFileSync(typed, [
        'config:',
        '  clawjail:cellMemoryMb: 4096',
        '  clawjail:moatSudo: true',
        '  clawjail:egressAllow:',
        '    - api.example.com',
        "    - '*.example.org:8443'",
        '  clawjail:egressExceptions: []',
        '  clawjail:modelProviders:',
        '    - name: openai',
        '      api: openai',
        '  clawjail:modelKeys:',
        '    openai:',
        '      secure: v1:AAAA',
        '',
      ].join('\n'));
      fs.writeFileSync(strings, [
        'config:',
        '  clawjail:cellMemoryMb: "4096"',
        '  clawjail:moatSudo: "true"',
        `  clawjail:egressAllow: '["api.example.com","*.example.org:8443"]'`,
        '  clawjail:egressExceptions: "[]"',
        `  clawjail:modelProviders: '[{"name":"openai","api":"openai"}]'`,
        '',
      ].join('\n'));
      const a = readStackRaw(typed);
      expect(a).toEqual(readStackRaw(strings));
      // the secret (an object holding { secure }) is left out, not turned into text
      expect(a).not.toHaveProperty('modelKeys');
      const parse = (raw: RawConfig) => parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw }, { requireSecrets: false }).config;
      const config = parse(a);
      expect(config).toEqual(parse(readStackRaw(strings)));
      expect(config.cell.memoryMb).toBe(4096);
      expect([...config.egress.allow].sort()).toEqual(['*.example.org:8443', 'api.example.com']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads a stack without its secrets for the CLI', () => {
    expect(loadStackConfig('dev', root).namePrefix).toBe('clawjail');
  });
});
