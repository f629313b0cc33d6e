// The README's first command, offline variant, as a user runs it: `npm run deploy -- --offline`
// (scripts/deploy.sh), on a stack of its own so that the test never touches a developer's `dev`
// stack: the dev stack's settings with the test's own names, bridges, subnets and port.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { REPO_ROOT } from '../../infra/paths';
import { renderRemoveScript } from '../../infra/model/moatHost';
import { renderReleasePrefixScript } from '../../infra/model/stores';
import { run } from '../helpers/run';

jest.setTimeout(40 * 60_000);

const STACK = 'cjtest-deploy';
const PREFIX = 'cjdep';
const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);

/** A command in the repository that never rejects: the test reads its exit code. */
const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv, input = '') =>
  run(cmd, args, { cwd: REPO_ROOT, env, input, timeoutMs: 35 * 60_000, check: false });
type Run = Awaited<ReturnType<typeof sh>>;

let home: string;
let env: NodeJS.ProcessEnv;

async function scrub(): Promise<void> {
  const e = { ...process.env };
  // the capped stores are mounts over the volumes' directories: undone before the volumes go
  await sh('sh', ['-s'], e, renderReleasePrefixScript('unix:///var/run/docker.sock', PREFIX));
  for (const kind of [['ps', '-a', '--format', '{{.Names}}'], ['network', 'ls', '--format', '{{.Name}}'], ['volume', 'ls', '--format', '{{.Name}}']]) {
    const names = (await sh('docker', kind, e)).stdout.split('\n').filter((n) => n.startsWith(`${PREFIX}-`));
    for (const n of names) {
      if (kind[0] === 'ps') await sh('docker', ['rm', '-f', n], e);
      else if (kind[0] === 'network') await sh('docker', ['network', 'rm', n], e);
      else await sh('docker', ['volume', 'rm', '-f', n], e);
    }
  }
  await sh('sh', ['-s'], e, renderRemoveScript({ namePrefix: PREFIX }));
}

beforeAll(async () => {
  await scrub();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-deploy-'));
  // CLAWJAIL_HOME: the deploy's own backend, passphrase and PULUMI_HOME, as ~/.clawjail would be.
  env = { ...process.env, CLAWJAIL_HOME: home, NO_COLOR: '1' };
  for (const k of ['PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'PULUMI_CONFIG_PASSPHRASE_FILE', 'PULUMI_HOME', 'CLAWJAIL_PULUMI']) delete env[k];
  const dev = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8')) as { config: Record<string, unknown> };
  const config = {
    ...dev.config,
    'clawjail:namePrefix': PREFIX,
    'clawjail:bridgeName': 'cjdep0',
    'clawjail:subnet': '172.29.225.0/24',
    'clawjail:scanBridgeName': 'cjdep1',
    'clawjail:scanSubnet': '172.29.226.0/24',
    'clawjail:gatewayPort': '18473',
    'clawjail:gatewayLoginPort': '18474',
    'clawjail:workspaceSizeMb': 256,
    'clawjail:quarantineSizeMb': 128,
  };
  fs.writeFileSync(STACK_FILE, yaml.dump({ config }));
}, 10 * 60_000);

afterAll(async () => {
  if (env) await sh('bash', ['scripts/pulumi.sh', 'destroy', '--yes', '--skip-preview', '--stack', STACK], env);
  if (env) await sh('bash', ['scripts/pulumi.sh', 'stack', 'rm', '--yes', '--force', '--stack', STACK], env);
  await scrub();
  fs.rmSync(STACK_FILE, { force: true });
  if (home) fs.rmSync(home, { recursive: true, force: true });
}, 20 * 60_000);

describe('npm run deploy -- --offline', () => {
  let run: Run;

  it('deploys the jail and ends by printing the stack outputs', async () => {
    run = await sh('npm', ['run', '--silent', 'deploy', '--', '--offline', STACK], env);
    expect({ code: run.code, tail: run.code === 0 ? '' : `${run.stdout}\n${run.stderr}`.slice(-6000) }).toEqual({ code: 0, tail: '' });
    // `pulumi stack output` is the last thing it prints.
    const tail = run.stdout.slice(run.stdout.lastIndexOf('Current stack outputs'));
    expect(tail).toMatch(/gatewayFingerprint\s+([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(tail).toMatch(/gatewayUrl\s+wss:\/\/172\.29\.225\.2:8443/);
    expect(tail).toMatch(new RegExp(`cellContainer\\s+${PREFIX}-cell`));
    // What the offline variant promised to say and do.
    expect(run.stderr).toMatch(/EICAR test signature only/);
    const running = (await sh('docker', ['ps', '--format', '{{.Names}}'], env)).stdout.split('\n').filter((n) => n.startsWith(`${PREFIX}-`)).sort();
    expect(running).toEqual([`${PREFIX}-cell`, `${PREFIX}-clamd`, `${PREFIX}-gateway`, `${PREFIX}-sentry`, `${PREFIX}-warden`]);
  });

  it('left the stack where `npm run pulumi` and `clawjail --stack` find it: its secrets are generated, never in the file in clear', async () => {
    const file = fs.readFileSync(STACK_FILE, 'utf8');
    expect(file).toMatch(/clawjail:gatewayToken:\s*\n\s+secure:/);
    expect(file).toMatch(/clawjail:cellEgress: none/);
    expect(fs.statSync(path.join(home, 'passphrase')).mode & 0o077).toBe(0);
    const preview = await sh('bash', ['scripts/pulumi.sh', 'preview', '--refresh', '--expect-no-changes', '--stack', STACK], env);
    expect({ code: preview.code, out: preview.code === 0 ? '' : preview.stdout.slice(-4000) }).toEqual({ code: 0, out: '' });
    const check = await sh(process.execPath, ['bin/clawjail', 'moat', 'check', '--stack', STACK], env);
    expect(check.code).toBe(0);
  });

  it('a second deploy changes nothing and keeps the generated tokens', async () => {
    const before = fs.readFileSync(STACK_FILE, 'utf8');
    const again = await sh('npm', ['run', '--silent', 'deploy', '--', '--offline', STACK], env);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/to create|to replace|to delete/);
    const token = (f: string) => /clawjail:gatewayToken:\s*\n\s+secure: (\S+)/.exec(f)?.[1];
    expect(token(fs.readFileSync(STACK_FILE, 'utf8'))).toBe(token(before));
  });
});
