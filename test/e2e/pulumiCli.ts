// The real Pulumi CLI as the engine tests drive it: the source-built engine
// (scripts/pulumi-engine.sh), a file backend, a PULUMI_HOME and a passphrase of the test's own,
// and the docker provider installed as a plugin, never downloaded. Stacks live in the repository
// (Pulumi writes Pulumi.<stack>.yaml beside Pulumi.yaml); the test removes its stack file.
import { execFile, execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { REPO_ROOT } from '../../infra/paths';
import { exitCodeOf } from './deployer';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for assertions on what the engine printed. */
  all: string;
}

/**
 * What a failed run said, for an assertion's diff: the engine's Diagnostics section (where its
 * errors are) when there is one, else the end of the output; '' when the run succeeded.
 */
export function failureOf(r: RunResult, max = 5000): string {
  if (r.code === 0) return '';
  const at = r.all.lastIndexOf('Diagnostics:');
  return at >= 0 ? r.all.slice(at, at + max) : r.all.slice(-max);
}

/** The engine's bin directory: built by run-all.sh before the tests, or here if missing. */
export function engineBin(): string {
  return execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'pulumi-engine.sh'), '--quiet'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 60 * 60_000,
  }).trim();
}

export class PulumiSandbox {
  readonly dir: string;
  readonly bin: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly stack: string) {
    this.bin = engineBin();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-pulumi-'));
    fs.mkdirSync(path.join(this.dir, 'state'));
    this.env = {
      ...process.env,
      PATH: `${this.bin}:${process.env.PATH ?? ''}`,
      PULUMI_HOME: path.join(this.dir, 'home'),
      PULUMI_BACKEND_URL: `file://${path.join(this.dir, 'state')}`,
      PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(24).toString('hex'),
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      PULUMI_SKIP_CONFIRMATIONS: 'true',
      NO_COLOR: '1',
    };
    delete this.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules/@pulumi/docker/package.json'), 'utf8')) as {
      pulumi: { version: string };
    }).pulumi.version;
    execFileSync(path.join(this.bin, 'pulumi'), ['plugin', 'install', 'resource', 'docker', version, '--file', path.join(this.bin, '..', 'providers', 'pulumi-resource-docker')], {
      env: this.env,
      stdio: 'pipe',
    });
  }

  get stackFile(): string {
    return path.join(REPO_ROOT, `Pulumi.${this.stack}.yaml`);
  }

  /** `pulumi ARGS` in the repository, with this sandbox's environment. Never rejects. */
  run(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      execFile(
        path.join(this.bin, 'pulumi'),
        [...args, '--non-interactive'],
        { cwd: opts.cwd ?? REPO_ROOT, env: { ...this.env, ...opts.env }, timeout: opts.timeoutMs ?? 20 * 60_000, maxBuffer: 64 << 20 },
        (err, stdout, stderr) => resolve({ code: exitCodeOf(err), stdout, stderr, all: `${stdout}\n${stderr}` }),
      );
    });
  }

  /** Like run, but a non-zero exit throws with what the engine said. */
  async ok(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(' ')} exited ${r.code}:\n${failureOf(r, 8000)}`);
    return r;
  }

  /** Creates the stack with plain `clawjail:*` values and the given secrets. */
  async init(config: Record<string, string>, secrets: Record<string, string>): Promise<void> {
    fs.rmSync(this.stackFile, { force: true });
    await this.ok(['stack', 'init', this.stack, '--secrets-provider', 'passphrase']);
    const doc = (yaml.load(fs.readFileSync(this.stackFile, 'utf8')) ?? {}) as Record<string, unknown>;
    doc.config = Object.fromEntries(Object.entries(config).map(([k, v]) => [`clawjail:${k}`, v]));
    fs.writeFileSync(this.stackFile, yaml.dump(doc));
    for (const [k, v] of Object.entries(secrets)) await this.ok(['config', 'set', '--stack', this.stack, '--secret', `clawjail:${k}`, v]);
  }

  /** Changes one plain value in the stack file (what `pulumi config set` does). */
  async set(key: string, value: string): Promise<void> {
    await this.ok(['config', 'set', '--stack', this.stack, `clawjail:${key}`, value]);
  }

  async outputs(): Promise<Record<string, unknown>> {
    const r = await this.ok(['stack', 'output', '--json', '--show-secrets', '--stack', this.stack]);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  /** The stack's state as the engine keeps it. */
  async resources(): Promise<{ urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[]> {
    const r = await this.ok(['stack', 'export', '--stack', this.stack]);
    return (JSON.parse(r.stdout) as { deployment: { resources?: { urn: string; type: string; id?: string; outputs?: Record<string, unknown> }[] } })
      .deployment.resources ?? [];
  }

  /** Removes the stack's state and file; the Docker objects are the test's to remove first. */
  async cleanup(): Promise<void> {
    await this.run(['stack', 'rm', '--yes', '--force', '--preserve-config', '--stack', this.stack]);
    fs.rmSync(this.stackFile, { force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
