// Entry point: `node dist/main.js` (configured by WARDEN_* environment variables; --help lists them),
// or the sentry with `--sentry` (SENTRY_* variables; `--sentry --help`).

import { ConfigError, helpText, parseConfig } from './config';
import { checkHealth } from './health';
import { sentryMain } from './sentry/main';
import { Warden, wardenLogger } from './warden';

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--sentry')) return sentryMain(argv, env);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--healthcheck');
  if (unknown.length) {
    process.stderr.write(`warden: unknown argument ${unknown[0]} (try --help)\n`);
    return 2;
  }
  if (argv.includes('--healthcheck')) {
    const port = env.WARDEN_HEALTH_PORT && env.WARDEN_HEALTH_PORT !== '0' ? Number(env.WARDEN_HEALTH_PORT) : null;
    const r = await checkHealth({ port, host: env.WARDEN_HEALTH_HOST || '127.0.0.1', file: env.WARDEN_HEALTH_FILE || null });
    process.stdout.write(`${r.ok ? 'ok' : 'unhealthy'}: ${r.detail}\n`);
    return r.ok ? 0 : 1;
  }
  let cfg;
  try {
    cfg = parseConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`warden: ${e.message}\n(see --help)\n`);
      return 2;
    }
    throw e;
  }
  const logger = wardenLogger(cfg.logLevel);
  const warden = new Warden(cfg, { logger });
  try {
    await warden.start();
  } catch (e) {
    logger.error('warden failed to start', { error: e });
    process.stderr.write(`warden: ${(e as Error).message}\n`);
    await warden.stop().catch(() => {});
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('stopping', { signal: sig });
      warden.stop().then(() => resolve(0), (e) => {
        logger.error('stop failed', { error: e });
        resolve(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`warden: fatal: ${(e as Error)?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
