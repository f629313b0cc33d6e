#!/usr/bin/env node
// Entry point: `node gateway/dist/main.js` (or the container's CMD). Configured by environment
// variables only (see --help), so that no secret ever appears on a command line.
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { fingerprintOfPem, fingerprintsEqual, loadCertificatePair, loadOrCreateCertificate, type StoredCertificate } from './cert';
import { ConfigError, helpText, loadConfig, type GatewayConfig } from './config';
import { readTokenFile } from './auth';
import { createGateway } from './gateway';
import { jsonLogger } from './log';
import { LOGIN_PATH } from './ownPages';

function version(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}

function loadCertificate(cfg: GatewayConfig): StoredCertificate {
  if (cfg.certFile && cfg.keyFile) {
    for (const [name, file] of [
      ['GATEWAY_CERT', cfg.certFile],
      ['GATEWAY_KEY', cfg.keyFile],
    ] as const) {
      if (!fs.existsSync(file)) throw new ConfigError(name, `file ${file} does not exist`);
    }
    return loadCertificatePair(cfg.certFile, cfg.keyFile);
  }
  return loadOrCreateCertificate(cfg.stateDir!, { altNames: cfg.certNames, validityDays: cfg.certDays });
}

function readTokens(cfg: GatewayConfig): { token: string; upstreamToken?: string } {
  const token = readTokenFile(cfg.tokenFile, 'GATEWAY_TOKEN_FILE');
  const upstreamToken = cfg.upstreamTokenFile ? readTokenFile(cfg.upstreamTokenFile, 'GATEWAY_UPSTREAM_TOKEN_FILE') : undefined;
  return { token, upstreamToken };
}

function localTarget(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** GET /healthz of the running gateway, trusting only its own certificate (for HEALTHCHECK). */
async function healthcheck(cfg: GatewayConfig): Promise<number> {
  const certPem = cfg.certFile ? fs.readFileSync(cfg.certFile, 'utf8') : fs.readFileSync(path.join(cfg.stateDir!, 'cert.pem'), 'utf8');
  const pin = fingerprintOfPem(certPem);
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: localTarget(cfg.listen.host),
        port: cfg.listen.port,
        path: '/healthz',
        ca: certPem,
        checkServerIdentity: (_host, cert) =>
          fingerprintsEqual(cert.fingerprint256, pin) ? undefined : new Error(`certificate mismatch: ${cert.fingerprint256}`),
        timeout: 3000,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? 0 : 1);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => {
      process.stderr.write(`healthcheck: ${e.message}\n`);
      resolve(1);
    });
  });
}

export async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv);
  for (const a of argv) {
    if (!['--help', '-h', '--version', '--print-fingerprint', '--healthcheck'].includes(a)) {
      process.stderr.write(`clawjail-gateway: unknown argument "${a}" (see --help)\n`);
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

  let cfg: GatewayConfig;
  let cert: StoredCertificate;
  let tokens: { token: string; upstreamToken?: string };
  try {
    cfg = loadConfig(process.env);
    if (flags.has('--healthcheck')) return await healthcheck(cfg);
    cert = loadCertificate(cfg);
    if (flags.has('--print-fingerprint')) {
      process.stdout.write(cert.fingerprint + '\n');
      return 0;
    }
    tokens = readTokens(cfg);
  } catch (e) {
    process.stderr.write(`clawjail-gateway: ${(e as Error).message}\n${e instanceof ConfigError ? 'see --help\n' : ''}`);
    return 2;
  }

  const log = jsonLogger;
  for (const w of cert.warnings) log('warn', w);
  if (cert.created) log('info', 'generated a new certificate', { certPath: cert.certPath, fingerprint: cert.fingerprint });
  if (cfg.listenIsPublic) {
    log('warn', 'listening on a non-loopback address: the vault is reachable from the network', { listen: cfg.listen.host });
  }
  const gateway = createGateway({
    listen: cfg.listen,
    loginListen: cfg.loginListen,
    publicPorts: cfg.publicPorts,
    upstream: cfg.upstream,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    token: tokens.token,
    upstreamToken: tokens.upstreamToken,
    sessionTtlSeconds: cfg.sessionTtlSeconds,
    limits: cfg.limits,
    log,
  });
  let addr;
  try {
    addr = await gateway.start();
  } catch (e) {
    process.stderr.write(`clawjail-gateway: cannot listen on ${cfg.listen.host}:${cfg.listen.port} and ${cfg.loginListen.host}:${cfg.loginListen.port}: ${(e as Error).message}\n`);
    return 1;
  }
  const login = gateway.loginAddress;
  const hostOf = (h: string) => (h.includes(':') ? `[${h}]` : h);
  log('info', 'listening', {
    url: `https://${hostOf(addr.host)}:${addr.port}/`,
    loginUrl: `https://${hostOf(login.host)}:${login.port}${LOGIN_PATH}`,
    upstream: cfg.upstream.href,
    fingerprint: cert.fingerprint,
    upstreamTokenInjection: Boolean(tokens.upstreamToken),
    version: version(),
  });

  process.on('SIGHUP', () => {
    try {
      const c = loadCertificate(cfg);
      const t = readTokens(cfg);
      gateway.reload({ certPem: c.certPem, keyPem: c.keyPem, token: t.token, upstreamToken: t.upstreamToken ?? null });
      log('info', 'reloaded', { fingerprint: c.fingerprint });
    } catch (e) {
      log('error', 'reload failed; keeping the previous certificate and token', { error: (e as Error).message });
    }
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log('info', 'shutting down', { signal });
      gateway.close().then(
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
      process.stderr.write(`clawjail-gateway: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
