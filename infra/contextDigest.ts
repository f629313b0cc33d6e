// A digest of what a docker build of an image would see: the files of its sources (the parts of
// its context it copies from) that the context's .dockerignore lets through, and its Dockerfile.
// The image resource carries it as a trigger, so a change to a service's source rebuilds its
// image (and so replaces its container) while an unchanged tree builds nothing. I/O (reads the
// tree), so it stays out of the pure spec.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './paths';
import type { ImageSpec } from './model';

interface IgnorePattern {
  /** `!`: an exception. */
  keep: boolean;
  /** The pattern, normalized, without its `!`. */
  glob: string;
  re: RegExp;
}

/** The patterns of a .dockerignore, in order. */
function parseIgnore(dockerignore: string): IgnorePattern[] {
  return dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const keep = l.startsWith('!');
      const glob = path.posix.normalize((keep ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      // Character classes and escapes are Docker's too, but not read here: refuse rather than differ.
      if (/[[\]\\]/.test(glob)) throw new Error(`.dockerignore pattern ${l}: [classes] and \\ escapes are not supported by the context digest`);
      const re = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { keep, glob, re: new RegExp(`^${re}$`) };
    });
}

function matches(patterns: IgnorePattern[], relPath: string): boolean {
  const parts = relPath.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) if (prefixes.some((x) => p.re.test(x))) ignored = !p.keep;
  return ignored;
}

/** Whether an exception could bring back something below an ignored directory. */
function mayKeepBelow(patterns: IgnorePattern[], dir: string): boolean {
  return patterns.some((p) => p.keep && (p.glob.startsWith(`${dir}/`) || p.glob.startsWith('*')));
}

/**
 * Docker's .dockerignore rule: patterns (`*`, `?`, `**`) match the path from the context root or
 * any of its parents, in order, and the last one that matches decides; `!` makes an exception.
 */
export function ignoreMatcher(dockerignore: string): (relPath: string) => boolean {
  const patterns = parseIgnore(dockerignore);
  return (relPath) => matches(patterns, relPath);
}

/** `sources`: directories relative to the context, walked in that order (default: all of it). */
export function contextDigest(contextDir: string, dockerfile: string, sources: string[] = ['']): string {
  const hash = crypto.createHash('sha256');
  const ignoreFile = path.join(contextDir, '.dockerignore');
  const patterns = parseIgnore(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
  const ignored = (relPath: string) => matches(patterns, relPath);
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(path.join(contextDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!ignored(r) || mayKeepBelow(patterns, r)) walk(r);
      } else if (ignored(r)) {
        continue;
      } else if (e.isFile() || e.isSymbolicLink()) {
        hash.update(`${r}\0`);
        hash.update(e.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(contextDir, r))}` : fs.readFileSync(path.join(contextDir, r)));
        hash.update('\0');
      }
    }
  };
  for (const source of sources) {
    const normal = path.posix.normalize(source || '.').replace(/\/+$/, '');
    if (normal === '..' || normal.startsWith('../') || normal.startsWith('/')) throw new Error(`image source ${source} is outside its context ${contextDir}`);
    const rel = normal === '.' ? '' : normal;
    if (rel && ignored(rel)) throw new Error(`image source ${source} is left out by ${ignoreFile}`);
    walk(rel);
  }
  hash.update(`Dockerfile\0`);
  hash.update(fs.readFileSync(dockerfile));
  return hash.digest('hex');
}

/** The digest of an image of the jail, from its spec (paths relative to the repository). */
export function imageDigest(spec: ImageSpec): string {
  const context = path.join(REPO_ROOT, spec.context);
  const sources = spec.sources.map((s) => path.relative(context, path.join(REPO_ROOT, s)));
  return contextDigest(context, path.join(REPO_ROOT, spec.dockerfile), sources);
}
