// A minimal Docker Engine API client over the unix socket: the same API the Pulumi docker
// provider drives, so the end-to-end deployer sets exactly the fields the stack sets.
import * as http from 'http';

export class EngineError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function socketPathOf(dockerHost: string): string {
  if (!dockerHost.startsWith('unix://')) {
    throw new Error(`the end-to-end deployer drives a local engine only, got ${dockerHost}`);
  }
  return dockerHost.slice('unix://'.length);
}

export class Engine {
  constructor(private readonly socketPath: string) {}

  request<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 120_000): Promise<T> {
    const raw = Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : raw ? body : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path: `/v1.41${path}`,
          headers: payload
            ? { 'Content-Type': raw ? 'application/x-tar' : 'application/json', 'Content-Length': payload.length }
            : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              let msg = text;
              try {
                msg = (JSON.parse(text) as { message?: string }).message ?? text;
              } catch {
                /* plain text error */
              }
              reject(new EngineError(status, `${method} ${path}: ${status} ${msg}`));
              return;
            }
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch {
              resolve(text as unknown as T);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /** Like request, but a 404 (already gone) is not an error: for idempotent teardown. */
  async remove(path: string): Promise<void> {
    try {
      await this.request('DELETE', path);
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 404)) throw e;
    }
  }
}
