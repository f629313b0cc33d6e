// The gateway's log: JSON lines on stderr. Callers never pass tokens, keys or message bodies.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const jsonLogger: Logger = (level, msg, fields) => {
  if (level === 'debug' && !process.env.GATEWAY_DEBUG) return;
  process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');
};
