import { describe, expect, it } from 'vitest';
import { canonicalParameters, higherPriority, longerTtl, validateSubscribeOptions } from '../src/streams/stream-key.ts';
import { associateBuckets, buildStreamStatuses, errorsByKey, findStreamStatus, rowKey, type SubscriptionRow } from '../src/streams/stream-status.ts';
import type { BucketChecksum } from '../src/sync/sync-lines.ts';

const bucket = (name: string, priority: number, subscriptions: BucketChecksum['subscriptions']): BucketChecksum => ({ bucket: name, checksum: 0, count: 1, priority, subscriptions });

describe('stream subscription keys and options', () => {
  it('canonical parameters ignore key order at every level and drop undefined members', () => {
    expect(canonicalParameters({ b: 1, a: { y: [1, { d: 2, c: 1 }], x: null } })).toBe('{"a":{"x":null,"y":[1,{"c":1,"d":2}]},"b":1}');
    expect(canonicalParameters({ a: 1, b: undefined })).toBe(canonicalParameters({ a: 1 }));
    expect(canonicalParameters(undefined)).toBe('null');
    expect(canonicalParameters(null)).toBe('null');
  });

  it('rejects parameters that are not a JSON object with INVALID_ARGUMENT', () => {
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    for (const bad of [[1], 'x', 3, { n: NaN }, { n: Infinity }, { d: new Date() }, { f: () => 1 }, { b: 1n }, circular]) {
      expect(() => canonicalParameters(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('validates ttl (non-negative seconds, Infinity = never) and priority (0..3)', () => {
    expect(validateSubscribeOptions(undefined)).toEqual({ ttlMs: 86_400_000, priority: null });
    expect(validateSubscribeOptions({ ttl: 0.25, priority: 0 })).toEqual({ ttlMs: 250, priority: 0 });
    expect(validateSubscribeOptions({ ttl: Infinity })).toEqual({ ttlMs: null, priority: null });
    for (const bad of [{ ttl: -1 }, { ttl: NaN }, { ttl: '10' }, { ttl: null }, { priority: 4 }, { priority: 1.5 }, { priority: -1 }, { priority: '1' }]) {
      expect(() => validateSubscribeOptions(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('keeps the longest TTL and the most urgent priority', () => {
    expect(longerTtl(10, 3600)).toBe(3600);
    expect(longerTtl(3600, 10)).toBe(3600);
    expect(longerTtl(null, 10)).toBeNull();
    expect(higherPriority(null, 2)).toBe(2);
    expect(higherPriority(1, null)).toBe(1);
    expect(higherPriority(3, 1)).toBe(1);
  });
});

describe('stream status from checkpoints', () => {
  const row = (id: number, name: string, params: string, extra: Partial<SubscriptionRow> = {}): SubscriptionRow => ({
    id,
    name,
    params,
    explicit: true,
    ttlMs: 1000,
    expiresAt: 5000,
    localPriority: null,
    active: true,
    isDefault: false,
    lastSyncedAt: null,
    ...extra,
  });

  it('maps {sub: i} to the request index and {default: k} to the parameterless row of streams[k]', () => {
    const keys = [rowKey({ name: 'todos', params: '{"list":"a"}' }), rowKey({ name: 'todos', params: '{"list":"b"}' })];
    const streams = [
      { name: 'todos', isDefault: false, errors: [{ subscription: 1 as const, message: 'bad' }] },
      { name: 'lists', isDefault: true, errors: [] },
    ];
    const b1 = bucket('t-a', 0, [{ sub: 0 }]);
    const b2 = bucket('t-ab', 3, [{ sub: 0 }, { sub: 1 }]);
    const b3 = bucket('lists', 1, [{ default: 1 }]);
    const map = associateBuckets([b1, b2, b3, bucket('stray', 3, [{ sub: 7 }, { default: 9 }])], keys, streams);
    expect(map.get(keys[0]!)).toEqual([b1, b2]);
    expect(map.get(keys[1]!)).toEqual([b2]);
    expect(map.get(rowKey({ name: 'lists', params: 'null' }))).toEqual([b3]);
    expect(errorsByKey(keys, streams).get(keys[1]!)).toEqual(['bad']);

    const rows = [row(1, 'todos', '{"list":"a"}'), row(2, 'todos', '{"list":"b"}'), row(3, 'lists', 'null', { explicit: false, isDefault: true, lastSyncedAt: 1234 })];
    const progress = new Map([
      ['t-a', { priority: 0, atLast: 0, sinceLast: 1, targetCount: 2 }],
      ['t-ab', { priority: 3, atLast: 0, sinceLast: 0, targetCount: 3 }],
    ]);
    const statuses = buildStreamStatuses(rows, { buckets: map, progress, errors: errorsByKey(keys, streams) });
    expect(statuses[0]).toMatchObject({ priority: 3, progress: { downloadedOperations: 1, totalOperations: 5 }, errors: [] });
    expect(statuses[0]!.subscription.expiresAt).toEqual(new Date(5000));
    expect(statuses[1]).toMatchObject({ priority: 3, progress: { downloadedOperations: 0, totalOperations: 3 }, errors: ['bad'] });
    expect(statuses[2]).toMatchObject({ priority: 1, subscription: { isDefault: true, hasExplicitSubscription: false, expiresAt: null, hasSynced: true } });
    expect(statuses[2]!.subscription.lastSyncedAt).toEqual(new Date(1234));
    // forStream matches regardless of key order.
    const twoKeys = buildStreamStatuses([row(4, 's', '{"a":1,"b":2}')], undefined);
    expect(findStreamStatus(twoKeys, { name: 's', parameters: { b: 2, a: 1 } })).toBe(twoKeys[0]);
    expect(findStreamStatus(twoKeys, { name: 's', parameters: { a: 1 } })).toBeUndefined();
  });
});
