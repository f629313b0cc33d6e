// The INSTREAM client against a real clamd (private instance, test signatures).

import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { ClamdClient, ClamdUnavailableError } from '../src/clamdClient';
import { parseEndpoint } from '../src/clamdProtocol';
import { ClamdInstance, EICAR, corpusFiles, freePort, startClamd } from './clamdHarness';

jest.setTimeout(60000);

async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('clamd client (real clamd)', () => {
  let clamd: ClamdInstance;
  let tcp: ClamdClient;
  let unix: ClamdClient;

  beforeAll(async () => {
    clamd = await startClamd({ maxThreads: 2, streamMaxLength: '2M', maxFileSize: '2M', maxScanSize: '8M' });
    tcp = new ClamdClient(parseEndpoint(clamd.tcp), { timeoutMs: 20000 });
    unix = new ClamdClient(parseEndpoint(clamd.unix), { timeoutMs: 20000 });
  });
  afterAll(async () => {
    await clamd?.destroy();
  });

  test('PING, VERSION and STATS over TCP and the unix socket', async () => {
    await expect(tcp.ping()).resolves.toBeUndefined();
    await expect(unix.ping()).resolves.toBeUndefined();
    expect(await tcp.version()).toMatch(/^ClamAV \d+\.\d+/);
    expect(await unix.stats()).toMatchObject({ threadsMax: 2 });
  });

  test('EICAR is infected, over both transports, whatever the chunk size', async () => {
    for (const c of [tcp, unix]) {
      for (const size of [1, 7, 68, 65536]) {
        expect(await c.instream(chunksOf(EICAR, size))).toEqual({ kind: 'infected', signature: 'Eicar-Test-Signature.UNOFFICIAL' });
      }
    }
  });

  test('clean bytes (including an empty stream and 1.5 MB) are clean', async () => {
    expect(await tcp.instream(chunksOf(Buffer.from('hello world\n'), 4))).toEqual({ kind: 'clean' });
    expect(await tcp.instream(chunksOf(Buffer.alloc(0), 4))).toEqual({ kind: 'clean' });
    const big = Buffer.alloc(1.5 * 1024 * 1024, 'abcdefgh');
    expect(await unix.instream(chunksOf(big, 65536))).toEqual({ kind: 'clean' });
  });

  test('every file of the clamav-testfiles corpus is infected (archives included)', async () => {
    const files = corpusFiles();
    expect(files.length).toBe(44);
    const misses: string[] = [];
    for (const f of files) {
      const v = await tcp.instream(chunksOf(fs.readFileSync(f), 65536));
      if (v.kind !== 'infected') misses.push(`${path.basename(f)}: ${JSON.stringify(v)}`);
    }
    expect(misses).toEqual([]);
  });

  test('over the stream limit is unscannable (size-limit), never clean', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    for (let i = 0; i < 5; i++) {
      // clamd answers "INSTREAM size limit exceeded" and closes; when the reset beats the reply
      // to us, the client asks PING and still reports unscannable (never clean, never "down")
      const v = await tcp.instream(chunksOf(big, 65536));
      expect(v.kind).toBe('unscannable');
      expect(['size-limit', 'clamd-error']).toContain((v as { reason: string }).reason);
    }
  });

  test('nobody listening: ClamdUnavailableError, not a verdict', async () => {
    const port = await freePort();
    const c = new ClamdClient({ kind: 'tcp', host: '127.0.0.1', port }, { connectTimeoutMs: 1000 });
    await expect(c.ping()).rejects.toBeInstanceOf(ClamdUnavailableError);
    await expect(c.instream(chunksOf(EICAR, 68))).rejects.toBeInstanceOf(ClamdUnavailableError);
    const u = new ClamdClient({ kind: 'unix', path: path.join(clamd.dir, 'nope.sock') });
    await expect(u.ping()).rejects.toBeInstanceOf(ClamdUnavailableError);
  });

  test('a server that hangs gives a timeout verdict; one that hangs up mid-scan is "unavailable"', async () => {
    const sockets: net.Socket[] = [];
    const hang = net.createServer((s) => sockets.push(s));
    const hangup = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => hangup.listen(0, '127.0.0.1', () => r()));
    try {
      const h = new ClamdClient({ kind: 'tcp', host: '127.0.0.1', port: (hang.address() as net.AddressInfo).port });
      expect(await h.instream(chunksOf(EICAR, 68), 300)).toMatchObject({ kind: 'unscannable', reason: 'timeout' });
      const u = new ClamdClient({ kind: 'tcp', host: '127.0.0.1', port: (hangup.address() as net.AddressInfo).port });
      const err = await u.instream(chunksOf(EICAR, 68), 2000).catch((e) => e);
      expect(err).toBeInstanceOf(ClamdUnavailableError);
      expect((err as ClamdUnavailableError).midScan).toBe(true);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => hang.close(r));
      await new Promise((r) => hangup.close(r));
    }
  });

  test('a clamd that drops a stream but still answers PING: unscannable, not "down"', async () => {
    const picky = net.createServer((s) => {
      let head = '';
      s.on('data', (d) => {
        head += d.toString('latin1');
        if (head.startsWith('zPING\0')) s.end('PONG\0');
        else if (head.startsWith('zINSTREAM\0')) s.destroy(); // no reply at all
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => picky.listen(0, '127.0.0.1', () => r()));
    try {
      const c = new ClamdClient({ kind: 'tcp', host: '127.0.0.1', port: (picky.address() as net.AddressInfo).port });
      expect(await c.instream(chunksOf(EICAR, 68), 2000)).toMatchObject({ kind: 'unscannable', reason: 'clamd-error' });
    } finally {
      await new Promise((r) => picky.close(r));
    }
  });

  test('a source that fails is reported as such (SourceError)', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      throw new Error('EIO');
    }
    await expect(tcp.instream(broken())).rejects.toMatchObject({ name: 'SourceError' });
  });
});
