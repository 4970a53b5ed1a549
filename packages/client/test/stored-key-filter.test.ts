import { describe, expect, it } from 'vitest';
import { bucketStamp, IntSet, keyHash, StoredKeyFilter } from '../src/sync/stored-key-filter.ts';

describe('StoredKeyFilter', () => {
  it('knows the keys stored since the bucket was watched, while the stamp is the one it recorded', () => {
    const f = new StoredKeyFilter();
    expect(f.known(1, bucketStamp(0, 0, 0))).toBeUndefined();
    const set = f.watch(1)!;
    expect(set.size).toBe(0);
    for (const k of ['todos/a/null', 'todos/b/null']) set.add(keyHash(k));
    f.stored(1, bucketStamp(7, 9, 2));
    const known = f.known(1, bucketStamp(7, 9, 2));
    expect(known?.has(keyHash('todos/a/null'))).toBe(true);
    expect(known?.has(keyHash('todos/c/null'))).toBe(false);
  });

  it('forgets a bucket whose row another writer changed (any part of the stamp)', () => {
    for (const other of [bucketStamp(8, 9, 2), bucketStamp(7, 10, 2), bucketStamp(7, 9, 3)]) {
      const f = new StoredKeyFilter();
      f.watch(1)!.add(keyHash('k'));
      f.stored(1, bucketStamp(7, 9, 2));
      expect(f.known(1, other)).toBeUndefined();
      // Forgotten for good: the recorded stamp does not bring it back.
      expect(f.known(1, bucketStamp(7, 9, 2))).toBeUndefined();
    }
  });

  it('stops watching beyond its key budget', () => {
    const f = new StoredKeyFilter(3);
    const set = f.watch(1)!;
    set.add(1);
    set.add(2);
    f.stored(1, 's1');
    expect(f.known(1, 's1')).toBeDefined();
    set.add(3);
    set.add(4);
    f.stored(1, 's2');
    expect(f.known(1, 's2')).toBeUndefined();
    expect(f.watch(2)).toBeDefined();
  });

  it('IntSet holds what was added, through growth, and nothing else', () => {
    const set = new IntSet();
    const model = new Set<number>();
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) & 0x3fffffff;
      const v = i % 7 === 0 ? 0 : x % (i % 3 === 0 ? 50 : 2 ** 30); // 0, repeats and spread values
      set.add(v);
      model.add(v);
    }
    expect(set.size).toBe(model.size);
    for (const v of model) expect(set.has(v)).toBe(true);
    for (let v = 0; v < 2000; v++) expect(set.has(v)).toBe(model.has(v));
    expect(set.has(2 ** 30 - 1)).toBe(model.has(2 ** 30 - 1));
  });

  it('hashes to 30-bit integers and spreads keys', () => {
    const hashes = new Set<number>();
    for (let i = 0; i < 100_000; i++) {
      const h = keyHash(`todos/${i}/null`);
      expect(h >= 0 && h < 2 ** 30).toBe(true);
      hashes.add(h);
    }
    expect(hashes.size).toBeGreaterThan(99_980);
  });
});
