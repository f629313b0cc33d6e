// A digest of what a docker build of an image would see: the files of its context that its
// .dockerignore lets through, and its Dockerfile. The image resource carries it as a trigger,
// so a change to a service's source rebuilds its image (and so replaces its container) while an
// unchanged tree builds nothing. I/O (reads the tree), so it stays out of the pure spec.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './paths';
import type { ImageSpec } from './model';

/** The .dockerignore patterns we use: names and `*` globs, matched against any path segment. */
export function ignoreMatcher(dockerignore: string): (relPath: string) => boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  if (patterns.some((p) => p.startsWith('!') || p.includes('**'))) {
    throw new Error(`.dockerignore exceptions (!) and ** are not supported by the context digest: ${patterns.join(' ')}`);
  }
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/\/+$/, '').replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`));
  return (relPath) => {
    const parts = relPath.split('/');
    // A pattern names a path from the context root (Docker's rule), or a top-level glob.
    return regexes.some((re) => parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/'))));
  };
}

export function contextDigest(contextDir: string, dockerfile: string): string {
  const hash = crypto.createHash('sha256');
  const ignoreFile = path.join(contextDir, '.dockerignore');
  const ignored = fs.existsSync(ignoreFile) ? ignoreMatcher(fs.readFileSync(ignoreFile, 'utf8')) : () => false;
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(path.join(contextDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ignored(r)) continue;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() || e.isSymbolicLink()) {
        hash.update(`${r}\0`);
        hash.update(e.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(contextDir, r))}` : fs.readFileSync(path.join(contextDir, r)));
        hash.update('\0');
      }
    }
  };
  walk('');
  hash.update(`Dockerfile\0`);
  hash.update(fs.readFileSync(dockerfile));
  return hash.digest('hex');
}

/** The digest of an image of the jail, from its spec (paths relative to the repository). */
export function imageDigest(spec: ImageSpec): string {
  return contextDigest(path.join(REPO_ROOT, spec.context), path.join(REPO_ROOT, spec.dockerfile));
}
