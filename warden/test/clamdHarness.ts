// A private clamd for tests, end-to-end tests and the benchmark.
//
// Starts /usr/sbin/clamd (not the system service) in the foreground with its own temp dir:
// clamd.conf, a test signature database (test.hdb: EICAR + clamav-testfiles' clam.exe, by md5,
// which makes clamd detect every file of /usr/share/clamav-testfiles, archives included),
// a TCP listener on a free loopback port and a unix socket. Waits for PING → PONG. Stops and
// kills only the process it started, by PID; destroy() also removes the temp dir.
//
//   const clamd = await startClamd();          // clamd.tcp = 'tcp://127.0.0.1:NNNN'
//   ... WARDEN_CLAMD: clamd.tcp ...
//   await clamd.destroy();                      // in afterAll, also after failures

import { ChildProcess, spawn } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const TESTFILES_DIR = '/usr/share/clamav-testfiles';
export const CLAMD_BINARY = process.env.CLAMD_BINARY || '/usr/sbin/clamd';

/** The EICAR test file (68 bytes), assembled at run time so this source is not itself a sample. */
export const EICAR: Buffer = Buffer.from(
  ['X5O!P%@AP[4\\PZX54(P^)7CC)7}', '$EICAR-STANDARD-ANTIVIRUS', '-TEST-FILE!$H+H*'].join(''),
  'latin1',
);
export const EICAR_SIGNATURE = 'Eicar-Test-Signature';
export const CLAM_SIGNATURE = 'ClamAV-Test-File';

export interface Signature {
  md5: string;
  size: number;
  name: string;
}

/** The default test database: EICAR and clamav-testfiles' clam.exe. */
export function testSignatures(): Signature[] {
  const sigs: Signature[] = [signatureOf(EICAR, EICAR_SIGNATURE)];
  const clam = path.join(TESTFILES_DIR, 'clam.exe');
  if (fs.existsSync(clam)) sigs.push(signatureOf(fs.readFileSync(clam), CLAM_SIGNATURE));
  return sigs;
}

export function signatureOf(content: Buffer, name: string): Signature {
  return { md5: crypto.createHash('md5').update(content).digest('hex'), size: content.length, name };
}

export function hdbLines(sigs: Signature[]): string {
  return sigs.map((s) => `${s.md5}:${s.size}:${s.name}`).join('\n') + '\n';
}

/** The test clamd's ReadTimeout: scans of up to 25 s (the tests' WARDEN_SCAN_TIMEOUT_MS) run in sessions. */
export const HARNESS_READ_TIMEOUT_S = 30;
/** The scan timeout the in-process test wardens use, so that they scan in sessions as the stack's does. */
export const HARNESS_SCAN_TIMEOUT_MS = 20_000;

export interface ClamdOptions {
  signatures?: Signature[];
  maxThreads?: number;
  /** clamd's limits, e.g. '10M' */
  streamMaxLength?: string;
  maxFileSize?: string;
  maxScanSize?: string;
  tcp?: boolean;
  unix?: boolean;
  /** reuse this TCP port (else a free one) */
  port?: number;
  readyTimeoutMs?: number;
  /** clamd's ReadTimeout in seconds (default HARNESS_READ_TIMEOUT_S); the warden's scans use sessions when theirs ends 5 s before it */
  readTimeoutS?: number;
  /** more clamd.conf lines, e.g. ['DisableCache yes'] for benchmarks */
  extraConfig?: string[];
  /** writes more databases (.hdb, .hsb, .ndb, ...) into clamd's DatabaseDirectory before it starts */
  prepareDatabase?: (dbDir: string) => void;
  /**
   * where to make the temp dir, which is also clamd's TemporaryDirectory: INSTREAM spools every
   * stream to a temp file there, so on a busy disk it is 2-5x slower than on tmpfs. Default:
   * /dev/shm when writable (as the clamd image uses a tmpfs), else os.tmpdir().
   */
  parentDir?: string;
}

export interface ClamdInstance {
  readonly dir: string;
  readonly port: number | null;
  readonly socketPath: string | null;
  /** 'tcp://127.0.0.1:PORT' (or the unix endpoint if TCP is off) */
  readonly tcp: string;
  /** 'unix:/tmp/.../clamd.sock' */
  readonly unix: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** SIGTERM the clamd we started, wait for it (SIGKILL after timeoutMs) */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL it (a crash) */
  kill(): Promise<void>;
  /** start it again with the same configuration, port and socket */
  restart(): Promise<void>;
  /** stop and remove the temp dir */
  destroy(): Promise<void>;
  log(): string;
}

const started = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the process exits without destroy(): kill only what we started, by PID,
  // and remove our temp dirs.
  process.on('exit', () => {
    for (const c of started) {
      if (c.pid && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

function defaultParent(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

import { freePort } from '../../test/helpers/wait';

export { freePort };

/** Send one null-terminated command, return the reply (null if nothing answered). */
export function clamdCommand(endpoint: { port?: number | null; socketPath?: string | null }, cmd: string, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = endpoint.port ? net.connect({ host: '127.0.0.1', port: endpoint.port }) : net.connect({ path: endpoint.socketPath as string });
    let buf = '';
    const done = (v: string | null) => {
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), timeoutMs);
    sock.on('connect', () => sock.write(`z${cmd}\0`));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\0')) done(buf.replace(/\0+$/, ''));
    });
    sock.on('error', () => done(null));
    sock.on('end', () => done(buf || null));
  });
}

