// Memory and CPU limits.
import { asString, isSet, type Props, q } from './resources';

export const positiveNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * `memory` (MB) must be set and positive, and `memorySwap` must equal it: Docker's default when
 * memorySwap is unset is twice the memory limit (swap on top of it), and -1 is unlimited swap.
 */
export function checkMemoryLimit(props: Props): string[] {
  const memory = props.memory;
  if (!positiveNumber(memory)) {
    return [`memory must be set to a limit > 0 MB (got ${isSet(memory) ? q(memory) : 'unset'})`];
  }
  const swap = props.memorySwap;
  if (swap !== memory) {
    return [
      `memorySwap must equal memory (${memory}) so that no swap is used beyond the limit ` +
        `(got ${isSet(swap) ? q(swap) : 'unset, which lets Docker add swap'})`,
    ];
  }
  return [];
}

/** A hard CPU limit: `cpus` > 0, or `cpuQuota` with `cpuPeriod`. `cpuShares` is only a weight. */
export function checkCpuLimit(props: Props): string[] {
  const cpus = asString(props.cpus) ?? (typeof props.cpus === 'number' ? String(props.cpus) : undefined);
  if (cpus !== undefined && cpus.trim() !== '') {
    const n = Number(cpus);
    return Number.isFinite(n) && n > 0 ? [] : [`cpus ${q(props.cpus)} is not a positive number of CPUs`];
  }
  if (positiveNumber(props.cpuQuota) && positiveNumber(props.cpuPeriod)) return [];
  if (positiveNumber(props.cpuQuota)) return ['cpuQuota is set without cpuPeriod; set cpuPeriod too, or set cpus'];
  return [
    'no CPU limit: set cpus (e.g. "1.5") or cpuQuota together with cpuPeriod' +
      (isSet(props.cpuShares) ? ' (cpuShares is only a relative weight, not a limit)' : ''),
  ];
}
