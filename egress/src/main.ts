#!/usr/bin/env node
// Entry point: `node egress/dist/main.js` (or the container's ENTRYPOINT). Configured by
// environment variables only (see --help). Production always uses the built-in blocked list plus
// EGRESS_EXTRA_BLOCKED: nothing here passes the library's test-only overrides.
import * as fs from 'fs';
import * as path from 'path';
import { adminRequest } from './admin';
import { ConfigError, helpText, loadConfig, type EgressConfig } from './config';
import { createEgressGate } from './gate';
import { loadProvidersFile, type Provider } from './providers';
import { createLogger, type LogFn } from '@clawjail/log';

const NAME = 'clawjail-egress';

/** The services' one logger: JSON lines on stderr. Callers never pass headers, bodies or keys. */
export const jsonLogger: LogFn = createLogger({ component: 'egress', sink: (l) => process.stderr.write(l) }).log;

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Ask the running proxy for its status over the admin socket: 0 = answered ok. */
async function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  const socket = env.EGRESS_ADMIN_SOCKET?.trim();
  if (!socket) {
    process.stderr.write(`${NAME}: EGRESS_ADMIN_SOCKET: is required for --healthcheck\n`);
    return 2;
  }
  try {
    const r = await adminRequest(socket, { op: 'status' }, 3_000);
    if (r.ok) return 0;
    process.stderr.write(`healthcheck: ${r.error}\n`);
    return 1;
  } catch (e) {
    process.stderr.write(`healthcheck: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  for (const a of argv) {
    if (!['--help', '-h', '--version', '--healthcheck'].includes(a)) {
      process.stderr.write(`${NAME}: unknown argument "${a}" (see --help)\n`);
      return 2;
    }
  }
  if (flags.has('--help') || flags.has('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  if (flags.has('--version')) {
    process.stdout.write(version() + '\n');
    return 0;
  }
  if (flags.has('--healthcheck')) return healthcheck(process.env);

  let cfg: EgressConfig;
  let providers: Provider[] = [];
  try {
    cfg = loadConfig(process.env);
    if (cfg.providersFile) {
      try {
        providers = loadProvidersFile(cfg.providersFile);
      } catch (e) {
        throw new ConfigError('EGRESS_PROVIDERS_FILE', (e as Error).message);
      }
    }
  } catch (e) {
    process.stderr.write(`${NAME}: ${(e as Error).message}\n${e instanceof ConfigError ? 'see --help\n' : ''}`);
    return 2;
  }

  const log = jsonLogger;
  const gate = createEgressGate({
    listen: cfg.listen,
    policyFile: cfg.policyFile,
    resolver: cfg.resolver,
    logFile: cfg.logFile,
    adminSocket: cfg.adminSocket,
    providers,
    extraBlocked: cfg.extraBlocked,
    limits: cfg.limits,
    log,
  });
  let addr;
  try {
    addr = await gate.start();
  } catch (e) {
    process.stderr.write(`${NAME}: cannot start on ${cfg.listen.host}:${cfg.listen.port} (admin socket ${cfg.adminSocket}): ${(e as Error).message}\n`);
    await gate.close().catch(() => undefined);
    return 1;
  }
  log('info', 'listening', {
    listen: `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`,
    port: addr.port,
    resolver: `${cfg.resolver.host}:${cfg.resolver.port}`,
    providers: providers.map((p) => p.name),
    extraBlocked: cfg.extraBlocked,
    version: version(),
  });

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log('info', 'shutting down', { signal });
      gate.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${NAME}: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
