// The sentry's loop against an engine of its own: a stand-in for the Docker Engine API on a unix
// socket (the four calls the sentry makes, and the version it must ask for), and a real warden
// health file. The real engine runs it in test/e2e/warden.e2e.test.ts; here the timing of
// events, looks and thaws is under the test's control.
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '@clawjail/log';
import { Sentry } from '../src/sentry/sentry';
import { waitFor } from './helpers';

const API = '1.47'; // newer than the 1.41 the sentry can speak: it must use the engine's own

interface Box {
  Id: string;
  State: { Status: string; Running: boolean; Paused: boolean; Restarting: boolean; StartedAt: string };
}

class FakeEngine {
  readonly server: http.Server;
  readonly boxes = new Map<string, Box>();
  readonly calls: string[] = [];
  private streams: http.ServerResponse[] = [];

  constructor(readonly socket: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.socket, () => r()));
  }

  box(name: string, running = true): Box {
    const b: Box = { Id: `${name}-id`, State: { Status: running ? 'running' : 'exited', Running: running, Paused: false, Restarting: false, StartedAt: new Date().toISOString() } };
    this.boxes.set(name, b);
    return b;
  }

  /** An event on the stream, as the engine sends it. */
  event(name: string, action: string): void {
    for (const s of this.streams) s.write(JSON.stringify({ Type: 'container', Action: action, Actor: { ID: `${name}-id`, Attributes: { name } } }) + '\n');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    this.calls.push(`${req.method} ${url.split('?')[0]}`);
    if (url === '/version') return void res.end(JSON.stringify({ ApiVersion: API, MinAPIVersion: '1.44' }));
    const m = /^\/v([\d.]+)(\/.*)$/.exec(url);
    if (!m || m[1] !== API) {
      res.writeHead(400);
      return void res.end(JSON.stringify({ message: `client version ${m?.[1]} is too old` }));
    }
    const rest = m[2];
    if (rest.startsWith('/events')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      this.streams.push(res);
      return;
    }
    const c = /^\/containers\/([^/]+)\/(json|pause|unpause)$/.exec(rest);
    const b = c ? this.boxes.get(decodeURIComponent(c[1])) : undefined;
    if (!c || !b) {
      res.writeHead(404);
      return void res.end('{"message":"no such container"}');
    }
    if (c[2] === 'json') return void res.end(JSON.stringify(b));
    const pause = c[2] === 'pause';
    if (b.State.Paused === pause || !b.State.Running) {
      res.writeHead(409);
      return void res.end('{"message":"conflict"}');
    }
    b.State.Paused = pause;
    b.State.Status = pause ? 'paused' : 'running';
    res.writeHead(204);
    res.end();
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.destroy();
    await new Promise((r) => this.server.close(() => r(undefined)));
  }
}

describe('the sentry against an engine of its own', () => {
  let dir: string;
  let engine: FakeEngine;
  let sentry: Sentry;
  let report: string;

  const writeReport = (fields: Record<string, unknown> = {}) => {
    const r = { status: 'ok', reasons: [], updatedAt: new Date().toISOString(), caughtUp: true, startupScan: { state: 'done' }, queue: { oldestWaitingMs: 0 }, ...fields };
    fs.writeFileSync(`${report}.tmp`, JSON.stringify(r));
    fs.renameSync(`${report}.tmp`, report);
  };
  const paused = () => engine.boxes.get('cj-cell')!.State.Paused;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjsentry-'));
    fs.mkdirSync(path.join(dir, 'health'));
    report = path.join(dir, 'health', 'health.json');
    engine = new FakeEngine(path.join(dir, 'engine.sock'));
    await engine.listen();
    engine.box('cj-warden');
    engine.box('cj-clamd');
    engine.box('cj-cell');
    writeReport();
    sentry = new Sentry(
      { engineSocket: engine.socket, cell: 'cj-cell', warden: 'cj-warden', clamd: 'cj-clamd', wardenHealthFile: report, staleMs: 5000, backlogMs: 10_000, pollMs: 100, stateFile: path.join(dir, 'state.json') },
      silentLogger,
    );
    sentry.start();
    await waitFor(() => fs.existsSync(path.join(dir, 'state.json')), 5000, 'the first look');
  });

  afterEach(async () => {
    await sentry.stop();
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("speaks the engine's own API version and leaves a cell with a working warden alone", async () => {
    await new Promise((r) => setTimeout(r, 500));
    expect(engine.calls[0]).toBe('GET /version');
    expect(engine.calls.filter((c) => c.startsWith('GET /v1.41'))).toEqual([]);
    expect(engine.calls).toContain(`GET /v${API}/containers/cj-warden/json`);
    expect(paused()).toBe(false);
  });

  it('freezes at the warden\u2019s death and thaws only on a report of its new run, written after the event, caught up', async () => {
    const w = engine.boxes.get('cj-warden')!;
    // the warden dies; its last report still says ok, and is fresh
    writeReport();
    w.State.Running = false;
    w.State.Status = 'exited';
    engine.event('cj-warden', 'die');
    await waitFor(() => paused(), 2000, 'the freeze');
    // it comes back: a new run, but no report of its own yet, then one not caught up
    w.State.Running = true;
    w.State.Status = 'running';
    w.State.StartedAt = new Date().toISOString();
    engine.event('cj-warden', 'start');
    await new Promise((r) => setTimeout(r, 1300));
    expect(paused()).toBe(true);
    writeReport({ caughtUp: false });
    await new Promise((r) => setTimeout(r, 400));
    expect(paused()).toBe(true);
    writeReport();
    await waitFor(() => !paused(), 3000, 'the thaw');
  });

  it('freezes when clamd stops, when the report goes stale, and when a file waits too long for its scan', async () => {
    const clamd = engine.boxes.get('cj-clamd')!;
    clamd.State.Running = false;
    clamd.State.Status = 'exited';
    engine.event('cj-clamd', 'stop');
    await waitFor(() => paused(), 2000, 'the freeze on clamd');
    clamd.State.Running = true;
    clamd.State.Status = 'running';
    await new Promise((r) => setTimeout(r, 1100));
    writeReport();
    await waitFor(() => !paused(), 3000, 'the thaw after clamd');

    writeReport({ updatedAt: new Date(Date.now() - 6000).toISOString() });
    await waitFor(() => paused(), 2000, 'the freeze on a stale report');
    writeReport();
    await waitFor(() => !paused(), 3000, 'the thaw after a fresh report');

    writeReport({ queue: { oldestWaitingMs: 12_000 }, caughtUp: false });
    await waitFor(() => paused(), 2000, 'the freeze on a backlog');
    writeReport();
    await waitFor(() => !paused(), 3000, 'the thaw once the queue is empty');
  });

  it('a warden restart that the event stream missed is a freeze too', async () => {
    const w = engine.boxes.get('cj-warden')!;
    // a new run with no event: the old report is from before it
    w.State.StartedAt = new Date(Date.now() + 50).toISOString();
    w.Id = 'cj-warden-id-2';
    await waitFor(() => paused(), 2000, 'the freeze');
    await new Promise((r) => setTimeout(r, 1100));
    writeReport();
    await waitFor(() => !paused(), 3000, 'the thaw');
  });
});
