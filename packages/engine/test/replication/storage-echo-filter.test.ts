import { describe, expect, it } from 'vitest';
import { StorageEchoFilter } from '../../src/replication/storage-echo-filter.ts';

describe('StorageEchoFilter', () => {
  it('ignores changes to the storage schema and marks transactions made only of them', () => {
    const f = new StorageEchoFilter('syncline');
    expect(f.relation(10, 'syncline')).toBe(true);
    expect(f.relation(20, 'public')).toBe(false);
    f.begin();
    expect(f.change(10)).toBe(true);
    expect(f.commitIsEcho()).toBe(true);
    f.begin();
    expect(f.change(10)).toBe(true);
    expect(f.change(20)).toBe(false);
    expect(f.commitIsEcho()).toBe(false);
    f.begin();
    expect(f.commitIsEcho()).toBe(false);
  });

  it('filters nothing when storage is another database', () => {
    const f = new StorageEchoFilter(null);
    expect(f.relation(10, 'syncline')).toBe(false);
    f.begin();
    expect(f.change(10)).toBe(false);
    expect(f.commitIsEcho()).toBe(false);
  });

  it('forgets a relation moved out of the storage schema', () => {
    const f = new StorageEchoFilter('syncline');
    f.relation(10, 'syncline');
    f.relation(10, 'public');
    f.begin();
    expect(f.change(10)).toBe(false);
  });
});
