// The ClientHello parser on real ClientHellos (captured from Node's tls.connect to a local
// socket), split at every offset; non-TLS; no SNI; oversize.
import * as net from 'net';
import * as tls from 'tls';
import { ClientHelloReader, MAX_HELLO_BYTES, parseClientHello } from '../src/sni';

/** The first flight of tls.connect(servername) to a plain TCP listener on 127.0.0.1. */
async function captureHello(servername: string | undefined, extra: tls.ConnectionOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let done!: () => void;
  const got = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const r = parseClientHello(Buffer.concat(chunks));
      if (r.status !== 'incomplete') {
        s.destroy();
        done();
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const c = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...extra });
  c.on('error', () => undefined);
  await got;
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return Buffer.concat(chunks);
}

describe('SNI from a TLS ClientHello', () => {
  let hello: Buffer;
  let noSni: Buffer;
  beforeAll(async () => {
    hello = await captureHello('API.Example.org');
    noSni = await captureHello(undefined);
  });

  it('reads the server name from a real ClientHello', () => {
    expect(hello[0]).toBe(0x16);
    expect(parseClientHello(hello)).toEqual({ status: 'ok', serverName: 'API.Example.org' });
  });

  it('gives the same answer however the bytes are split (every offset), and incomplete before', () => {
    for (let i = 1; i < hello.length; i++) {
      const r = new ClientHelloReader();
      expect(r.push(hello.subarray(0, i))).toEqual({ status: 'incomplete' });
      expect(r.push(hello.subarray(i))).toEqual({ status: 'ok', serverName: 'API.Example.org' });
      expect(r.buffered.equals(hello)).toBe(true);
    }
    // and byte by byte
    const r = new ClientHelloReader();
    for (let i = 0; i < hello.length - 1; i++) expect(r.push(hello.subarray(i, i + 1)).status).toBe('incomplete');
    expect(r.push(hello.subarray(hello.length - 1))).toEqual({ status: 'ok', serverName: 'API.Example.org' });
  });

  it('a ClientHello split across two TLS records is reassembled', () => {
    const body = hello.subarray(5);
    const cut = 40;
    const rec = (b: Buffer) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, b.length >> 8, b.length & 255]), b]);
    const two = Buffer.concat([rec(body.subarray(0, cut)), rec(body.subarray(cut))]);
    expect(parseClientHello(two)).toEqual({ status: 'ok', serverName: 'API.Example.org' });
    expect(parseClientHello(two.subarray(0, two.length - 1))).toEqual({ status: 'incomplete' });
  });

  it('bytes after the ClientHello (early data) do not matter', () => {
    expect(parseClientHello(Buffer.concat([hello, Buffer.from([0x17, 3, 3, 0, 1, 0])]))).toEqual({ status: 'ok', serverName: 'API.Example.org' });
  });

  it('no SNI (tls.connect to an IP without servername) → no-sni', () => {
    expect(parseClientHello(noSni)).toMatchObject({ status: 'error', reason: 'no-sni' });
  });

  it('plain HTTP and other bytes → not-tls, at the first byte', () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n'))).toMatchObject({ status: 'error', reason: 'not-tls' });
    expect(parseClientHello(Buffer.from([0x47]))).toMatchObject({ status: 'error', reason: 'not-tls' });
    expect(parseClientHello(Buffer.from([0x16, 0x07]))).toMatchObject({ status: 'error', reason: 'not-tls' });
    // a handshake record that is not a ClientHello (ServerHello = 2)
    expect(parseClientHello(Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0]))).toMatchObject({ status: 'error', reason: 'not-tls' });
    // a corrupt ClientHello: lengths pointing past its end
    const bad = Buffer.from(hello);
    bad.writeUInt16BE(0xffff, 5 + 4 + 34 + 1 + bad[5 + 4 + 34]);
    expect(parseClientHello(bad)).toMatchObject({ status: 'error', reason: 'not-tls' });
  });

  it('stops at the size cap (truncated) and at end of stream before completion', () => {
    const huge = Buffer.from([0x16, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x00]);
    expect(parseClientHello(huge)).toMatchObject({ status: 'error', reason: 'truncated' });
    // A ClientHello under the cap, trickled in 1-byte records: the buffered bytes pass the cap first.
    const r = new ClientHelloReader();
    const payload = Buffer.concat([Buffer.from([1, 0x00, 0x3e, 0x80]), Buffer.alloc(16000)]);
    let last = r.push(Buffer.from([0x16, 3, 1, 0, 1, payload[0]]));
    for (let i = 1; i < payload.length && last.status === 'incomplete'; i++) last = r.push(Buffer.from([0x16, 3, 1, 0, 1, payload[i]]));
    expect(last).toMatchObject({ status: 'error', reason: 'truncated' });
    expect(r.buffered.length).toBeGreaterThan(MAX_HELLO_BYTES);
    const partial = new ClientHelloReader();
    partial.push(hello.subarray(0, 20));
    expect(partial.end()).toMatchObject({ status: 'error', reason: 'truncated' });
    expect(new ClientHelloReader().end()).toMatchObject({ status: 'error', reason: 'not-tls' });
  });
});
