// The tests' small helpers, one copy for every suite (the services' test folders re-export
// them): waiting for a condition or a value, a free loopback port, a temporary directory.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once cond() is true; throws after timeoutMs, naming what it waited for. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition', everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface UntilOptions {
  everyMs?: number;
  /** More to say on a timeout (a container's log, say). */
  context?: () => string | Promise<string>;
}

/**
 * The first value probe() gives that is not undefined, null or false. A probe that throws counts
 * as not yet (its last error is in the timeout's message).
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000, opts: UntilOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const more = opts.context ? `\n${await Promise.resolve(opts.context()).catch(() => '')}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${more}`);
    }
    await sleep(opts.everyMs ?? 50);
  }
}

/** A closed TCP port on loopback (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A new private directory under parent (the system's temp dir by default); remove it after. */
export function tempDir(prefix = 'cj-', parent = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(parent, prefix));
}
