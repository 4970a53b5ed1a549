import { describe, expect, it } from 'vitest';
import { readAhead } from '../src/sync/read-ahead.ts';

/** A source whose items are released one by one by the test; records how many were pulled. */
function controlledSource<T>(items: T[], failAfter?: Error) {
  let pulled = 0;
  let returned = false;
  const source: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        await new Promise((r) => setImmediate(r));
        if (pulled < items.length) return { done: false, value: items[pulled++]! };
        if (failAfter) throw failAfter;
        return { done: true, value: undefined };
      },
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return { source, pulled: () => pulled, returned: () => returned };
}

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('readAhead', () => {
  it('yields every item in order and ends', async () => {
    const { source } = controlledSource([1, 2, 3, 4, 5]);
    const out: number[] = [];
    for await (const x of readAhead(source, () => 1, 2)) out.push(x);
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps reading while the consumer is busy, up to the limit', async () => {
    const s = controlledSource([10, 10, 10, 10, 10, 10]);
    const it = readAhead(s.source, (x) => x, 25)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(10);
    // The consumer is "busy" (not calling next): the pump fills the queue to ≥ 25 and stops.
    await ticks(20);
    expect(s.pulled()).toBe(4); // 1 taken + 3 queued (30 ≥ 25)
    expect((await it.next()).value).toBe(10);
    await ticks(20);
    expect(s.pulled()).toBe(5);
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual([10, 10, 10, 10]);
  });

  it('throws the source error after the items read before it', async () => {
    const { source } = controlledSource(['a', 'b'], new Error('socket reset'));
    const out: string[] = [];
    await expect(
      (async () => {
        for await (const x of readAhead(source, () => 1, 10)) out.push(x);
      })(),
    ).rejects.toThrow('socket reset');
    expect(out).toEqual(['a', 'b']);
  });

  it('stops pulling and returns the source when the consumer ends early', async () => {
    const s = controlledSource([1, 2, 3, 4, 5, 6, 7, 8]);
    for await (const x of readAhead(s.source, () => 1, 2)) if (x === 2) break;
    await ticks(20);
    expect(s.returned()).toBe(true);
    expect(s.pulled()).toBeLessThanOrEqual(5);
  });
});
