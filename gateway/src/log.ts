// The gateway's log: the services' one logger (@clawjail/log), JSON lines on stderr; debug lines
// (failed TLS handshakes and the like) only with GATEWAY_DEBUG set.
import { createLogger, type LogFn } from '@clawjail/log';

export type { LogLevel, LogFn as Logger } from '@clawjail/log';

export const jsonLogger: LogFn = createLogger({
  component: 'gateway',
  level: process.env.GATEWAY_DEBUG ? 'debug' : 'info',
  sink: (l) => process.stderr.write(l),
}).log;
