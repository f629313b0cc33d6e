// `clawjail connect --stack NAME`: the gateway's URL, fingerprint and operator token, taken from
// the stack's outputs with the Pulumi CLI (the token is a secret output; it is written to a
// private temporary file for the session and removed when the command exits). The CLI runs
// through scripts/pulumi.sh, so it finds the stack where `npm run deploy` put it (the local
// backend and passphrase in ~/.clawjail) with the engine that deployed it.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { REPO_ROOT } from '../infra/paths';
import type { StackTarget } from './commands/connect';

const run = promisify(execFile);

interface StackOutputs {
  gatewayUrl?: string;
  gatewayFingerprint?: string;
  gatewayToken?: string;
}

export async function resolveStackTarget(stack: string): Promise<StackTarget> {
  let outputs: StackOutputs;
  try {
    const script = path.join(REPO_ROOT, 'scripts', 'pulumi.sh');
    const { stdout } = await run('bash', [script, 'stack', 'output', '--json', '--show-secrets', '--stack', stack], {
      cwd: REPO_ROOT,
      env: { ...process.env, PULUMI_ENGINE_QUIET: '1' },
      maxBuffer: 16 << 20,
    });
    outputs = JSON.parse(stdout) as StackOutputs;
  } catch (e) {
    throw new Error(`cannot read the outputs of stack ${stack} (is the Pulumi CLI installed and the stack deployed?): ${(e as Error).message}`);
  }
  if (!outputs.gatewayUrl || !outputs.gatewayFingerprint) {
    throw new Error(`stack ${stack} has no gatewayUrl/gatewayFingerprint outputs; run \`pulumi up\` first`);
  }
  let tokenFile: string | undefined;
  if (outputs.gatewayToken) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawjail-'));
    tokenFile = path.join(dir, 'operator.token');
    fs.writeFileSync(tokenFile, outputs.gatewayToken, { mode: 0o600 });
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return { url: outputs.gatewayUrl, fingerprint: outputs.gatewayFingerprint, tokenFile };
}
