// Every field of ContainerSpec reaches Docker twice: through the program (infra/components/
// dockerArgs.ts, for @pulumi/docker) and through the test deployer (test/e2e/deployer.ts, the
// Engine API), which the attack tests trust to build the same jail. The table has one row per
// field (the compiler insists), and each row either changes the field and sees both outputs
// change, or names where else that field is applied.
import * as fs from 'fs';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { parseConfig, type JailSecrets } from '../../infra/config';
import { containerArgs } from '../../infra/components/dockerArgs';
import { buildJailSpec, type ContainerSpec } from '../../infra/model';
import { containerCreateBody } from '../e2e/deployer';

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'm'.repeat(40);
const SECRETS: JailSecrets = { openclawToken: 'o'.repeat(40), gatewayToken: 'g'.repeat(40) } as JailSecrets;

/** Applied somewhere other than the create call: the file, and the text that applies it. */
interface Elsewhere {
  file: string;
  uses: string;
}
interface Row {
  mutate: (s: ContainerSpec) => void;
  program: 'args' | Elsewhere;
  deployer: 'body' | Elsewhere;
}

const ROWS: Record<keyof ContainerSpec, Row> = {
  name: { mutate: (s) => (s.name += '-x'), program: 'args', deployer: { file: 'test/e2e/deployer.ts', uses: '/containers/create?name=${encodeURIComponent(c.name)}' } },
  // The role picks the component and the spec entry; what Docker sees of it is the role label.
  role: { mutate: (s) => (s.labels['clawjail.role'] = 'other'), program: 'args', deployer: 'body' },
  // The program runs the image its own build produced (passed in beside the spec).
  image: { mutate: (s) => (s.image = { ...s.image, name: s.image.name + '-x' }), program: { file: 'infra/components/jailContainer.ts', uses: 'containerArgs(spec, ' }, deployer: 'body' },
  user: { mutate: (s) => (s.user = '4242:4242'), program: 'args', deployer: 'body' },
  hostGroups: { mutate: (s) => s.hostGroups.push('engine-socket'), program: 'args', deployer: 'body' },
  command: { mutate: (s) => s.command.push('--extra'), program: 'args', deployer: 'body' },
  env: { mutate: (s) => (s.env.MAPPING_PROBE = '1'), program: 'args', deployer: 'body' },
  secretEnv: { mutate: (s) => (s.secretEnv.MAPPING_SECRET = 'gatewayToken'), program: 'args', deployer: 'body' },
  secretFiles: {
    mutate: (s) => (s.secretFiles['/tmp/mapping.token'] = 'gatewayToken'),
    program: 'args',
    deployer: { file: 'test/e2e/deployer.ts', uses: 'Object.entries(c.secretFiles)' },
  },
  capDrop: { mutate: (s) => s.capDrop.push('MKNOD'), program: 'args', deployer: 'body' },
  capAdd: { mutate: (s) => s.capAdd.push('CHOWN'), program: 'args', deployer: 'body' },
  securityOpts: { mutate: (s) => s.securityOpts.push('label=disable'), program: 'args', deployer: 'body' },
  seccompProfile: { mutate: (s) => (s.seccompProfile = '{"defaultAction":"SCMP_ACT_KILL"}'), program: 'args', deployer: 'body' },
  readOnlyRootfs: { mutate: (s) => (s.readOnlyRootfs = !s.readOnlyRootfs), program: 'args', deployer: 'body' },
  tmpfs: { mutate: (s) => (s.tmpfs['/mapping'] = 'size=1m'), program: 'args', deployer: 'body' },
  memoryMb: { mutate: (s) => (s.memoryMb += 1), program: 'args', deployer: 'body' },
  memorySwapMb: { mutate: (s) => (s.memorySwapMb += 1), program: 'args', deployer: 'body' },
  cpus: { mutate: (s) => (s.cpus += 0.25), program: 'args', deployer: 'body' },
  // No pids field in @pulumi/docker: the container is created stopped and started under it.
  pidsLimit: {
    mutate: (s) => (s.pidsLimit += 1),
    program: { file: 'infra/components/jailContainer.ts', uses: 'pidsLimit: spec.pidsLimit' },
    deployer: { file: 'test/e2e/deployer.ts', uses: 'pidsLimitScript(c.name, c.pidsLimit)' },
  },
  logDriver: { mutate: (s) => (s.logDriver = 'local' as ContainerSpec['logDriver']), program: 'args', deployer: 'body' },
  logOpts: { mutate: (s) => (s.logOpts['max-file'] = '9'), program: 'args', deployer: 'body' },
  init: { mutate: (s) => (s.init = !s.init), program: 'args', deployer: 'body' },
  restart: { mutate: (s) => (s.restart = s.restart === 'no' ? 'always' : 'no'), program: 'args', deployer: 'body' },
  healthcheck: { mutate: (s) => (s.healthcheck = { ...s.healthcheck, retries: s.healthcheck.retries + 1 }), program: 'args', deployer: 'body' },
  mounts: { mutate: (s) => s.mounts.push({ type: 'volume', source: 'mapping', target: '/mapping', readOnly: true }), program: 'args', deployer: 'body' },
  networks: { mutate: (s) => (s.networks = ['mapping-net', ...s.networks]), program: 'args', deployer: 'body' },
  networkMode: { mutate: (s) => (s.networkMode = 'container:mapping'), program: 'args', deployer: 'body' },
  networkAddresses: {
    mutate: (s) => (s.networkAddresses = Object.fromEntries(s.networks.map((n) => [n, '172.31.255.9']))),
    program: 'args',
    deployer: 'body',
  },
  ports: { mutate: (s) => s.ports.push({ internal: 1, external: 2, ip: '127.0.0.1' }), program: 'args', deployer: 'body' },
  dns: { mutate: (s) => (s.dns = ['127.0.0.9']), program: 'args', deployer: 'body' },
  runtime: { mutate: (s) => (s.runtime = s.runtime === 'runc' ? 'runsc' : 'runc'), program: 'args', deployer: 'body' },
  ipcMode: { mutate: (s) => (s.ipcMode = s.ipcMode === 'private' ? 'none' : 'private'), program: 'args', deployer: 'body' },
  labels: { mutate: (s) => (s.labels.mapping = '1'), program: 'args', deployer: 'body' },
  stopTimeoutSeconds: { mutate: (s) => (s.stopTimeoutSeconds += 1), program: 'args', deployer: 'body' },
};

