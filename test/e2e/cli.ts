// The operator's command line as the e2e tests run it: bin/clawjail under this Node.
import { execFile } from 'child_process';
import * as path from 'path';
import { exitCodeOf } from './deployer';

const CLI = path.resolve(__dirname, '..', '..', 'bin', 'clawjail');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function clawjail(...args: string[]): Promise<CliResult> {
  return clawjailWith({}, ...args);
}

/** With another environment (e.g. the Pulumi CLI's backend and passphrase for `--stack`). */
export function clawjailWith(opts: { env?: NodeJS.ProcessEnv }, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      resolve({ code: exitCodeOf(err), stdout, stderr });
    });
  });
}
