// The admin socket: one JSON request line in, one JSON response line out, then close.
// The socket file is mode 0600 (and lives in the state directory, 0700, in the container).
import * as fs from 'fs';
import * as net from 'net';

export type AdminResponse = { ok: true; [k: string]: unknown } | { ok: false; error: string };

export interface AdminOps {
  status(): AdminResponse;
  pending(): AdminResponse;
  allow(entry: unknown, seconds: unknown): AdminResponse;
  deny(entry: unknown): AdminResponse;
}

const MAX_REQUEST_BYTES = 64 * 1024;

/** Dispatch one parsed request. Unknown ops and bad shapes are errors; nothing changes then. */
export function handleAdminRequest(ops: AdminOps, req: unknown): AdminResponse {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return { ok: false, error: 'expected a JSON object {"op": ...}' };
  const r = req as Record<string, unknown>;
  try {
    switch (r.op) {
      case 'status':
        return ops.status();
      case 'pending':
        return ops.pending();
      case 'allow':
        return ops.allow(r.entry, r.seconds);
      case 'deny':
        return ops.deny(r.entry);
      default:
        return { ok: false, error: `unknown op ${JSON.stringify(r.op)} (status, pending, allow, deny)` };
    }
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** Remove a stale socket file (never anything that is not a socket). */
function removeStale(path: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; not removing it`);
  fs.unlinkSync(path);
}

export async function startAdminServer(path: string, ops: AdminOps): Promise<net.Server> {
  removeStale(path);
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.setTimeout(5_000, () => socket.destroy());
    let buf = '';
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      const line = buf.split('\n')[0];
      let res: AdminResponse;
      try {
        res = handleAdminRequest(ops, JSON.parse(line));
      } catch {
        res = { ok: false, error: 'the request is not one line of JSON' };
      }
      socket.end(JSON.stringify(res) + '\n');
    };
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.length > MAX_REQUEST_BYTES) {
        answered = true;
        socket.end(JSON.stringify({ ok: false, error: 'request too large' }) + '\n');
        return;
      }
      if (buf.includes('\n')) answer();
    });
    socket.on('end', answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(path, 0o600);
  return server;
}

/** Send one request, read one response (used by --healthcheck, the tests, and any client). */
export function adminRequest(path: string, req: unknown, timeoutMs = 3_000): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf.split('\n')[0]) as AdminResponse);
      } catch {
        reject(new Error(`not a JSON answer on ${path}`));
      }
    });
  });
}