/** The args with every Output resolved, as JSON. */
async function settle(v: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(v)) return settle(await new Promise((resolve) => (v as pulumi.Output<unknown>).apply((x) => void resolve(x))));
  if (Array.isArray(v)) return Promise.all(v.map(settle));
  if (v !== null && typeof v === 'object') return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await settle(x)])));
  return v;
}

const GROUPS = { 'engine-socket': '4243' };
const program = async (s: ContainerSpec) => JSON.stringify(await settle(containerArgs(s, s.image.name, pulumi.output(SECRETS), GROUPS)));
const deployer = (s: ContainerSpec) => JSON.stringify(containerCreateBody(s, SECRETS, GROUPS));

describe('every ContainerSpec field reaches Docker through the program and through the test deployer', () => {
  beforeAll(() => {
    pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs }, 'mapping', 'test', false);
  });
  // The gateway has every kind of field set (ports, addresses, secret files).
  const base = buildJailSpec(parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN }).config).containers.find((c) => c.role === 'gateway')!;
  const fresh = () => structuredClone(base);

  it.each(Object.keys(ROWS) as Array<keyof ContainerSpec>)('%s', async (field) => {
    const row = ROWS[field];
    const changed = fresh();
    row.mutate(changed);
    expect(changed).not.toEqual(base);
    for (const [side, how, render] of [
      ['program', row.program, program],
      ['deployer', row.deployer, deployer],
    ] as const) {
      if (typeof how === 'string') {
        expect({ side, differs: (await render(changed)) !== (await render(fresh())) }).toEqual({ side, differs: true });
      } else {
        expect(fs.readFileSync(path.join(ROOT, how.file), 'utf8')).toContain(how.uses);
      }
    }
  });

  it('has a row for each field the spec has (and no other)', () => {
    expect(Object.keys(ROWS).sort()).toEqual(
      expect.arrayContaining(Object.keys(base).filter((k) => (base as unknown as Record<string, unknown>)[k] !== undefined).sort()),
    );
  });
});
