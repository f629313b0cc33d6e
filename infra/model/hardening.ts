// What every container of the jail shares, whoever runs in it: no capabilities, no new
// privileges, our default-deny seccomp profile, a read-only root and bounded logs.
import type { JailConfig } from '../config';
import { cellSeccompProfileJson } from './seccomp';
import type { ContainerSpec } from './types';

export type Hardening = Pick<
  ContainerSpec,
  'capDrop' | 'capAdd' | 'securityOpts' | 'seccompProfile' | 'readOnlyRootfs' | 'logDriver' | 'logOpts'
>;

export function hardening(config: JailConfig): Hardening {
  return {
    capDrop: ['ALL'],
    capAdd: [],
    securityOpts: ['no-new-privileges:true'],
    seccompProfile: cellSeccompProfileJson(),
    readOnlyRootfs: true,
    logDriver: 'json-file',
    logOpts: { 'max-size': `${config.cell.logMaxSizeMb}m`, 'max-file': String(config.cell.logMaxFiles) },
  };
}
