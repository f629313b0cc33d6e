import { chunkHeader, commandBytes, END_OF_STREAM, endpointToString, parseEndpoint, parseScanReply, parseStats } from '../src/clamdProtocol';

describe('clamd protocol', () => {
  test('endpoints', () => {
    expect(parseEndpoint('tcp://clamd:3310')).toEqual({ kind: 'tcp', host: 'clamd', port: 3310 });
    expect(parseEndpoint('tcp://127.0.0.1:1')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1 });
    expect(parseEndpoint('tcp://[::1]:3310')).toEqual({ kind: 'tcp', host: '::1', port: 3310 });
    expect(parseEndpoint('unix:/run/clamd.sock')).toEqual({ kind: 'unix', path: '/run/clamd.sock' });
    expect(parseEndpoint('unix:///run/clamd.sock')).toEqual({ kind: 'unix', path: '/run/clamd.sock' });
    expect(endpointToString({ kind: 'tcp', host: '::1', port: 5 })).toBe('tcp://[::1]:5');
    for (const bad of ['clamd:3310', 'tcp://clamd', 'tcp://clamd:99999', 'unix:relative.sock', 'http://x:1']) {
      expect(() => parseEndpoint(bad)).toThrow();
    }
  });

  test('framing', () => {
    expect(commandBytes('INSTREAM').toString('latin1')).toBe('zINSTREAM\0');
    expect([...chunkHeader(0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...END_OF_STREAM]).toEqual([0, 0, 0, 0]);
  });

  test('only "stream: OK" is clean', () => {
    expect(parseScanReply('stream: OK\0')).toEqual({ kind: 'clean' });
    expect(parseScanReply('stream: OK')).toEqual({ kind: 'clean' });
    expect(parseScanReply('')).toMatchObject({ kind: 'unscannable', reason: 'unexpected-reply' });
    expect(parseScanReply('stream: OKAY')).toMatchObject({ kind: 'unscannable' });
    expect(parseScanReply('OK')).toMatchObject({ kind: 'unscannable' });
  });

  test('FOUND is infected with the signature name (spaces included)', () => {
    expect(parseScanReply('stream: Eicar-Test-Signature FOUND\0')).toEqual({ kind: 'infected', signature: 'Eicar-Test-Signature' });
    expect(parseScanReply('stream: Win.Test.EICAR_HDB-1 FOUND')).toEqual({ kind: 'infected', signature: 'Win.Test.EICAR_HDB-1' });
    expect(parseScanReply('stream: ClamAV-Test-File.UNOFFICIAL FOUND')).toEqual({ kind: 'infected', signature: 'ClamAV-Test-File.UNOFFICIAL' });
  });

  test('limits and errors are unscannable, never clean', () => {
    expect(parseScanReply('INSTREAM size limit exceeded. ERROR\0')).toMatchObject({ kind: 'unscannable', reason: 'size-limit' });
    expect(parseScanReply('stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND')).toMatchObject({ kind: 'unscannable', reason: 'limits-exceeded' });
    expect(parseScanReply('stream: Can\'t allocate memory ERROR')).toMatchObject({ kind: 'unscannable', reason: 'clamd-error' });
    expect(parseScanReply('UNKNOWN COMMAND')).toMatchObject({ kind: 'unscannable', reason: 'unexpected-reply' });
  });

  test('STATS', () => {
    const raw = 'POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live 1  idle 0 max 2 idle-timeout 30\nQUEUE: 0 items\n\tSTATS 0.000006 \n\nEND';
    expect(parseStats(raw)).toEqual({ threadsLive: 1, threadsIdle: 0, threadsMax: 2, queueItems: 0 });
    expect(parseStats('garbage')).toBeNull();
  });
});
