/**
 * The write-ahead budget: each stream may hold up to its share ahead of a client that is not
 * reading, all streams together at most the total; a stream over either bound waits for drain.
 */
import { describe, expect, it } from 'vitest';
import { WriteAheadBudget } from '../src/write-ahead.ts';

describe('WriteAheadBudget', () => {
  it('lets a stream run ahead up to its share, then makes it wait until drained', () => {
    const budget = new WriteAheadBudget(1_000, 10_000);
    const a = budget.stream();
    expect(a.mayContinue(0)).toBe(true);
    expect(a.mayContinue(600)).toBe(true);
    expect(a.mayContinue(1_000)).toBe(true);
    expect(budget.inUse).toBe(1_000);
    expect(a.mayContinue(1_001)).toBe(false);
    expect(budget.inUse).toBe(1_000);
    a.release();
    expect(budget.inUse).toBe(0);
    // The socket took some of it meanwhile: the smaller figure is what counts.
    expect(a.mayContinue(800)).toBe(true);
    expect(a.mayContinue(300)).toBe(true);
    expect(budget.inUse).toBe(300);
    a.release();
    expect(budget.inUse).toBe(0);
  });

  it('bounds all streams together: once the total is held, a stream that wants more waits', () => {
    const budget = new WriteAheadBudget(1_000, 2_500);
    const [a, b, c] = [budget.stream(), budget.stream(), budget.stream()];
    expect(a.mayContinue(1_000)).toBe(true);
    expect(b.mayContinue(1_000)).toBe(true);
    expect(c.mayContinue(600)).toBe(false);
    expect(c.mayContinue(500)).toBe(true);
    expect(budget.inUse).toBe(2_500);
    // Shrinking is always allowed, and frees budget for the others.
    expect(a.mayContinue(100)).toBe(true);
    expect(c.mayContinue(1_000)).toBe(true);
    expect(budget.inUse).toBe(2_100);
    b.release();
    a.release();
    c.release();
    expect(budget.inUse).toBe(0);
  });

  it('with no write-ahead, waits at every full buffer as before', () => {
    const budget = new WriteAheadBudget(0, 0);
    const a = budget.stream();
    expect(a.mayContinue(0)).toBe(true);
    expect(a.mayContinue(1)).toBe(false);
  });
});
