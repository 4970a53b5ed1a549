import { describe, expect, it } from 'vitest';
import { bucketStamp, keyHash, StoredKeyFilter } from '../src/sync/stored-key-filter.ts';

describe('StoredKeyFilter', () => {
  it('knows the keys stored since the bucket was watched, while the stamp is the one it recorded', () => {
    const f = new StoredKeyFilter();
    expect(f.known(1, bucketStamp(0, 0, 0))).toBeUndefined();
    const set = f.watch(1);
    expect(set?.size).toBe(0);
    f.stored(1, ['todos/a/null', 'todos/b/null'], bucketStamp(7, 9, 2));
    const known = f.known(1, bucketStamp(7, 9, 2));
    expect(known?.has(keyHash('todos/a/null'))).toBe(true);
    expect(known?.has(keyHash('todos/c/null'))).toBe(false);
  });

  it('forgets a bucket whose row another writer changed (any part of the stamp)', () => {
    for (const other of [bucketStamp(8, 9, 2), bucketStamp(7, 10, 2), bucketStamp(7, 9, 3)]) {
      const f = new StoredKeyFilter();
      f.watch(1);
      f.stored(1, ['k'], bucketStamp(7, 9, 2));
      expect(f.known(1, other)).toBeUndefined();
      // Forgotten for good: the recorded stamp does not bring it back.
      expect(f.known(1, bucketStamp(7, 9, 2))).toBeUndefined();
    }
  });

  it('stops watching beyond its key budget', () => {
    const f = new StoredKeyFilter(3);
    f.watch(1);
    f.stored(1, ['a', 'b'], 's1');
    expect(f.known(1, 's1')).toBeDefined();
    f.stored(1, ['c', 'd'], 's2');
    expect(f.known(1, 's2')).toBeUndefined();
    expect(f.watch(2)).toBeDefined();
  });

  it('hashes to small integers (kept unboxed by V8) and spreads keys', () => {
    const hashes = new Set<number>();
    for (let i = 0; i < 100_000; i++) {
      const h = keyHash(`todos/${i}/null`);
      expect(h >= 0 && h < 2 ** 30).toBe(true);
      hashes.add(h);
    }
    expect(hashes.size).toBeGreaterThan(99_980);
  });
});
