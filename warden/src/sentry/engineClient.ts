// The few Engine API calls the sentry makes, over the engine's unix socket: inspect, pause and
// unpause one container, and the stream of container events. Nothing else is ever sent.
import * as http from 'http';

export class EngineError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/** The parts of `GET /containers/{name}/json` the sentry reads. */
export interface ContainerInspect {
  Id: string;
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    StartedAt: string;
    Health?: { Status: string };
  };
}

/** One line of `GET /events`. */
export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** The oldest API version whose calls the sentry makes as it makes them (Docker 20.10). */
export const MIN_API = '1.41';
/** Inspect answers are a few KiB; anything far larger is not an answer we asked for. */
const MAX_BODY = 4 * 1024 * 1024;

/** "1.41" < "1.44": API versions compared as numbers, part by part. */
export function apiAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export class EngineClient {
  /** "/v<the engine's own API version>", once asked; engines refuse versions below their minimum. */
  private api: string | null = null;

  constructor(private readonly socketPath: string, private readonly timeoutMs = 10_000) {}

  /** Asks the engine which API version it speaks (an unversioned call every engine answers). */
  private async prefix(): Promise<string> {
    if (this.api) return this.api;
    const r = await this.raw('GET', '/version');
    if (r.status !== 200) throw new EngineError(r.status, `version: ${r.status} ${r.body.trim()}`);
    const v = (JSON.parse(r.body) as { ApiVersion?: unknown }).ApiVersion;
    if (typeof v !== 'string' || !/^\d+\.\d+$/.test(v)) throw new Error(`the engine reports no API version: ${r.body.slice(0, 200)}`);
    if (!apiAtLeast(v, MIN_API)) throw new Error(`the engine speaks API ${v}; the sentry needs ${MIN_API} or later`);
    this.api = `/v${v}`;
    return this.api;
  }

  private async request(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: string }> {
    return this.raw(method, (await this.prefix()) + path);
  }

  private raw(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method, path, timeout: this.timeoutMs, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error(`${method} ${path}: answer over ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** null when there is no such container. */
  async inspect(name: string): Promise<ContainerInspect | null> {
    const r = await this.request('GET', `/containers/${encodeURIComponent(name)}/json`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new EngineError(r.status, `inspect ${name}: ${r.status} ${r.body.trim()}`);
    return JSON.parse(r.body) as ContainerInspect;
  }

  /** Freezes every process of the container (the cgroup freezer): nothing inside can undo it. */
  async pause(name: string): Promise<void> {
    const r = await this.request('POST', `/containers/${encodeURIComponent(name)}/pause`);
    if (r.status !== 204) throw new EngineError(r.status, `pause ${name}: ${r.status} ${r.body.trim()}`);
  }

  async unpause(name: string): Promise<void> {
    const r = await this.request('POST', `/containers/${encodeURIComponent(name)}/unpause`);
    if (r.status !== 204) throw new EngineError(r.status, `unpause ${name}: ${r.status} ${r.body.trim()}`);
  }

  /**
   * Streams the events of the named containers until the connection ends; `onEvent` gets each.
   * Resolves when the engine closes the stream, rejects on a connection error.
   */
  async events(containers: string[], onEvent: (e: EngineEvent) => void, signal: AbortSignal): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], container: containers }));
    const api = await this.prefix();
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method: 'GET', path: `${api}/events?filters=${filters}`, agent: false, signal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new EngineError(res.statusCode ?? 0, `events: ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            try {
              onEvent(JSON.parse(line) as EngineEvent);
            } catch {
              /* not an event: ignored; the poll still runs */
            }
          }
          if (buf.length > MAX_BODY) req.destroy(new Error('events: a line over the limit'));
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }
}
