// The egress proxy's admin socket (egress/README.md "Admin socket"): one JSON request line,
// one JSON response line, then the connection closes.
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export class AdminError extends Error {}

export type AdminRequest =
  | { op: 'status' }
  | { op: 'pending' }
  | { op: 'allow'; entry: string; seconds?: number }
  | { op: 'deny'; entry: string };

export interface AdminResponse {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

const MAX_RESPONSE = 16 << 20;

/** The longest path a unix socket address holds (sun_path, with its terminating zero). */
const SUN_PATH_MAX = 107;

export function adminRequest(socketPath: string, request: AdminRequest, timeoutMs = 15_000): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    // A deep directory (a test's, a long volume path): reach the socket through /proc/self/fd.
    let dirFd: number | null = null;
    let connectPath = socketPath;
    if (Buffer.byteLength(socketPath) > SUN_PATH_MAX && process.platform === 'linux') {
      try {
        dirFd = fs.openSync(path.dirname(socketPath), 'r');
        connectPath = `/proc/self/fd/${dirFd}/${path.basename(socketPath)}`;
      } catch {
        dirFd = null;
      }
    }
    const sock = net.createConnection({ path: connectPath });
    const finish = (err: Error | null, value?: AdminResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (dirFd !== null) fs.closeSync(dirFd);
      if (err) reject(err);
      else resolve(value as AdminResponse);
    };
    const timer = setTimeout(() => finish(new AdminError(`no answer from the egress proxy at ${socketPath} within ${timeoutMs / 1000}s`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(request) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_RESPONSE) return finish(new AdminError('the egress proxy answered more than 16 MiB'));
      const nl = buf.indexOf('\n');
      if (nl >= 0) parse(buf.slice(0, nl));
    });
    sock.on('end', () => {
      if (buf.trim() !== '') parse(buf);
      else finish(new AdminError(`the egress proxy at ${socketPath} closed the connection without an answer`));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(new AdminError(explain(e, socketPath))));
    function parse(line: string) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        return finish(new AdminError(`the egress proxy at ${socketPath} answered something that is not JSON`));
      }
      if (o === null || typeof o !== 'object' || typeof (o as AdminResponse).ok !== 'boolean') {
        return finish(new AdminError(`the egress proxy at ${socketPath} answered without "ok"`));
      }
      finish(null, o as AdminResponse);
    }
  });
}

function explain(e: NodeJS.ErrnoException, socketPath: string): string {
  switch (e.code) {
    case 'ENOENT':
      return `no admin socket at ${socketPath} (is the egress proxy running?)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${socketPath}: the socket belongs to the proxy's user (mode 0600); run clawjail egress as root`;
    case 'ENAMETOOLONG':
      return `the socket path ${socketPath} is too long for a unix socket: use a shorter --dir`;
    case 'ECONNREFUSED':
      return `nothing listens on ${socketPath} (the egress proxy stopped?)`;
    default:
      return `cannot reach the egress proxy at ${socketPath}: ${e.message}`;
  }
}
