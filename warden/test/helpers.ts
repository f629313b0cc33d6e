// Shared helpers for the warden's integration tests.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseConfig, WardenConfig } from '../src/config';
import { Warden, WardenDeps } from '../src/warden';
import { createLogger } from '@clawjail/log';
import * as shared from '../../test/helpers/wait';
import { QuarantineRecord } from '../src/quarantineStore';
import { HARNESS_READ_TIMEOUT_S, HARNESS_SCAN_TIMEOUT_MS } from './clamdHarness';

export { sleep } from '../../test/helpers/wait';

/** A temp dir named cjw-*; remember to rm it (Sandbox does). */
export function tempDir(prefix = 'cjw-', parent = os.tmpdir()): string {
  return shared.tempDir(prefix, parent);
}

/** waitFor with the warden's longer default: a scan behind a queue takes a while. */
export function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs = 20000, what = 'condition'): Promise<void> {
  return shared.waitFor(pred, timeoutMs, what, 25);
}

export interface AuditLine {
  time: string;
  actor: string;
  event: string;
  path?: { text: string; b64: string };
  [k: string]: unknown;
}

export function readAudit(store: string): AuditLine[] {
  let raw: string;
  try {
    raw = fs.readFileSync(path.join(store, 'audit.log'), 'utf8');
  } catch {
    return [];
  }
  return raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditLine);
}

/** Audit lines about this exact path (compared by bytes). */
export function auditFor(store: string, p: Buffer | string, event?: string): AuditLine[] {
  const b64 = (Buffer.isBuffer(p) ? p : Buffer.from(p)).toString('base64');
  return readAudit(store).filter((l) => l.path?.b64 === b64 && (!event || l.event === event));
}

export function records(store: string): QuarantineRecord[] {
  const q = path.join(store, 'quarantine');
  if (!fs.existsSync(q)) return [];
  return fs
    .readdirSync(q)
    .filter((n) => !n.startsWith('.'))
    .map((n) => JSON.parse(fs.readFileSync(path.join(q, n, 'record.json'), 'utf8')) as QuarantineRecord);
}

export function recordFor(store: string, p: Buffer | string): QuarantineRecord | undefined {
  const b64 = (Buffer.isBuffer(p) ? p : Buffer.from(p)).toString('base64');
  return records(store).find((r) => r.original.path.b64 === b64);
}

export function tombstoneOf(p: Buffer | string): Buffer {
  return Buffer.concat([Buffer.isBuffer(p) ? p : Buffer.from(p), Buffer.from('.quarantined.txt')]);
}

export function exists(p: Buffer | string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** A workspace + store pair under one temp dir (storeParent lets the store live on another fs). */
export class Sandbox {
  readonly base: string;
  readonly ws: string;
  readonly store: string;
  private readonly extra: string[] = [];

  constructor(opts: { storeParent?: string } = {}) {
    this.base = tempDir('cjw-sbx-');
    this.ws = path.join(this.base, 'ws');
    fs.mkdirSync(this.ws);
    if (opts.storeParent) {
      this.store = tempDir('cjw-store-', opts.storeParent);
      this.extra.push(this.store);
    } else {
      this.store = path.join(this.base, 'store');
      fs.mkdirSync(this.store);
    }
  }

  p(...parts: string[]): string {
    return path.join(this.ws, ...parts);
  }

  /** a path in the workspace with raw bytes in its last component */
  pb(dirParts: string[], name: Buffer): Buffer {
    return Buffer.concat([Buffer.from(path.join(this.ws, ...dirParts) + '/'), name]);
  }

  cleanup(): void {
    fs.rmSync(this.base, { recursive: true, force: true });
    for (const d of this.extra) fs.rmSync(d, { recursive: true, force: true });
  }
}

export function wardenConfig(sbx: Sandbox, clamd: string, env: Record<string, string> = {}): WardenConfig {
  return parseConfig({
    WARDEN_WATCH: sbx.ws,
    WARDEN_QUARANTINE: sbx.store,
    WARDEN_CLAMD: clamd,
    WARDEN_BACKOFF_MIN_MS: '100',
    WARDEN_BACKOFF_MAX_MS: '500',
    WARDEN_RESCAN_INTERVAL_S: '0',
    // sessions, as in the stack: the scan timeout ends well before the test clamd's ReadTimeout
    WARDEN_SCAN_TIMEOUT_MS: String(HARNESS_SCAN_TIMEOUT_MS),
    WARDEN_CLAMD_READ_TIMEOUT_S: String(HARNESS_READ_TIMEOUT_S),
    ...env,
  });
}

/** An in-process warden whose logs are collected (not printed). */
export async function startWarden(sbx: Sandbox, clamd: string, env: Record<string, string> = {}, deps: WardenDeps = {}): Promise<{ warden: Warden; logs: string[] }> {
  const logs: string[] = [];
  const cfg = wardenConfig(sbx, clamd, env);
  const warden = new Warden(cfg, { logger: createLogger({ component: 'warden', level: 'debug', sink: (l) => logs.push(l) }), ...deps });
  await warden.start();
  await warden.whenStartupScanDone();
  return { warden, logs };
}

/** Quarantine finished for this path: tombstone written and record committed. */
export function isQuarantined(store: string, p: Buffer | string): boolean {
  return exists(tombstoneOf(p)) && !!recordFor(store, p);
}
