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
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: exitCodeOf(err), stdout, stderr });
    });
  });
}
