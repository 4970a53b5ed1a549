import { describe, expect, it } from 'vitest';
import { ConnectionState, type CheckpointView } from '../../src/sync/connection-state.ts';
import type { BucketDescription, StreamDescription } from '../../src/sync-rules/types.ts';

const cp = (opId: number, changedBuckets: string[] | null = null, changedLookups: string[] | null = null): CheckpointView => ({
  opId: BigInt(opId),
  changedBuckets: changedBuckets && new Set(changedBuckets),
  changedLookups: changedLookups && new Set(changedLookups),
});
const bucket = (name: string, priority: 0 | 1 | 2 | 3 = 3, reasons: BucketDescription['reasons'] = [{ default: 0 }]): BucketDescription => ({
  bucket: name,
  priority,
  definition: name.split('[')[0]!,
  reasons,
});
const sums = (entries: Record<string, [number, number]>) => new Map(Object.entries(entries).map(([b, [checksum, count]]) => [b, { checksum, count }]));
const STREAMS: StreamDescription[] = [{ name: 'todos', isDefault: false, errors: [{ subscription: 1, message: 'bad' }] }];

describe('ConnectionState', () => {
  it('announces a full checkpoint first, with reasons, merged priorities and the streams list', () => {
    const s = new ConnectionState([
      { name: 'a', after: '5' },
      { name: 'gone', after: '9' },
    ]);
    s.setBuckets([bucket('a', 1, [{ sub: 0 }, { default: 0 }]), bucket('b', 3, [{ sub: 1 }])]);
    const checked = s.bucketsToCheck(cp(10));
    expect(checked).toEqual(['a', 'b']);
    const out = s.announce(cp(10), checked, sums({ a: [0xffffffff, 2], b: [7, 1] }), 4n, STREAMS)!;
    expect(out.line).toEqual({
      checkpoint: {
        last_op_id: '10',
        write_checkpoint: '4',
        buckets: [
          { bucket: 'a', checksum: -1, count: 2, priority: 1, subscriptions: [{ sub: 0 }, { default: 0 }] },
          { bucket: 'b', checksum: 7, count: 1, priority: 3, subscriptions: [{ sub: 1 }] },
        ],
        streams: [{ name: 'todos', is_default: false, errors: [{ subscription: 1, message: 'bad' }] }],
      },
    });
    expect(out.plan.groups).toEqual([
      { priority: 1, buckets: ['a'] },
      { priority: 3, buckets: ['b'] },
    ]);
    // The client resumes 'a' from its position; a bucket it no longer has starts over if it comes back.
    expect(s.after('a')).toBe(5n);
    expect(s.positions.has('gone')).toBe(false);
  });

  it('sends only changed buckets afterwards, and nothing when nothing a client sees changed', () => {
    const s = new ConnectionState();
    s.setBuckets([bucket('a'), bucket('b')]);
    s.announce(cp(1), s.bucketsToCheck(cp(1)), sums({ a: [1, 1], b: [2, 1] }), null, []);
    s.completed();
    const checked = s.bucketsToCheck(cp(2, ['a']));
    expect(checked).toEqual(['a']);
    expect(s.announce(cp(2, ['a']), checked, sums({ a: [1, 1] }), null, [])).toBeNull();
    const changed = s.announce(cp(3, ['a']), ['a'], sums({ a: [5, 2] }), null, [])!;
    expect(changed.line).toEqual({ checkpoint_diff: { last_op_id: '3', updated_buckets: [{ bucket: 'a', checksum: 5, count: 2, priority: 3, subscriptions: [{ default: 0 }] }], removed_buckets: [] } });
    expect(changed.plan.groups).toEqual([{ priority: 3, buckets: ['a'] }]);
  });

  it('checks only the changed buckets of a large unchanged set, and every new bucket after the set changed', () => {
    const s = new ConnectionState();
    const many = Array.from({ length: 5000 }, (_, i) => bucket(`b[${i}]`));
    s.setBuckets(many);
    const all = s.bucketsToCheck(cp(1));
    expect(all).toHaveLength(5000);
    s.announce(cp(1), all, new Map(all.map((b) => [b, { checksum: 1, count: 1 }])), null, []);
    s.completed();
    // Unknown buckets in the changed set (other users') are not this connection's.
    expect(s.bucketsToCheck(cp(2, ['b[7]', 'other[1]']))).toEqual(['b[7]']);
    s.invalidate('b[9]');
    expect(s.bucketsToCheck(cp(3, ['b[7]']))).toEqual(['b[7]', 'b[9]']);
    expect(s.bucketsToCheck(cp(4, []))).toEqual([]);
    // The set changes: the new bucket is checked (announced) although no op changed it.
    s.setBuckets([...many.slice(1), bucket('b[new]')]);
    const checked = s.bucketsToCheck(cp(5, []));
    expect(checked).toEqual(['b[new]']);
    const out = s.announce(cp(5, []), checked, sums({ 'b[new]': [3, 1] }), null, [])!;
    expect(out.line).toEqual({
      checkpoint_diff: { last_op_id: '5', updated_buckets: [{ bucket: 'b[new]', checksum: 3, count: 1, priority: 3, subscriptions: [{ default: 0 }] }], removed_buckets: ['b[0]'] },
    });
    s.completed();
    expect(s.bucketsToCheck(cp(6, ['b[0]', 'b[new]']))).toEqual(['b[new]']);
    expect(s.announce(cp(6, ['b[new]']), ['b[new]'], sums({ 'b[new]': [3, 1] }), null, [])).toBeNull();
  });

  it('removes buckets that left the set and forgets their positions', () => {
    const s = new ConnectionState([{ name: 'b', after: '3' }]);
    s.setBuckets([bucket('a'), bucket('b')]);
    s.announce(cp(1), s.bucketsToCheck(cp(1)), sums({ a: [1, 1], b: [2, 1] }), null, []);
    s.completed();
    s.setBuckets([bucket('a')]);
    const out = s.announce(cp(2, []), s.bucketsToCheck(cp(2, [])), new Map(), null, [])!;
    expect(out.line).toEqual({ checkpoint_diff: { last_op_id: '2', updated_buckets: [], removed_buckets: ['b'] } });
    expect(s.positions.has('b')).toBe(false);
  });

  it('announces a newly released write checkpoint on its own, but never an older one', () => {
    const s = new ConnectionState();
    s.setBuckets([bucket('a')]);
    s.announce(cp(1), ['a'], sums({ a: [1, 1] }), 5n, []);
    expect(s.mergeWriteCheckpoint(3n)).toBe(5n);
    expect(s.mergeWriteCheckpoint(undefined)).toBe(5n);
    const wc = s.mergeWriteCheckpoint(8n);
    expect(wc).toBe(8n);
    expect(s.announce(cp(2, []), [], new Map(), wc, [])!.line).toEqual({
      checkpoint_diff: { last_op_id: '2', write_checkpoint: '8', updated_buckets: [], removed_buckets: [] },
    });
  });

  it('keeps owing the data of an interrupted checkpoint and re-reads invalidated checksums', () => {
    const s = new ConnectionState();
    s.setBuckets([bucket('a'), bucket('b')]);
    s.announce(cp(1), ['a', 'b'], sums({ a: [1, 1], b: [2, 1] }), null, []);
    s.advance('a', 1n);
    s.delivered('a');
    s.invalidate('a'); // compaction rewrote 'a' under us; 'b' was never delivered
    expect(s.bucketsToCheck(cp(2, []))).toEqual(['a']);
    const out = s.announce(cp(2, []), ['a'], sums({ a: [9, 1] }), null, [])!;
    expect(out.plan.groups).toEqual([{ priority: 3, buckets: ['a', 'b'] }]);
    expect(s.after('a')).toBe(1n);
    s.completed();
    expect(s.announce(cp(3, []), [], new Map(), null, [])).toBeNull();
  });

  it('re-resolves the bucket set only when one of its lookups changed', () => {
    const s = new ConnectionState();
    const lookups = [{ key: 'l1' }];
    expect(s.needsResolve(cp(1), lookups, true)).toBe(true);
    s.setBuckets([bucket('a')]);
    expect(s.needsResolve(cp(2, [], ['other']), lookups, true)).toBe(false);
    expect(s.needsResolve(cp(2, [], ['l1']), lookups, true)).toBe(true);
    expect(s.needsResolve(cp(2, [], null), lookups, true)).toBe(true);
    expect(s.needsResolve(cp(2, [], null), lookups, false)).toBe(false);
  });

  it('announces a changed bucket set even when checksums are unchanged (a bucket moved between priorities or reasons)', () => {
    const s = new ConnectionState();
    s.setBuckets([bucket('a')]);
    s.announce(cp(1), ['a'], sums({ a: [1, 1] }), null, []);
    s.completed();
    s.setBuckets([bucket('a'), bucket('empty')]);
    const out = s.announce(cp(2, []), s.bucketsToCheck(cp(2, [])), sums({ empty: [0, 0] }), null, [])!;
    expect(out.line).toEqual({
      checkpoint_diff: { last_op_id: '2', updated_buckets: [{ bucket: 'empty', checksum: 0, count: 0, priority: 3, subscriptions: [{ default: 0 }] }], removed_buckets: [] },
    });
  });
});
