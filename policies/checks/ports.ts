// Published ports: loopback, or an address the config names.
import { asArray, asRecord, asString, isSet, listOrNone, type Props, q } from './resources';

export interface PublishedPortsConfig {
  /** Host addresses, beyond loopback, that ports may be published on (e.g. a LAN address). */
  allowedPublishAddresses: string[];
}

/** Canonical text of an IP address (IPv6 compressed, lower case, no brackets); else trimmed input. */
export function normalizeIp(ip: string): string {
  const s = ip.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (s.includes(':')) {
    try {
      return new URL(`http://[${s}]/`).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      return s;
    }
  }
  return s;
}

export function isLoopbackIp(ip: string): boolean {
  const n = normalizeIp(ip);
  if (n === '::1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(n);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255) && m[1] === '127';
}

export function checkPublishedPorts(props: Props, config: PublishedPortsConfig): string[] {
  const out: string[] = [];
  const allowed = new Set(config.allowedPublishAddresses.map(normalizeIp));
  const allowedText = `allowed: 127.0.0.1 or ::1, or an address in policy config allowedPublishAddresses (${listOrNone([
    ...allowed,
  ])})`;
  if (props.publishAllPorts === true) {
    out.push(`publishAllPorts is true, which publishes every exposed port on all host addresses; ${allowedText}`);
  }
  asArray(props.ports).forEach((raw, i) => {
    const p = asRecord(raw);
    const ip = asString(p.ip);
    const port = `(internal ${q(p.internal)}, external ${isSet(p.external) ? q(p.external) : 'random'})`;
    if (ip === undefined || ip.trim() === '') {
      if (!allowed.has('0.0.0.0')) {
        out.push(`ports[${i}].ip is unset, which means 0.0.0.0 (every host address) ${port}; ${allowedText}`);
      }
      return;
    }
    const n = normalizeIp(ip);
    if (isLoopbackIp(n) || allowed.has(n)) return;
    const wildcard = n === '0.0.0.0' || n === '::' ? ', every host address' : '';
    out.push(`ports[${i}].ip is ${q(ip)} ${port.slice(0, -1)}${wildcard}); ${allowedText}`);
  });
  return out;
}
