// Run built code as another uid (the prisoner's, 1000) from a copy that uid can read.
//
// A checkout under /root or in a `mktemp -d` folder (mode 0700) cannot be traversed by uid 1000,
// so `node <checkout>/warden/dist/main.js` started as uid 1000 dies with "Cannot find module".
// The copy holds the package's dist/ and its runtime dependencies (node_modules), under a fresh
// directory in os.tmpdir() whose components are world-traversable. It stays owned by the test's
// own uid and is read-only to the other uid, like /app in the warden image. Before it is handed
// out, the other uid proves it can resolve every file of it; where it cannot (a TMPDIR it cannot
// traverse, a node binary it cannot execute) this throws, saying why, instead of a late
// "Cannot find module".

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface UidCopy {
  /** the temporary directory (mode 0755) holding the copy */
  dir: string;
  /** the copied entry point, e.g. <dir>/app/dist/main.js */
  main: string;
  /** remove the copy (idempotent) */
  remove(): void;
}

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPackage = (dir: string): PackageJson => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Node's lookup of a package: <d>/node_modules/<name> for d from `from` up to /. */
function findPackage(name: string, from: string): string | undefined {
  for (let d = from; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (d === path.dirname(d)) return undefined;
  }
}

/**
 * Ours, which no package.json lists: the services' Dockerfiles build lib/ into the image's
 * /node_modules, and here the root's node_modules links it (npm never looks the name up).
 */
const SHARED_LIBS = ['@clawjail/log'];

/** The installed runtime dependencies of the package at pkgDir, transitively: name -> directory. */
function runtimeDependencies(pkgDir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const name of SHARED_LIBS) {
    const at = findPackage(name, pkgDir);
    if (!at) throw new Error(`${name} (lib/) is not linked in node_modules: run npm ci`);
    found.set(name, at);
  }
  const visit = (dir: string): void => {
    const pkg = readPackage(dir);
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    for (const name of new Set([...Object.keys(pkg.dependencies ?? {}), ...optional])) {
      const at = findPackage(name, dir);
      if (!at) {
        if (optional.has(name)) continue;
        throw new Error(`${name} (a dependency of ${pkg.name ?? dir}) is not installed: run npm ci`);
      }
      const seen = found.get(name);
      if (seen === at) continue;
      if (seen) throw new Error(`two installs of ${name} (${seen}, ${at}) cannot share one flat node_modules`);
      found.set(name, at);
      visit(at);
    }
  };
  visit(pkgDir);
  return found;
}

/** Directories 0755, files 0644 (0755 if executable): readable by all, writable by the owner. */
function openUp(p: string): void {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const e of fs.readdirSync(p)) openUp(path.join(p, e));
  } else fs.chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644);
}

/**
 * Copy <pkgDir>/dist and the package's runtime dependencies to a fresh directory uid:gid can
 * read, and check, as uid:gid, that the copied entry (relative to pkgDir) and every dependency
 * resolve there. Remove it with remove(), also after a failure.
 */
export function copyForUid(pkgDir: string, entry: string, uid: number, gid: number): UidCopy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clawjail-test-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.chmodSync(dir, 0o755);
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.copyFileSync(path.join(pkgDir, 'package.json'), path.join(app, 'package.json'));
    fs.cpSync(path.join(pkgDir, 'dist'), path.join(app, 'dist'), { recursive: true, dereference: true });
    const deps = runtimeDependencies(pkgDir);
    for (const [name, from] of deps) {
      fs.cpSync(from, path.join(app, 'node_modules', name), {
        recursive: true,
        dereference: true,
        // its own nested node_modules are copied flat, as dependencies of their own
        filter: (src) => path.relative(from, src).split(path.sep)[0] !== 'node_modules',
      });
    }
    openUp(app);
    const main = path.join(app, entry);

    // The honest check: the other uid itself resolves the entry and each dependency from it.
    const check = 'const { createRequire } = require("module"); const [main, ...deps] = process.argv.slice(1); const r = createRequire(main); r.resolve(main); for (const d of deps) r.resolve(d);';
    const r = spawnSync(process.execPath, ['-e', check, main, ...deps.keys()], { uid, gid, cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    if (r.error || r.status !== 0) {
      const blocked = [...ancestors(dir), process.execPath].filter((p) => !canTraverse(p, uid, gid));
      throw new Error(
        `uid ${uid} cannot run ${main}: ${r.error?.message ?? (/^\w*Error: .*$/m.exec(r.stderr)?.[0] ?? (r.stderr.trim() || `exit ${r.status}`))}` +
          (blocked.length ? `\n  not traversable/executable by uid ${uid}: ${blocked.map((p) => `${p} (${modeOf(p)})`).join(', ')}` : '') +
          `\n  (the copy lives in os.tmpdir() = ${os.tmpdir()}; point TMPDIR at a directory uid ${uid} can traverse, and install node where it can execute it)`,
      );
    }
    return { dir, main, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(p); ; d = path.dirname(d)) {
    out.unshift(d);
    if (d === path.dirname(d)) return out;
  }
}

/** Whether uid:gid (no supplementary groups) has x on p, by its mode bits. */
function canTraverse(p: string, uid: number, gid: number): boolean {
  try {
    const st = fs.statSync(p);
    const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
    return (st.mode & bit) !== 0;
  } catch {
    return false;
  }
}

function modeOf(p: string): string {
  try {
    const st = fs.statSync(p);
    return `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${st.uid}:${st.gid}`;
  } catch (e) {
    return (e as Error).message;
  }
}
