import { LoginRateLimiter, loginKeys } from '../../../src/oauth/interaction/rate-limit';
import { MemoryWindowCounters } from '../../../src/storage/memory-counters';

describe('LoginRateLimiter', () => {
  it('blocks a key after maxFailures failures until the window ends', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const limiter = new LoginRateLimiter({ maxFailures: 3, windowSeconds: 60 }, new MemoryWindowCounters(clock), clock);
    const keys = ['ip:1.2.3.4', 'account:t/p|a@b.c'];
    for (let i = 0; i < 3; i++) {
      expect(await limiter.retryAfter(keys)).toBe(0);
      await limiter.recordFailure(keys);
    }
    expect(await limiter.retryAfter(keys)).toBe(60);
    now += 59_500;
    expect(await limiter.retryAfter(keys)).toBe(1);
    now += 500;
    expect(await limiter.retryAfter(keys)).toBe(0);
  });

  it('counts IP and account separately, and reset clears one key', async () => {
    const limiter = new LoginRateLimiter({ maxFailures: 2, windowSeconds: 60 }, new MemoryWindowCounters());
    await limiter.recordFailure(['ip:a', 'account:x']);
    await limiter.recordFailure(['ip:b', 'account:x']);
    expect(await limiter.retryAfter(['ip:c', 'account:x'])).toBeGreaterThan(0);
    expect(await limiter.retryAfter(['ip:a', 'account:y'])).toBe(0);
    await limiter.reset('account:x');
    expect(await limiter.retryAfter(['ip:c', 'account:x'])).toBe(0);
  });

  it('normalizes the account key', () => {
    expect(loginKeys('::1', 't/p', '  Ada@Example.ORG ')).toEqual({ ip: 'ip:::1', account: 'account:t/p|ada@example.org' });
  });
});
