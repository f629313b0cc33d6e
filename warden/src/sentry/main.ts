// `node dist/main.js --sentry [--healthcheck]`: the sentry, in the warden's image (it runs only
// our code and Node's built-ins, so it needs no image of its own).
import { createLogger } from '@clawjail/log';
import { parseSentryConfig, SentryConfigError, SENTRY_HELP } from './config';
import { checkSentryState, Sentry } from './sentry';

export async function sentryMain(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(SENTRY_HELP);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--sentry' && a !== '--healthcheck');
  if (unknown.length) {
    process.stderr.write(`sentry: unknown argument ${unknown[0]} (try --sentry --help)\n`);
    return 2;
  }
  let cfg;
  try {
    cfg = parseSentryConfig(env);
  } catch (e) {
    if (e instanceof SentryConfigError) {
      process.stderr.write(`sentry: ${e.message}\n(see --sentry --help)\n`);
      return 2;
    }
    throw e;
  }
  if (argv.includes('--healthcheck')) {
    const r = checkSentryState(cfg.stateFile);
    process.stdout.write(`${r.ok ? 'ok' : 'unhealthy'}: ${r.detail}\n`);
    return r.ok ? 0 : 1;
  }
  const log = createLogger({ component: 'sentry', sink: (line) => process.stdout.write(line) });
  return new Promise<number>((resolve) => {
    const sentry = new Sentry(cfg, log, (e) => {
      log.error('sentry exits', { error: e });
      void sentry.stop().then(() => resolve(1));
    });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      // The cell stays as it is: frozen stays frozen until a sentry sees the warden ok again.
      log.info('stopping', { signal });
      void sentry.stop().then(() => resolve(0));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    sentry.start();
  });
}
