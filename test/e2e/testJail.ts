// The end-to-end tests' stack config: the dev defaults, changed only where this machine needs
// it, and always through the same parseConfig/buildJailSpec as the real stack.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hostBuildArgs } from '../../infra/buildArgs';
import { parseConfig, type JailConfig, type JailSecrets } from '../../infra/config';
import { buildJailSpec, jailNames, type ContainerSpec, type JailSpec, type Role } from '../../infra/model';
import { hdbLines, testSignatures } from '../../warden/test/clamdHarness';
import { JailDeployment } from './deployer';
import type { Engine } from './engine';
import { tarOf } from './tar';

/** Built by infra/images/standins/build.sh: Docker Hub is out of reach here. */
export const NODE_STANDIN = 'clawjail-standin/node:24-bookworm-slim';
export const DEBIAN_STANDIN = 'clawjail-standin/debian:bookworm-slim';

/**
 * This machine intercepts TLS to the npm registry; image builds must trust its CA. The host
 * keeps such CAs in /usr/local/share/ca-certificates (what update-ca-certificates adds).
 */
export function localCaBundle(): string {
  const dir = '/usr/local/share/ca-certificates';
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.crt')).sort();
  } catch {
    return '';
  }
  if (!files.length) return '';
  const bundle = path.join(os.tmpdir(), 'clawjail-build-ca.pem');
  fs.writeFileSync(bundle, files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n'));
  return bundle;
}

export interface TestJail {
  config: JailConfig;
  secrets: JailSecrets;
  spec: JailSpec;
  deployment: JailDeployment;
  container(role: Role): ContainerSpec;
  /** Leftovers of a killed run removed, the signature volume filled, the jail up. */
  up(): Promise<void>;
}

/**
 * clamdSignatures=custom: the operator fills the signature volume. Here it gets the warden tests'
 * own database (EICAR and clamav-testfiles' clam.exe: the tests download no signatures), through a
 * created, never started helper container, as `docker cp` would.
 */
export async function seedSignatures(
  engine: Engine,
  volume: string,
  labels: Record<string, string>,
  files: { name: string; content: string }[] = [{ name: 'clawjail-test.hdb', content: hdbLines(testSignatures()) }],
): Promise<void> {
  const helper = `${volume}-seed`;
  await engine.request('POST', '/volumes/create', { Name: volume, Labels: labels });
  await engine.remove(`/containers/${helper}?force=true`).catch(() => undefined);
  await engine.request('POST', `/containers/create?name=${helper}`, {
    Image: DEBIAN_STANDIN,
    Cmd: ['true'],
    NetworkDisabled: true,
    HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: '/signatures' }], NetworkMode: 'none' },
  });
  try {
    const archive = tarOf(files.map((f) => ({ name: f.name, content: Buffer.from(f.content), mode: 0o644 })));
    await engine.request('PUT', `/containers/${helper}/archive?path=/signatures`, archive);
  } finally {
    await engine.remove(`/containers/${helper}?force=true`);
  }
}

/**
 * A jail under the test prefix. The prefix is fixed (not per run) so the image tag stays the
 * same and Docker's layer cache makes the second build instant; teardown removes containers,
 * networks and volumes, never the cached images. No egress: the tests never leave the machine.
 */
export function testJail(overrides: Record<string, string> = {}): TestJail {
  const { config, secrets } = parseConfig({
    namePrefix: 'cjtest',
    nodeBaseImage: NODE_STANDIN,
    debianBaseImage: DEBIAN_STANDIN,
    bridgeName: 'cjtest0',
    subnet: '172.29.201.0/24',
    cellEgress: 'none',
    clamdSignatures: 'custom',
    buildCaFile: localCaBundle(),
    openclawToken: crypto.randomBytes(32).toString('hex'),
    gatewayToken: crypto.randomBytes(32).toString('hex'),
    gatewayPort: '18443',
    gatewayLoginPort: '18444',
    // capped stores of a test's size (the cell's tests write little to the workspace)
    workspaceSizeMb: '128',
    quarantineSizeMb: '64',
    ...overrides,
  });
  const spec = buildJailSpec(config);
  const deployment = new JailDeployment(spec, secrets, hostBuildArgs(config));
  const names = jailNames(config);
  return {
    config,
    secrets,
    spec,
    deployment,
    async up() {
      await deployment.down();
      if (config.warden.signatures === 'custom') {
        await seedSignatures(deployment.engine, names.signatureVolume, { 'clawjail.stack': config.namePrefix });
      }
      await deployment.up();
    },
    container(role) {
      const c = spec.containers.find((x) => x.role === role);
      if (!c) throw new Error(`the jail spec has no ${role}`);
      return c;
    },
  };
}
