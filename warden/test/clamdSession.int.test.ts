// Scans in clamd sessions (IDSESSION): a real clamd for reuse, limits and a crash; fake servers for
// the replies a session must never take as a verdict (another request's number, extra replies).

import * as net from 'net';
import { ClamdClient, ClamdUnavailableError, splitSessionReply, type ClamdClientOptions } from '../src/clamdClient';
import { parseEndpoint, type Verdict } from '../src/clamdProtocol';
import { ClamdInstance, EICAR, HARNESS_READ_TIMEOUT_S, startClamd } from './clamdHarness';

jest.setTimeout(60000);

async function* chunksOf(buf: Buffer, size = 65536): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

const INFECTED = { kind: 'infected', signature: 'Eicar-Test-Signature.UNOFFICIAL' };
/** Sessions need a scan timeout that ends 5 s before clamd's ReadTimeout (the harness's, and the fake servers' "30 s"). */
const SESSIONS = { sessions: true, timeoutMs: 20_000, clamdReadTimeoutMs: HARNESS_READ_TIMEOUT_S * 1000 };
const CLEAN = { kind: 'clean' };

describe('splitSessionReply', () => {
  test('a numbered reply and nothing else', () => {
    expect(splitSessionReply('12: stream: OK')).toEqual({ id: 12, text: 'stream: OK' });
    expect(splitSessionReply('stream: OK')).toBeNull();
    expect(splitSessionReply('x1: stream: OK')).toBeNull();
    expect(splitSessionReply('1:stream: OK')).toBeNull();
  });
});

describe('clamd sessions against a real clamd', () => {
  let clamd: ClamdInstance;
  beforeAll(async () => {
    clamd = await startClamd({ maxThreads: 2, streamMaxLength: '2M', maxFileSize: '2M', maxScanSize: '8M' });
  });
  afterAll(async () => {
    await clamd?.destroy();
  });

  test('200 scans on 2 streams: each verdict is its own file’s, on 2 sessions (a connection per file opens none)', async () => {
    for (const sessions of [true, false]) {
      const c = new ClamdClient(parseEndpoint(clamd.tcp), { ...SESSIONS, sessions });
      const files = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? EICAR : Buffer.from(`clean file ${i}\n`)));
      const verdicts: Verdict[] = new Array(files.length);
      let next = 0;
      await Promise.all([0, 1].map(async () => {
        while (next < files.length) {
          const i = next++;
          verdicts[i] = await c.instream(chunksOf(files[i]));
        }
      }));
      expect(verdicts).toEqual(files.map((f) => (f === EICAR ? INFECTED : CLEAN)));
      expect(c.sessionsOpened).toBe(sessions ? 2 : 0);
      c.close();
    }
  });

  test('a size limit drops the session (its reply ends the stream); the next scan is right, on a new one', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.unix), SESSIONS);
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    const over = await c.instream(chunksOf(Buffer.alloc(3 * 1024 * 1024, 'x')));
    expect(over.kind).toBe('unscannable');
    expect(['size-limit', 'clamd-error']).toContain((over as { reason: string }).reason);
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(await c.instream(chunksOf(Buffer.from('fine\n')))).toEqual(CLEAN);
    expect(c.sessionsOpened).toBe(2);
    c.close();
  });

  test('a failed source drops the session; the next scan is right', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.tcp), SESSIONS);
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      throw new Error('EIO');
    }
    await expect(c.instream(broken())).rejects.toMatchObject({ name: 'SourceError' });
    // clamd still waits for the rest of that stream on the old session: a reuse would hand it EICAR's bytes
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(c.sessionsOpened).toBe(2);
    c.close();
  });

  test('an idle session past its time is ended, not used', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.tcp), { ...SESSIONS, sessionIdleMs: 100 });
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(c.sessionsOpened).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(c.sessionsOpened).toBe(2);
    c.close();
  });

  test('a scan whose timeout does not end 5 s before clamd\'s ReadTimeout runs on a connection of its own (clamd would end a quiet session mid-scan)', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.tcp), { sessions: true, timeoutMs: 26_000, clamdReadTimeoutMs: 30_000 });
    expect(c.sessionFor(26_000)).toBe(false);
    expect(c.sessionFor(25_000)).toBe(true);
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(await c.instream(chunksOf(EICAR), 25_000)).toEqual(INFECTED);
    expect(c.sessionsOpened).toBe(1);
    // a session waits at most until 5 s before clamd's clock, which runs from the last byte sent, ends
    expect(new ClamdClient(parseEndpoint(clamd.tcp), { sessions: true, clamdReadTimeoutMs: 7_000 }).sessionIdleMs).toBe(2_000);
    c.close();
  });

  test('close(): the waiting sessions end, a scan in flight ends its own, later scans take a connection each', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.tcp), SESSIONS);
    expect(await Promise.all([c.instream(chunksOf(EICAR)), c.instream(chunksOf(EICAR))])).toEqual([INFECTED, INFECTED]);
    expect(c.idleSessions).toBe(2);
    const inFlight = c.instream(chunksOf(Buffer.from('still going\n')));
    c.close();
    expect(c.idleSessions).toBe(0);
    expect(await inFlight).toEqual(CLEAN);
    expect(c.idleSessions).toBe(0);
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(c.sessionsOpened).toBe(2);
    expect(c.idleSessions).toBe(0);
    expect(c.sessionFor(1000)).toBe(false);
  });

  test('clamd killed and started again while sessions wait: the dead ones are dropped, no scan gets a wrong verdict', async () => {
    const c = new ClamdClient(parseEndpoint(clamd.tcp), SESSIONS);
    await Promise.all([c.instream(chunksOf(EICAR)), c.instream(chunksOf(EICAR))]);
    expect(c.sessionsOpened).toBe(2);
    await clamd.kill();
    // while it is down: unavailable (retry later), never a verdict
    await expect(c.instream(chunksOf(EICAR))).rejects.toBeInstanceOf(ClamdUnavailableError);
    await clamd.restart();
    expect(await c.instream(chunksOf(EICAR))).toEqual(INFECTED);
    expect(await c.instream(chunksOf(Buffer.from('fine\n')))).toEqual(CLEAN);
    expect(c.sessionsOpened).toBe(3);
    c.close();
  });
});

