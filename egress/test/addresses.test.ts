// The blocked IPv4 ranges (a copy of the moat's, in its order) and IP-literal detection.
import { BLOCKED_V4 as MOAT_BLOCKED_V4 } from '../../infra/model/firewall';
import { BLOCKED_V4, BlockList, cidrContains, intToIpv4, ipv4ToInt, isIpLiteral, parseCidr, productionBlockList } from '../src/addresses';

describe('BLOCKED_V4', () => {
  it("is the moat's list, in the same order (192.0.0.0/24, 198.18.0.0/15, 168.63.129.16/32 included)", () => {
    expect(BLOCKED_V4).toEqual(MOAT_BLOCKED_V4);
    expect(BLOCKED_V4.map((b) => b.cidr)).toEqual(expect.arrayContaining(['192.0.0.0/24', '198.18.0.0/15', '168.63.129.16/32']));
  });

  const list = productionBlockList([]);
  // Each range: its first and last address are blocked; the addresses just outside are not
  // (unless they fall in another blocked range, which the expectation accounts for).
  it.each(BLOCKED_V4.map((b) => [b.cidr]))('blocks both edges of %s and nothing just outside it', (cidr) => {
    const c = parseCidr(cidr);
    const first = c.base;
    const last = (c.base + 2 ** (32 - c.bits) - 1) >>> 0;
    expect(list.find(intToIpv4(first))).toBeDefined();
    expect(list.find(intToIpv4(last))).toBeDefined();
    for (const outside of [first - 1, last + 1]) {
      if (outside < 0 || outside > 0xffffffff) continue;
      const ip = intToIpv4(outside);
      const inOther = BLOCKED_V4.some((b) => b.cidr !== cidr && cidrContains(parseCidr(b.cidr), ip));
      expect(list.find(ip) !== undefined).toBe(inOther);
    }
  });

  it('lets public addresses through', () => {
    for (const ip of ['1.1.1.1', '8.8.8.8', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.0', '198.17.255.255', '198.20.0.0', '192.0.1.0', '168.63.129.15', '168.63.129.17', '223.255.255.255']) {
      expect(list.find(ip)).toBeUndefined();
    }
  });

  it('adds EGRESS_EXTRA_BLOCKED ranges; non-IPv4 is always blocked', () => {
    const l = productionBlockList(['203.0.113.0/24']);
    expect(l.find('203.0.113.7')).toEqual({ cidr: '203.0.113.0/24', what: 'EGRESS_EXTRA_BLOCKED' });
    expect(l.find('203.0.114.0')).toBeUndefined();
    expect(l.find('::1')).toBeDefined();
    expect(new BlockList([]).find('nonsense')).toBeDefined();
  });
});

describe('CIDRs', () => {
  it('parses strictly', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ cidr: '10.0.0.0/8', base: 0x0a000000, bits: 8 });
    expect(parseCidr('0.0.0.0/0').bits).toBe(0);
    expect(() => parseCidr('10.0.0.1/8')).toThrow(/host bits/);
    expect(() => parseCidr('10.0.0.0/33')).toThrow();
    expect(() => parseCidr('10.0.0.0')).toThrow();
    expect(() => parseCidr('300.0.0.0/8')).toThrow();
    expect(() => parseCidr('fc00::/7')).toThrow();
  });

  it('converts and matches', () => {
    expect(ipv4ToInt('255.255.255.255')).toBe(0xffffffff);
    expect(intToIpv4(0xc0a80001)).toBe('192.168.0.1');
    expect(cidrContains(parseCidr('0.0.0.0/0'), '8.8.8.8')).toBe(true);
    expect(cidrContains(parseCidr('8.8.8.8/32'), '8.8.8.9')).toBe(false);
    expect(ipv4ToInt('example.org')).toBeUndefined();
  });
});

describe('isIpLiteral', () => {
  it.each(['1.2.3.4', '127.0.0.1', '[::1]', '::1', 'fe80::1', '2001:db8::1', '127.1', '0x7f.1', '2130706433', '017700000001', '1.2.3.4.'])('%s is an IP literal', (h) => {
    expect(isIpLiteral(h)).toBe(true);
  });
  it.each(['example.org', '1.2.3.4.example.org', 'a1.b2', '0x.example', 'localhost', '123abc.org'])('%s is a name', (h) => {
    expect(isIpLiteral(h)).toBe(false);
  });
});
