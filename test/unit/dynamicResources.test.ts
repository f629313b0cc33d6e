// The dynamic providers' pure parts: what counts as drift of a started container, and what an
// image's build trigger sees of its context.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { containerStartDiff, type ContainerStartState } from '../../infra/components/containerStart';
import { contextDigest, ignoreMatcher } from '../../infra/contextDigest';

describe('ContainerStart diff', () => {
  const inputs = { dockerHost: 'unix:///var/run/docker.sock', container: 'c', containerId: 'id1', pidsLimit: 256 };
  const state: ContainerStartState = { ...inputs, running: true, livePidsLimit: 256 };

  it('no change while the container runs under its limit', () => {
    expect(containerStartDiff(state, inputs)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it('a container stopped by hand, or with another limit, is an update (start it again)', () => {
    expect(containerStartDiff({ ...state, running: false }, inputs)).toMatchObject({ changes: true, replaces: [] });
    expect(containerStartDiff({ ...state, livePidsLimit: 0 }, inputs)).toMatchObject({ changes: true, replaces: [] });
    expect(containerStartDiff(state, { ...inputs, pidsLimit: 128 })).toMatchObject({ changes: true, replaces: [] });
  });

  it('another container, name or engine is a new start', () => {
    expect(containerStartDiff(state, { ...inputs, containerId: 'id2' })).toMatchObject({ changes: true, replaces: ['containerId'] });
    expect(containerStartDiff(state, { ...inputs, dockerHost: 'ssh://h' })).toMatchObject({ replaces: ['dockerHost'] });
  });
});

describe('image context digest', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjtest-digest-'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM x\n');
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'a');
    fs.writeFileSync(path.join(dir, 'node_modules', 'big.js'), 'b');
    fs.writeFileSync(path.join(dir, 'README.md'), 'r');
    fs.writeFileSync(path.join(dir, '.dockerignore'), 'node_modules\n*.md\n');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const digest = () => contextDigest(dir, path.join(dir, 'Dockerfile'));

  it('changes with a file the build sees and with the Dockerfile', () => {
    const d0 = digest();
    fs.writeFileSync(path.join(dir, 'src', 'a.ts'), 'a2');
    const d1 = digest();
    expect(d1).not.toBe(d0);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM y\n');
    expect(digest()).not.toBe(d1);
  });

  it('ignores what .dockerignore leaves out', () => {
    const d0 = digest();
    fs.writeFileSync(path.join(dir, 'node_modules', 'big.js'), 'changed');
    fs.writeFileSync(path.join(dir, 'README.md'), 'changed');
    expect(digest()).toBe(d0);
  });

  it('matches names and globs against the path from the context root', () => {
    const ignored = ignoreMatcher('dist\n*.md\n# comment\n*\n'.replace('*\n', ''));
    expect(ignored('dist/main.js')).toBe(true);
    expect(ignored('README.md')).toBe(true);
    expect(ignored('src/dist.ts')).toBe(false);
    expect(ignoreMatcher('*')('Dockerfile')).toBe(true);
  });

  it('follows Docker: the last matching pattern decides, ! keeps, ** spans directories', () => {
    const ignored = ignoreMatcher('*\n!lib\n!warden\n**/node_modules\n**/*.md\nwarden/clamd\n');
    expect(['package.json', 'node_modules/x/index.js', 'infra/index.ts', 'warden/README.md', 'warden/node_modules/a.js', 'lib/log/node_modules/b', 'warden/clamd/Dockerfile'].filter((p) => !ignored(p))).toEqual([]);
    expect(['warden/src/main.ts', 'warden/Dockerfile', 'lib/log/src/index.ts'].filter(ignored)).toEqual([]);
    expect(ignoreMatcher('./dist')('dist/x.js')).toBe(true);
    expect(() => ignoreMatcher('[ab].md')).toThrow(/not supported/);
  });

  it('walks only the sources it is given, and refuses one the .dockerignore leaves out', () => {
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'log.ts'), 'l');
    fs.mkdirSync(path.join(dir, 'other'));
    fs.writeFileSync(path.join(dir, 'other', 'o.ts'), 'o');
    const some = () => contextDigest(dir, path.join(dir, 'Dockerfile'), ['src', 'lib']);
    const d0 = some();
    fs.writeFileSync(path.join(dir, 'other', 'o.ts'), 'changed');
    expect(some()).toBe(d0);
    fs.writeFileSync(path.join(dir, 'lib', 'log.ts'), 'changed');
    expect(some()).not.toBe(d0);
    expect(() => contextDigest(dir, path.join(dir, 'Dockerfile'), ['node_modules'])).toThrow(/left out by/);
    expect(() => contextDigest(dir, path.join(dir, 'Dockerfile'), ['../x'])).toThrow(/outside its context/);
  });
});

describe('values spelled as the docker provider reads them back (no diff at refresh)', () => {
  // Go's time.Duration String and the provider's nanoInt64ToDecimalString, as `pulumi preview
  // --refresh` showed them against the spellings we used to send ("300s" came back "5m0s").
  const { cpusString, goDuration } = require('../../infra/components/dockerArgs') as typeof import('../../infra/components/dockerArgs');

  it('durations', () => {
    expect([0, 5, 15, 59, 60, 90, 300, 3600, 3661].map(goDuration)).toEqual(['0s', '5s', '15s', '59s', '1m0s', '1m30s', '5m0s', '1h0m0s', '1h1m1s']);
    expect(() => goDuration(1.5)).toThrow(/whole number/);
  });

  it('cpus', () => {
    expect([1, 2, 0.5, 0.25, 1.5, 0.1, 10, 10.5, 64].map(cpusString)).toEqual(['1.0', '2.0', '0.5', '0.25', '1.5', '0.1', '10.', '10.5', '64.0']);
  });
});
