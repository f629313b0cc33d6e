// Build arguments that come from the machine running the build rather than from the jail's
// design: today only the extra CAs npm must trust behind a TLS-intercepting proxy. Kept out of
// the pure spec because it reads a file; the stack and the end-to-end deployer both call it.
import * as fs from 'fs';
import type { JailConfig } from './config';

export function hostBuildArgs(config: Pick<JailConfig, 'buildCaFile'>): Record<string, string> {
  if (!config.buildCaFile) return {};
  let pem: string;
  try {
    pem = fs.readFileSync(config.buildCaFile, 'utf8');
  } catch (e) {
    throw new Error(`clawjail:buildCaFile: cannot read ${config.buildCaFile}: ${(e as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error(`clawjail:buildCaFile: ${config.buildCaFile} holds no PEM certificate`);
  }
  return { NPM_EXTRA_CA_PEM: pem };
}