/** A session server: `answer(request number, stream bytes, connection number, socket)` returns what to write back (null: nothing). */
async function fakeSessionServer(answer: (id: number, bytes: Buffer, conn: number, sock: net.Socket) => string | null): Promise<{ port: number; connections: () => number; open: () => number; close: () => Promise<void> }> {
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    const conn = ++conns;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    let id = 0;
    let inSession = false;
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!inSession) {
          if (buf.length < 11) return;
          if (buf.subarray(0, 11).toString('latin1') !== 'zIDSESSION\0') return void s.destroy();
          inSession = true;
          buf = buf.subarray(11);
          continue;
        }
        if (buf.length < 10) return;
        if (buf.subarray(0, 10).toString('latin1') !== 'zINSTREAM\0') return void s.destroy();
        // a whole stream: chunks until the zero-length one
        let at = 10;
        const parts: Buffer[] = [];
        for (;;) {
          if (buf.length < at + 4) return;
          const n = buf.readUInt32BE(at);
          if (buf.length < at + 4 + n) return;
          if (n === 0) break;
          parts.push(buf.subarray(at + 4, at + 4 + n));
          at += 4 + n;
        }
        buf = buf.subarray(at + 4);
        const reply = answer(++id, Buffer.concat(parts), conn, s);
        if (reply !== null) s.write(reply);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => conns,
    open: () => sockets.size,
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => server.close(r));
    },
  };
}

const isEicar = (b: Buffer) => b.equals(EICAR);
/** What a well-behaved clamd answers to request `id` (the fake's own signature name). */
const rightAnswer = (id: number, b: Buffer) => `${id}: stream: ${isEicar(b) ? 'Eicar-Test-Signature FOUND' : 'OK'}\0`;
const FAKE_INFECTED = { kind: 'infected', signature: 'Eicar-Test-Signature' };

/** A session client against a fake server that answers with `answer`; both closed afterwards. */
async function withFakeServer(
  answer: Parameters<typeof fakeSessionServer>[0],
  body: (c: ClamdClient, srv: Awaited<ReturnType<typeof fakeSessionServer>>) => Promise<void>,
  opts: ClamdClientOptions = SESSIONS,
): Promise<void> {
  const srv = await fakeSessionServer(answer);
  const c = new ClamdClient({ kind: 'tcp', host: '127.0.0.1', port: srv.port }, opts);
  try {
    await body(c, srv);
  } finally {
    c.close();
    await srv.close();
  }
}

