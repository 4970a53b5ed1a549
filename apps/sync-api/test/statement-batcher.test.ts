import { describe, expect, it } from 'vitest';
import { StatementBatcher } from '../src/statement-batcher.ts';

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('StatementBatcher', () => {
  it('runs items added in the same turn as one statement, chunked at maxItems', async () => {
    const runs: number[][] = [];
    const b = new StatementBatcher<number>(async (items) => void runs.push(items), 3);
    await Promise.all([1, 2, 3, 4, 5].map((n) => b.add(n)));
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('gathers items added while a statement runs into the next one', async () => {
    const runs: string[][] = [];
    const first = gate();
    const b = new StatementBatcher<string>(async (items) => {
      runs.push(items);
      if (runs.length === 1) await first.opened;
    }, 100);
    const a = b.add('a');
    await new Promise((r) => setImmediate(r));
    expect(runs).toEqual([['a']]);
    const later = [b.add('b'), b.add('c')];
    first.open();
    await Promise.all([a, ...later]);
    expect(runs).toEqual([['a'], ['b', 'c']]);
  });

  it('rejects the items of a failed statement only, and keeps going', async () => {
    const b = new StatementBatcher<number>(async (items) => {
      if (items.includes(1)) throw new Error('boom');
    }, 1);
    const results = await Promise.allSettled([b.add(1), b.add(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
  });

  it('idle() waits for queued and running statements, including items added meanwhile', async () => {
    const done: number[] = [];
    const first = gate();
    const b = new StatementBatcher<number>(async (items) => {
      if (items.includes(1)) await first.opened;
      done.push(...items);
    }, 1);
    await b.idle(); // nothing queued: resolves at once
    void b.add(1);
    let idle = false;
    const waiting = b.idle().then(() => (idle = true));
    await new Promise((r) => setImmediate(r));
    void b.add(2);
    first.open();
    await waiting;
    expect(idle).toBe(true);
    expect(done).toEqual([1, 2]);
  });
});
