// Reads a stack's settings from its Pulumi.<stack>.yaml without the Pulumi CLI, for the
// clawjail CLI and the tests. Secrets stay encrypted there and are not read.
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { CONFIG_NAMESPACE, parseConfig, type JailConfig, type RawConfig } from './config';
import { REPO_ROOT } from './paths';

export class StackFileError extends Error {}

export function stackFilePath(stack: string, dir = REPO_ROOT): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new StackFileError(`bad stack name ${JSON.stringify(stack)}`);
  return path.join(dir, `Pulumi.${stack}.yaml`);
}

/** The plain `clawjail:*` values of a stack file; secure (encrypted) values are left out. */
export function readStackRaw(file: string): RawConfig {
  let doc: unknown;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StackFileError(`cannot read stack file ${file}: ${(e as Error).message}`);
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const raw: Record<string, string> = {};
  const prefix = `${CONFIG_NAMESPACE}:`;
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith(prefix)) continue;
    // An encrypted value ({ secure: ... }), or an object holding one, is a secret: left out.
    if (holdsSecret(value)) continue;
    // A YAML list or object reaches the program as JSON text (Pulumi's spelling); so here.
    raw[key.slice(prefix.length)] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return raw;
}

function holdsSecret(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (!Array.isArray(value) && 'secure' in value) return true;
  return Object.values(value).some(holdsSecret);
}

export function loadStackConfig(stack: string, dir = REPO_ROOT): JailConfig {
  return parseConfig(readStackRaw(stackFilePath(stack, dir)), { requireSecrets: false }).config;
}
