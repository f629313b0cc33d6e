// An image's digest is taken over its sources only (infra/contextDigest.ts), so a COPY from
// anywhere else in its context would change the image without rebuilding it: every COPY of every
// Dockerfile of the jail must read inside the image's sources, and the context's .dockerignore
// must let those sources through.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../infra/config';
import { ignoreMatcher } from '../../infra/contextDigest';
import { buildJailSpec, type ImageSpec } from '../../infra/model';
import { REPO_ROOT } from '../../infra/paths';

const TOKEN = 't'.repeat(40);
const images = new Map<string, ImageSpec>();
for (const cellEgress of ['allowlist', 'internet', 'none']) {
  const raw = { gatewayToken: TOKEN, openclawToken: TOKEN, cellEgress, clamdSignatures: cellEgress === 'none' ? 'custom' : 'freshclam' };
  for (const image of buildJailSpec(parseConfig(raw).config).images) images.set(image.dockerfile, image);
}

/** The paths a Dockerfile copies from its context (COPY and ADD without --from), relative to it. */
function copiedPaths(dockerfile: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, dockerfile), 'utf8').replace(/\\\n/g, ' ');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (!/^(COPY|ADD)$/i.test(words[0] ?? '')) continue;
    const args = words.slice(1).filter((w) => !w.startsWith('--'));
    if (words.some((w) => w.startsWith('--from='))) continue;
    out.push(...args.slice(0, -1));
  }
  return out;
}

/** What the Dockerfile copies from outside the image's sources (relative to its context). */
function copiedFromElsewhere(image: ImageSpec): string[] {
  const context = path.join(REPO_ROOT, image.context);
  const sources = image.sources.map((s) => path.relative(context, path.join(REPO_ROOT, s)));
  return copiedPaths(image.dockerfile)
    .map((c) => path.posix.normalize(c))
    .filter((rel) => !sources.some((s) => s === '' || rel === s || rel.startsWith(`${s}/`)));
}

describe('every image of the jail', () => {
  it('has its images: the cell, the services and clamd', () => {
    expect([...images.keys()].sort()).toEqual(['egress/Dockerfile', 'gateway/Dockerfile', 'infra/images/cell/Dockerfile', 'warden/Dockerfile', 'warden/clamd/Dockerfile']);
  });

  it.each([...images.values()].map((i) => [i.dockerfile, i] as const))('%s copies only from its sources, which its .dockerignore sends', (_name, image) => {
    expect(copiedFromElsewhere(image)).toEqual([]);
    const context = path.join(REPO_ROOT, image.context);
    const sources = image.sources.map((s) => path.relative(context, path.join(REPO_ROOT, s)));
    const ignoreFile = path.join(context, '.dockerignore');
    const ignored = ignoreMatcher(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
    for (const s of sources.filter(Boolean)) expect({ s, ignored: ignored(s) }).toEqual({ s, ignored: false });
  });

  it('notices a COPY from outside its sources', () => {
    const warden = images.get('warden/Dockerfile') as ImageSpec;
    expect(copiedFromElsewhere({ ...warden, sources: ['warden'] })).toEqual(['lib/log']);
  });
});