describe('clamd sessions against servers that break the protocol', () => {
  test('control: a server that numbers its replies right gives each file its verdict on one session', async () => {
    await withFakeServer(rightAnswer, async (c, srv) => {
      expect(await c.instream(chunksOf(Buffer.from('a')))).toEqual(CLEAN);
      expect(await c.instream(chunksOf(EICAR))).toEqual(FAKE_INFECTED);
      expect(await c.instream(chunksOf(Buffer.from('b')))).toEqual(CLEAN);
      expect(srv.connections()).toBe(1);
    });
  });

  test('a reply numbered for another request is no verdict (clamd counts as failed), and the session is dropped', async () => {
    // answers every request as if it were the first: the second file's "OK" would be the first's
    await withFakeServer((_id, b) => rightAnswer(1, b), async (c, srv) => {
      expect(await c.instream(chunksOf(Buffer.from('a')))).toEqual(CLEAN);
      const err = await c.instream(chunksOf(Buffer.from('b'))).catch((e) => e);
      expect(err).toBeInstanceOf(ClamdUnavailableError);
      expect(err).toMatchObject({ code: 'EPROTO', midScan: true });
      // a new session: its first request is 1 again, and is answered right
      expect(await c.instream(chunksOf(EICAR))).toEqual(FAKE_INFECTED);
      expect(srv.connections()).toBe(2);
    });
  });

  test('an extra reply after the verdict is never the next file’s: the session is dropped', async () => {
    // the first answer carries a second, unasked "2: stream: OK"; the next file is EICAR
    await withFakeServer((id, b, conn) => (conn === 1 && id === 1 ? '1: stream: OK\x002: stream: OK\0' : rightAnswer(id, b)), async (c, srv) => {
      expect(await c.instream(chunksOf(Buffer.from('a')))).toEqual(CLEAN);
      expect(await c.instream(chunksOf(EICAR))).toEqual(FAKE_INFECTED);
      expect(srv.connections()).toBe(2);
    });
  });

  test("clamd's own read timeout in a session (unnumbered, then a hang-up) is a timeout verdict, never clean and not an outage", async () => {
    const answer = (id: number, b: Buffer, _conn: number, sock: net.Socket) => {
      if (id !== 2) return rightAnswer(id, b);
      sock.end('COMMAND READ TIMED OUT\n');
      return null;
    };
    await withFakeServer(answer, async (c) => {
      expect(await c.instream(chunksOf(Buffer.from('a')))).toEqual(CLEAN);
      expect(await c.instream(chunksOf(EICAR))).toMatchObject({ kind: 'unscannable', reason: 'timeout' });
    });
  });

  test('a session nobody takes is ended after its idle time, not left open until clamd ends it', async () => {
    await withFakeServer(rightAnswer, async (c, srv) => {
      await Promise.all([c.instream(chunksOf(Buffer.from('a'))), c.instream(chunksOf(Buffer.from('b')))]);
      expect(srv.open()).toBe(2);
      await new Promise((r) => setTimeout(r, 400));
      expect(srv.open()).toBe(0);
    }, { ...SESSIONS, sessionIdleMs: 100 });
  });

  /** One clean file, a wait while the session is parked, then EICAR: it must be infected, on a second connection. */
  async function parkedSessionSpoiled(spoil: (sock: net.Socket) => void): Promise<void> {
    const answer = (id: number, b: Buffer, conn: number, sock: net.Socket) => {
      if (conn === 1 && id === 1) setTimeout(() => spoil(sock), 20);
      return rightAnswer(id, b);
    };
    await withFakeServer(answer, async (c, srv) => {
      expect(await c.instream(chunksOf(Buffer.from('a')))).toEqual(CLEAN);
      await new Promise((r) => setTimeout(r, 100));
      expect(await c.instream(chunksOf(EICAR))).toEqual(FAKE_INFECTED);
      expect(srv.connections()).toBe(2);
    });
  }

  test('an unasked reply while the session waits drops it: the next file is not given that "OK"', async () => {
    await parkedSessionSpoiled((sock) => sock.write('2: stream: OK\0'));
  });

  test('a server that hangs up on a waiting session: a new one, the right verdict', async () => {
    await parkedSessionSpoiled((sock) => sock.destroy());
  });
});
