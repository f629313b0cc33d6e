import * as fs from 'fs';
import * as path from 'path';

/** The nearest directory above `from` holding Pulumi.yaml: the same from sources and from dist/. */
export function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'Pulumi.yaml'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${from}`);
  }
}

/** The repository root; the spec's build contexts and the stack files are relative to it. */
export const REPO_ROOT = findRepoRoot(__dirname);
