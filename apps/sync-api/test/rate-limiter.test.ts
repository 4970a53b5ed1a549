import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/rate-limiter.ts';

describe('RateLimiter', () => {
  it('allows a burst, then one request per refill interval, per key', () => {
    let now = 0;
    const r = new RateLimiter(60, 3, () => now);
    expect([1, 2, 3].map(() => r.take('a').allowed)).toEqual([true, true, true]);
    expect(r.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(r.take('b').allowed).toBe(true);
    now += 1_000;
    expect(r.take('a').allowed).toBe(true);
    expect(r.take('a').allowed).toBe(false);
  });

  it('says how long to wait', () => {
    let now = 0;
    const r = new RateLimiter(6, 1, () => now);
    r.take('a');
    expect(r.take('a').retryAfterSeconds).toBe(10);
    now += 4_000;
    expect(r.take('a').retryAfterSeconds).toBe(6);
  });

  it('forgets idle keys when it holds too many', () => {
    let now = 0;
    const r = new RateLimiter(60, 1, () => now, 2);
    r.take('a');
    r.take('b');
    now += 5_000;
    r.take('c');
    expect(r.size).toBe(1);
  });
});
