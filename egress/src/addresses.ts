// Which IPv4 addresses the gate never connects to, and what counts as an IP literal. Pure.
//
// The list is a copy of the moat's (infra/model/firewall.ts BLOCKED_V4, same order; the gate's
// image is built from egress/ alone, so it cannot import it): the fallback when the gate runs on
// its own. The stack passes the moat's list itself in EGRESS_EXTRA_BLOCKED (infra/model/egress.ts),
// and test/addresses.test.ts keeps the copy equal to the moat's.
import * as net from 'net';

export interface BlockedRange {
  cidr: string;
  what: string;
}

export const BLOCKED_V4: readonly BlockedRange[] = [
  { cidr: '10.0.0.0/8', what: 'private network 10/8 (RFC 1918)' },
  { cidr: '172.16.0.0/12', what: 'private network 172.16/12 (RFC 1918)' },
  { cidr: '192.168.0.0/16', what: 'private network 192.168/16 (RFC 1918)' },
  { cidr: '169.254.0.0/16', what: 'link-local and cloud metadata 169.254/16' },
  { cidr: '100.64.0.0/10', what: 'carrier-grade NAT 100.64/10 (RFC 6598)' },
  { cidr: '0.0.0.0/8', what: '"this network" 0/8' },
  { cidr: '127.0.0.0/8', what: 'loopback 127/8' },
  { cidr: '224.0.0.0/4', what: 'multicast 224/4' },
  { cidr: '240.0.0.0/4', what: 'reserved 240/4' },
  { cidr: '255.255.255.255/32', what: 'broadcast' },
  { cidr: '192.0.0.0/24', what: 'IETF protocol assignments 192.0.0/24 (RFC 6890)' },
  { cidr: '198.18.0.0/15', what: 'benchmarking 198.18/15 (RFC 2544)' },
  { cidr: '168.63.129.16/32', what: 'Azure host services 168.63.129.16' },
];

export interface ParsedCidr {
  cidr: string;
  /** Network address as an unsigned 32-bit number. */
  base: number;
  /** Prefix length 0-32. */
  bits: number;
}

/** Dotted-quad IPv4 → unsigned 32-bit number; undefined for anything else. */
export function ipv4ToInt(ip: string): number | undefined {
  if (!net.isIPv4(ip)) return undefined;
  const parts = ip.split('.').map(Number);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Strict `a.b.c.d/n` with the host bits zero. Throws an Error that says what is wrong. */
export function parseCidr(text: string): ParsedCidr {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an IPv4 CIDR such as 203.0.113.0/24`);
  const base = ipv4ToInt(m[1]);
  const bits = Number(m[2]);
  if (base === undefined) throw new Error(`"${text}": ${m[1]} is not an IPv4 address`);
  if (bits > 32) throw new Error(`"${text}": prefix length must be 0-32`);
  if (((base & maskOf(bits)) >>> 0) !== base) throw new Error(`"${text}": host bits are set (the network is ${intToIpv4((base & maskOf(bits)) >>> 0)}/${bits})`);
  return { cidr: `${m[1]}/${bits}`, base, bits };
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function cidrContains(cidr: ParsedCidr, ip: string): boolean {
  const n = ipv4ToInt(ip);
  if (n === undefined) return false;
  return ((n & maskOf(cidr.bits)) >>> 0) === cidr.base;
}

/** A compiled list: `find(ip)` returns the first range that holds ip (non-IPv4 counts as blocked). */
export class BlockList {
  private readonly ranges: Array<ParsedCidr & { what: string }>;

  constructor(ranges: readonly BlockedRange[]) {
    this.ranges = ranges.map((r) => ({ ...parseCidr(r.cidr), what: r.what }));
  }

  find(ip: string): BlockedRange | undefined {
    if (!net.isIPv4(ip)) return { cidr: ip, what: 'not an IPv4 address' };
    const hit = this.ranges.find((r) => cidrContains(r, ip));
    return hit ? { cidr: hit.cidr, what: hit.what } : undefined;
  }

  list(): BlockedRange[] {
    return this.ranges.map((r) => ({ cidr: r.cidr, what: r.what }));
  }
}

/** The production list: the built-in ranges plus EGRESS_EXTRA_BLOCKED. */
export function productionBlockList(extra: readonly string[]): BlockList {
  return new BlockList([...BLOCKED_V4, ...extra.map((cidr) => ({ cidr, what: 'EGRESS_EXTRA_BLOCKED' }))]);
}

/**
 * True for anything a resolver or a client library might take as an address rather than a name:
 * IPv4/IPv6 literals (bracketed or not) and the inet_aton forms (`127.1`, `0x7f.1`, `2130706433`).
 */
export function isIpLiteral(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('[') && h.endsWith(']')) return true;
  if (net.isIP(h) !== 0) return true;
  if (h.includes(':')) return true;
  const labels = h.split('.');
  return labels.length > 0 && labels.length <= 4 && labels.every((l) => /^(0x[0-9a-f]*|[0-9]+)$/.test(l));
}
