// Health: an HTTP endpoint (GET /healthz: 200 ok / 503 degraded, JSON body) and/or a JSON file
// rewritten atomically every second, for Docker HEALTHCHECK (`node dist/main.js --healthcheck`)
// and for the sentry (./sentry), which freezes the prisoner while this report is not ok.

import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';

export interface HealthSnapshot {
  status: 'starting' | 'ok' | 'degraded' | 'stopping';
  reasons: string[];
  updatedAt: string;
  /** The startup walk is done and nothing is queued, scanned or walked: what was written while no warden ran has been judged. */
  caughtUp: boolean;
  [k: string]: unknown;
}

/** How often the file is rewritten: the sentry counts a report older than a few of these as a hung warden. */
export const HEALTH_FILE_EVERY_MS = 1000;

export class HealthReporter {
  private server: http.Server | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly snapshot: () => HealthSnapshot, private readonly opts: { port: number | null; host: string; file: string | null }) {}

  async start(): Promise<number | null> {
    let port: number | null = null;
    if (this.opts.port !== null) {
      const srv = http.createServer((req, res) => {
        if (req.method !== 'GET' || (req.url !== '/healthz' && req.url !== '/')) {
          res.writeHead(404).end();
          return;
        }
        const s = this.snapshot();
        res.writeHead(s.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(s) + '\n');
      });
      srv.headersTimeout = 5000;
      srv.requestTimeout = 5000;
      await new Promise<void>((res, rej) => {
        srv.once('error', rej);
        srv.listen(this.opts.port as number, this.opts.host, () => res());
      });
      const addr = srv.address();
      port = typeof addr === 'object' && addr ? addr.port : null;
      this.server = srv;
    }
    if (this.opts.file) {
      this.writeFile();
      this.timer = setInterval(() => this.writeFile(), HEALTH_FILE_EVERY_MS);
      this.timer.unref();
    }
    return port;
  }

  writeFile(): void {
    if (!this.opts.file) return;
    const tmp = path.join(path.dirname(this.opts.file), `.${path.basename(this.opts.file)}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(tmp, JSON.stringify(this.snapshot()) + '\n', { mode: 0o644 });
      fs.renameSync(tmp, this.opts.file);
    } catch {
      /* best effort; the HTTP endpoint or the next tick will tell */
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.writeFile();
    if (this.server) await new Promise<void>((r) => (this.server as http.Server).close(() => r()));
  }
}

/** For --healthcheck: 0 if a warden reports ok through the port or the file (fresh: < 30 s). */
export async function checkHealth(opts: { port: number | null; host: string; file: string | null }): Promise<{ ok: boolean; detail: string }> {
  if (opts.port !== null) {
    return new Promise((resolve) => {
      const req = http.get({ host: opts.host, port: opts.port as number, path: '/healthz', timeout: 3000, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ ok: res.statusCode === 200, detail: body.trim() }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ ok: false, detail: e.message }));
    });
  }
  if (opts.file) {
    try {
      const s = JSON.parse(fs.readFileSync(opts.file, 'utf8')) as HealthSnapshot;
      const age = Date.now() - Date.parse(s.updatedAt);
      return { ok: s.status === 'ok' && age < 30000, detail: `${s.status}, ${Math.round(age / 1000)} s old` };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }
  return { ok: false, detail: 'neither WARDEN_HEALTH_PORT nor WARDEN_HEALTH_FILE is set' };
}
