import { clientKey, RateLimiter } from '../src/ratelimit';

describe('RateLimiter', () => {
  it('allows a burst, then refuses with a retry-after, then refills at the sustained rate', () => {
    const rl = new RateLimiter({ perMinute: 60, burst: 3 }); // one token per second
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => rl.take('a', t0).ok)).toEqual([true, true, true]);
    const refused = rl.take('a', t0);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBe(1000);
    expect(rl.take('a', t0 + 500).ok).toBe(false);
    expect(rl.take('a', t0 + 1_000).ok).toBe(true);
    expect(rl.take('a', t0 + 1_100).ok).toBe(false);
    // other clients are unaffected
    expect(rl.take('b', t0).ok).toBe(true);
    // never more than the burst after a long pause
    const later = t0 + 3_600_000;
    expect([1, 2, 3, 4].map(() => rl.take('a', later).ok)).toEqual([true, true, true, false]);
  });

  it('peek does not consume', () => {
    const rl = new RateLimiter({ perMinute: 60, burst: 1 });
    expect(rl.peek('x', 0)).toBe(true);
    expect(rl.peek('x', 0)).toBe(true);
    expect(rl.take('x', 0).ok).toBe(true);
    expect(rl.peek('x', 0)).toBe(false);
    expect(rl.peek('x', 1000)).toBe(true);
  });

  it('keeps memory bounded under many client addresses', () => {
    const rl = new RateLimiter({ perMinute: 60, burst: 2, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) rl.take(`10.0.${i >> 8}.${i & 255}`, i);
    expect(rl.size).toBeLessThanOrEqual(100);
  });

  it('rejects nonsense settings', () => {
    expect(() => new RateLimiter({ perMinute: 0, burst: 1 })).toThrow();
    expect(() => new RateLimiter({ perMinute: 1, burst: 0 })).toThrow();
  });
});

describe('clientKey', () => {
  it('folds IPv4-mapped addresses and keys IPv6 by /64', () => {
    expect(clientKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientKey('127.0.0.1')).toBe('127.0.0.1');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
