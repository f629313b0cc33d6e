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

/** Inodes a scratch tmpfs may hold: one per 4 KiB of its size. */
export const TMPFS_INODES_PER_MB = 256;

/**
 * The options of a scratch tmpfs: no exec, no setuid, no devices, a size, and an inode cap. A
 * tmpfs's own default is half the host's RAM pages in inodes, and inodes are kernel memory that
 * the container's memory limit does not hold back everywhere (cgroup v1 without kmem
 * accounting): an inode flood in /tmp could take the host's memory. With one inode per 4 KiB of
 * size, a full inode table costs about what the size already allows.
 */
export function scratchTmpfs(sizeMb: number, extra = ''): string {
  return `rw,noexec,nosuid,nodev,size=${sizeMb}m,nr_inodes=${sizeMb * TMPFS_INODES_PER_MB}${extra ? `,${extra}` : ''}`;
}