export async function startClamd(opts: ClamdOptions = {}): Promise<ClamdInstance> {
  installExitHook();
  const dir = fs.mkdtempSync(path.join(opts.parentDir ?? defaultParent(), 'cjw-clamd-'));
  dirs.add(dir);
  const db = path.join(dir, 'db');
  fs.mkdirSync(db);
  fs.writeFileSync(path.join(db, 'test.hdb'), hdbLines(opts.signatures ?? testSignatures()));
  opts.prepareDatabase?.(db);
  const useTcp = opts.tcp !== false;
  const useUnix = opts.unix !== false;
  const port = useTcp ? opts.port ?? (await freePort()) : null;
  const socketPath = useUnix ? path.join(dir, 'clamd.sock') : null;
  const conf = [
    'Foreground yes',
    `DatabaseDirectory ${db}`,
    `TemporaryDirectory ${dir}`,
    `LogFile ${path.join(dir, 'clamd.log')}`,
    'LogTime yes',
    'LogVerbose no',
    `PidFile ${path.join(dir, 'clamd.pid')}`,
    port !== null ? `TCPSocket ${port}` : '',
    port !== null ? 'TCPAddr 127.0.0.1' : '',
    socketPath ? `LocalSocket ${socketPath}` : '',
    socketPath ? 'LocalSocketMode 660' : '',
    `MaxThreads ${opts.maxThreads ?? 2}`,
    `StreamMaxLength ${opts.streamMaxLength ?? '10M'}`,
    `MaxFileSize ${opts.maxFileSize ?? '10M'}`,
    `MaxScanSize ${opts.maxScanSize ?? '40M'}`,
    'AlertExceedsMax yes',
    'SelfCheck 0',
    'Bytecode no',
    `ReadTimeout ${opts.readTimeoutS ?? HARNESS_READ_TIMEOUT_S}`,
    'CommandReadTimeout 10',
    ...(opts.extraConfig ?? []),
  ].filter(Boolean).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'clamd.conf'), conf);

  let child: ChildProcess | null = null;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60000;

  const launch = async (): Promise<void> => {
    const out = fs.openSync(path.join(dir, 'stdout.log'), 'a');
    const c = spawn(CLAMD_BINARY, ['-c', path.join(dir, 'clamd.conf')], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child = c;
    started.add(c);
    c.once('exit', () => started.delete(c));
    const until = Date.now() + readyTimeoutMs;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`clamd exited (${c.exitCode ?? c.signalCode}) before it was ready:\n${tail(dir)}`);
      const r = await clamdCommand({ port, socketPath }, 'PING', 1000);
      if (r === 'PONG') return;
      if (Date.now() > until) {
        await stopChild(c, 2000);
        throw new Error(`clamd not ready after ${readyTimeoutMs} ms:\n${tail(dir)}`);
      }
      await new Promise((r2) => setTimeout(r2, 50));
    }
  };
  await launch();

  const inst: ClamdInstance = {
    dir,
    port,
    socketPath,
    tcp: port !== null ? `tcp://127.0.0.1:${port}` : `unix:${socketPath}`,
    unix: socketPath ? `unix:${socketPath}` : '',
    get pid() {
      return child?.pid ?? null;
    },
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async stop(timeoutMs = 10000) {
      if (child) await stopChild(child, timeoutMs);
    },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) {
        const c = child;
        const gone = new Promise((r) => c.once('exit', r));
        process.kill(c.pid as number, 'SIGKILL');
        await gone;
      }
    },
    async restart() {
      if (inst.running) await inst.stop();
      if (socketPath) fs.rmSync(socketPath, { force: true });
      await launch();
    },
    async destroy() {
      try {
        await inst.stop();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        dirs.delete(dir);
      }
    },
    log() {
      return tail(dir, 200);
    },
  };
  return inst;
}

async function stopChild(c: ChildProcess, timeoutMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || !c.pid) return;
  const gone = new Promise((r) => c.once('exit', r));
  process.kill(c.pid, 'SIGTERM');
  const t = setTimeout(() => {
    if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  }, timeoutMs);
  await gone;
  clearTimeout(t);
}

function tail(dir: string, lines = 30): string {
  const parts: string[] = [];
  for (const f of ['clamd.log', 'stdout.log']) {
    try {
      parts.push(`--- ${f}\n` + fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-lines).join('\n'));
    } catch {
      /* none */
    }
  }
  return parts.join('\n');
}

/** The corpus: every file of clamav-testfiles (absolute paths). */
export function corpusFiles(): string[] {
  if (!fs.existsSync(TESTFILES_DIR)) return [];
  return fs.readdirSync(TESTFILES_DIR).sort().map((f) => path.join(TESTFILES_DIR, f));
}
