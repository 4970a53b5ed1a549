import { describe, expect, it } from 'vitest';
import { RequestCredits } from '../../src/websocket/request-credits.ts';
import { MAX_REQUEST_N } from '../../src/websocket/rsocket-frames.ts';

const pending = async (p: Promise<unknown>) => {
  const marker = Symbol('pending');
  return (await Promise.race([p, new Promise((r) => setTimeout(() => r(marker), 10))])) === marker;
};

describe('REQUEST_N credits', () => {
  it('counts the initial N down and then blocks until REQUEST_N grants more', async () => {
    const c = new RequestCredits(2);
    expect(await c.take()).toBe(true);
    expect(await c.take()).toBe(true);
    const third = c.take();
    expect(await pending(third)).toBe(true);
    c.grant(1);
    expect(await third).toBe(true);
    expect(c.count).toBe(0);
  });

  it('treats 2^31-1 as unbounded and saturates grants there', async () => {
    const c = new RequestCredits(MAX_REQUEST_N);
    for (let i = 0; i < 5; i++) expect(await c.take()).toBe(true);
    expect(c.count).toBe(MAX_REQUEST_N);
    const d = new RequestCredits(MAX_REQUEST_N - 1);
    d.grant(10);
    expect(d.count).toBe(MAX_REQUEST_N);
  });

  it('ignores non-positive grants', async () => {
    const c = new RequestCredits(0);
    c.grant(0);
    c.grant(-5);
    expect(await pending(c.take())).toBe(true);
  });

  it('releases a blocked taker with false when closed, and refuses afterwards', async () => {
    const c = new RequestCredits(0);
    const waiting = c.take();
    c.close();
    expect(await waiting).toBe(false);
    c.grant(3);
    expect(await c.take()).toBe(false);
  });
});
