// The services' one logger: what a line holds, what is dropped, and what cannot be spoofed.
import { describe, expect, it } from '@jest/globals';
import { createLogger, jsonSafe, silentLogger, type LogLevel } from '@clawjail/log';

function capture(level?: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger({ component: 'gateway', level, sink: (l) => lines.push(l), now: () => new Date('2026-12-03T10:00:00.000Z') });
  return { logger, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>), lines };
}

describe('@clawjail/log', () => {
  it('writes one JSON object a line: time, level, component, msg, then the fields', () => {
    const { logger, lines } = capture();
    logger.info('listening', { port: 8443 });
    logger.log('warn', 'slow', { ms: 12 });
    expect(lines).toEqual([
      '{"time":"2026-12-03T10:00:00.000Z","level":"info","component":"gateway","msg":"listening","port":8443}\n',
      '{"time":"2026-12-03T10:00:00.000Z","level":"warn","component":"gateway","msg":"slow","ms":12}\n',
    ]);
  });

  it('drops what is below its level (info by default)', () => {
    const { logger, records } = capture();
    logger.debug('handshake failed');
    logger.log('debug', 'handshake failed');
    logger.error('down');
    expect(records().map((r) => r.msg)).toEqual(['down']);
    const debug = capture('debug');
    debug.logger.debug('handshake failed');
    expect(debug.records()).toHaveLength(1);
  });

  it('marks alerts, and a field never overwrites the line’s own keys', () => {
    const { logger, records } = capture();
    logger.alert('quarantined', { level: 'info', component: 'cell', msg: 'fine', time: 'then', path: '/w/x' });
    expect(records()).toEqual([{ time: '2026-12-03T10:00:00.000Z', level: 'error', component: 'gateway', msg: 'quarantined', alert: true, path: '/w/x' }]);
  });

  it('writes bigints and errors as JSON can hold them, without the stack', () => {
    const err = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    expect(JSON.parse(JSON.stringify({ ino: 2n ** 64n, err }, jsonSafe))).toEqual({ ino: '18446744073709551616', err: { name: 'Error', message: 'refused', code: 'ECONNREFUSED' } });
  });

  it('has a logger that writes nothing', () => {
    expect(() => silentLogger.alert('x')).not.toThrow();
  });
});
