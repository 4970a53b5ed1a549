/**
 * Querier behaviour (reference §4.2–4.4; §8 checklist items 8, 10, 11 without HTTP).
 */
import { describe, expect, it } from 'vitest';
import { TooManyBucketsError } from '../../../src/sync-rules/errors.ts';
import type { StreamsRequest } from '../../../src/sync-rules/types.ts';
import { bucketIds, MemoryIndex, request, streamsFrom, subscribe, table } from './helpers.ts';

const noLookups = async (ls: unknown[]) => ls.map(() => []);

const MIXED = `config: { edition: 2 }
bucket_definitions:
  legacy:
    data: [SELECT * FROM items]
streams:
  auto:
    auto_subscribe: true
    query: SELECT * FROM items WHERE owner = auth.user_id()
  manual:
    query: SELECT * FROM items WHERE id = subscription.parameter('id')
`;

describe('§8.8 default streams', () => {
  it('no streams field: only defaults, with {default: k} reasons; legacy definitions are default streams', async () => {
    const q = streamsFrom(MIXED).createQuerier(request('u1'));
    expect(q.streams).toEqual([
      { name: 'legacy', isDefault: true, errors: [] },
      { name: 'auto', isDefault: true, errors: [] },
    ]);
    expect(await q.resolveBuckets(noLookups)).toEqual([
      { bucket: '1#legacy[]', priority: 3, definition: 'legacy', reasons: [{ default: 0 }] },
      { bucket: '1#auto|0["u1"]', priority: 3, definition: 'auto', reasons: [{ default: 1 }] },
    ]);
  });

  it('include_defaults: false with no subscriptions gives no buckets and no streams (legacy too)', async () => {
    const q = streamsFrom(MIXED).createQuerier(request('u1', {}, { includeDefaults: false, subscriptions: [] }));
    expect(q.streams).toEqual([]);
    expect(q.staticBuckets).toEqual([]);
    expect(await q.resolveBuckets(noLookups)).toEqual([]);
  });

  it('the default subscription has NULL subscription parameters: a default stream on subscription data yields nothing', async () => {
    const rules = streamsFrom("streams:\n  s:\n    auto_subscribe: true\n    query: SELECT * FROM t WHERE id = subscription.parameter('id')\n");
    const q = rules.createQuerier(request('u'));
    expect(q.streams).toEqual([{ name: 's', isDefault: true, errors: [] }]);
    expect(await q.resolveBuckets(noLookups)).toEqual([]);
  });

  it('streams are listed in config order, streams before definitions when written first', () => {
    const yaml = 'config: { edition: 2 }\nstreams:\n  s:\n    auto_subscribe: true\n    query: SELECT * FROM t\nbucket_definitions:\n  b:\n    data: [SELECT * FROM t]\n';
    const q = streamsFrom(yaml).createQuerier(request('u'));
    expect(q.streams.map((s) => s.name)).toEqual(['s', 'b']);
    expect(q.staticBuckets.map((b) => [b.bucket, b.reasons])).toEqual([
      ['1#b[]', [{ default: 1 }]],
      ['1#s|0[]', [{ default: 0 }]],
    ]);
  });
});

describe('§8.10 explicit subscriptions', () => {
  it('an explicit parameterless subscription to a default stream gives [{sub: i}, {default: k}]', async () => {
    const q = streamsFrom(MIXED).createQuerier(request('u1', {}, subscribe(['auto'])));
    const auto = (await q.resolveBuckets(noLookups)).find((b) => b.bucket === '1#auto|0["u1"]');
    expect(auto?.reasons).toEqual([{ sub: 0 }, { default: 1 }]);
  });

  it('an unknown stream name is ignored and not listed; the other indices are unchanged', async () => {
    const q = streamsFrom(MIXED).createQuerier(request('u1', {}, subscribe(['nope', { id: 'x' }], ['manual', { id: 'a' }])));
    expect(q.streams.map((s) => s.name)).toEqual(['legacy', 'auto', 'manual']);
    const manual = (await q.resolveBuckets(noLookups)).find((b) => b.definition === 'manual');
    expect(manual).toEqual({ bucket: '1#manual|0["a"]', priority: 3, definition: 'manual', reasons: [{ sub: 1 }] });
  });

  it('explicitly subscribed non-default streams are listed with isDefault false, also with include_defaults false', () => {
    const q = streamsFrom(MIXED).createQuerier(request('u1', {}, { ...subscribe(['manual', { id: 'a' }]), includeDefaults: false }));
    expect(q.streams).toEqual([{ name: 'manual', isDefault: false, errors: [] }]);
  });
});

describe('§4.4 priorities and reasons', () => {
  it('merges reasons per bucket (explicit first) with the minimum priority', async () => {
    const rules = streamsFrom("streams:\n  todos:\n    query: SELECT * FROM test WHERE id IN subscription.parameter('test_ids')\n");
    const streams: StreamsRequest = {
      includeDefaults: true,
      subscriptions: [
        { stream: 'todos', parameters: { test_ids: ['a'] }, overridePriority: 0 },
        { stream: 'todos', parameters: { test_ids: ['a', 'b'] }, overridePriority: null },
      ],
    };
    const q = rules.createQuerier(request('u', {}, streams));
    expect(await q.resolveBuckets(noLookups)).toEqual([
      { bucket: '1#todos|0["a"]', priority: 0, definition: 'todos', reasons: [{ sub: 0 }, { sub: 1 }] },
      { bucket: '1#todos|0["b"]', priority: 3, definition: 'todos', reasons: [{ sub: 1 }] },
    ]);
    expect(q.streams).toEqual([{ name: 'todos', isDefault: false, errors: [] }]);
  });

  it('a stream priority applies to its buckets', () => {
    const rules = streamsFrom('streams:\n  s:\n    auto_subscribe: true\n    priority: 1\n    query: SELECT * FROM t\n');
    expect(rules.createQuerier(request('u')).staticBuckets[0]?.priority).toBe(1);
  });
});

describe('§8.11 / §4.3 errors and limits', () => {
  it('reports errors: invalid JSON in one subscription is an error of that subscription only', async () => {
    const rules = streamsFrom(`config: { edition: 2 }
streams:
  stream:
    auto_subscribe: true
    query: SELECT * FROM t WHERE id IN ifnull(subscription.parameter('ids'), '["default"]')
`);
    const streams: StreamsRequest = {
      includeDefaults: true,
      subscriptions: [
        { stream: 'stream', parameters: { ids: '["a","b"]' }, overridePriority: 1 },
        { stream: 'stream', parameters: { ids: 'invalid json' }, overridePriority: null },
      ],
    };
    const q = rules.createQuerier(request('u', {}, streams));
    expect(await q.resolveBuckets(noLookups)).toEqual([
      { bucket: '1#stream|0["a"]', priority: 1, definition: 'stream', reasons: [{ sub: 0 }] },
      { bucket: '1#stream|0["b"]', priority: 1, definition: 'stream', reasons: [{ sub: 0 }] },
      { bucket: '1#stream|0["default"]', priority: 3, definition: 'stream', reasons: [{ default: 0 }] },
    ]);
    expect(q.streams).toHaveLength(1);
    expect(q.streams[0]).toMatchObject({ name: 'stream', isDefault: true });
    expect(q.streams[0]?.errors).toHaveLength(1);
    expect(q.streams[0]?.errors[0]?.subscription).toBe(1);
    expect(q.streams[0]?.errors[0]?.message).toMatch(/^Error evaluating bucket ids: /);
  });

  it('maxParameterResults counts per subscription: the subscription above it yields nothing and gets an error naming the limit', async () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE org = subscription.parameter('org'))\n    accept_potentially_dangerous_queries: true\n");
    const index = new MemoryIndex(rules);
    for (let i = 0; i < 3; i++) index.put(table('lists'), `big${i}`, { id: `big${i}`, org: 'big' });
    index.put(table('lists'), 'small', { id: 'small', org: 'small' });
    const q = rules.createQuerier(request('u', {}, subscribe(['s', { org: 'big' }], ['s', { org: 'small' }])), { maxParameterResults: 2 });
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#s|0["small"]']);
    expect(q.streams[0]?.errors).toEqual([{ subscription: 0, message: expect.stringContaining('max_parameter_query_results') }]);
    expect(q.streams[0]?.errors[0]?.message).toContain('more than 2 ');
  });

  it('hostile subscription parameters: a cartesian fan-out above the limits is an error of that subscription, computed without building it', async () => {
    const rules = streamsFrom(
      "streams:\n  s:\n    query: SELECT * FROM t WHERE a IN subscription.parameter('x') AND b IN subscription.parameter('y')\n    accept_potentially_dangerous_queries: true\n",
    );
    const many = Array.from({ length: 2000 }, (_, i) => i);
    const q = rules.createQuerier(request('u', {}, subscribe(['s', { x: many, y: many }], ['s', { x: [1], y: [2] }])), { maxBuckets: 100, maxParameterResults: 100 });
    expect(bucketIds(await q.resolveBuckets(noLookups))).toEqual(['1#s|0[1,2]']);
    expect(q.streams[0]?.errors).toEqual([{ subscription: 0, message: expect.stringMatching(/^Error evaluating bucket ids: .*more than 100/) }]);
  });

  it('a storage failure while reading lookups fails the resolution (it is not a subscription error that drops buckets)', async () => {
    const rules = streamsFrom("streams:\n  s:\n    auto_subscribe: true\n    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE owner = auth.user_id())\n");
    const q = rules.createQuerier(request('me'));
    await expect(q.resolveBuckets(async () => Promise.reject(new Error('connection terminated')))).rejects.toThrow('connection terminated');
  });

  it('hostile: many subscriptions each under the fan-out limit stop being expanded once the connection is over maxBuckets', async () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT * FROM t WHERE id IN subscription.parameter('ids')\n");
    const subs = Array.from({ length: 500 }, (_, i) => ['s', { ids: Array.from({ length: 100 }, (_, j) => `${i}-${j}`) }] as [string, Record<string, unknown>]);
    const q = rules.createQuerier(request('u', {}, subscribe(...subs)), { maxBuckets: 1000 });
    expect(q.staticBuckets.length).toBeLessThanOrEqual(1100);
    await expect(q.resolveBuckets(noLookups)).rejects.toBeInstanceOf(TooManyBucketsError);
  });

  it('maxBuckets stays connection-wide (TooManyBucketsError)', async () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT * FROM t WHERE id IN subscription.parameter('ids')\n");
    const q = rules.createQuerier(request('u', {}, subscribe(['s', { ids: ['a', 'b'] }], ['s', { ids: ['c'] }])), { maxBuckets: 2 });
    await expect(q.resolveBuckets(noLookups)).rejects.toBeInstanceOf(TooManyBucketsError);
  });
});

describe('dynamic resolution', () => {
  const yaml = `streams:
  team_todos:
    auto_subscribe: true
    query: SELECT todos.* FROM todos JOIN memberships m ON todos.team_id = m.team_id WHERE m.user_id = auth.user_id()
`;

  it('a row change in a joined table, replayed through evaluateParameterRow, changes the bucket set of a user', async () => {
    const rules = streamsFrom(yaml);
    const memberships = table('memberships');
    const index = new MemoryIndex(rules);
    index.put(memberships, 'm1', { id: 'm1', user_id: 'alice', team_id: 't1' });
    const q = rules.createQuerier(request('alice'));
    expect(q.hasDynamicBuckets).toBe(true);
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#team_todos|0["t1"]']);

    // The membership moves to another team: the old lookup entry goes, the new one appears.
    index.put(memberships, 'm1', { id: 'm1', user_id: 'alice', team_id: 't2' });
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#team_todos|0["t2"]']);

    // The membership now belongs to someone else: alice has no bucket.
    index.put(memberships, 'm1', { id: 'm1', user_id: 'bob', team_id: 't2' });
    expect(await q.resolveBuckets(index.source)).toEqual([]);
    expect(bucketIds(await rules.createQuerier(request('bob')).resolveBuckets(index.source))).toEqual(['1#team_todos|0["t2"]']);

    // A todo row follows its team's bucket.
    expect(rules.evaluateRow(table('todos'), { id: 'x', team_id: 't2' }).map((r) => r.bucket)).toEqual(['1#team_todos|0["t2"]']);
  });

  it('lookups: first-stage lookups before resolving, everything read afterwards', async () => {
    const rules = streamsFrom(`streams:
  s:
    auto_subscribe: true
    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE org_id IN (SELECT org_id FROM members WHERE user_id = auth.user_id()))
`);
    const index = new MemoryIndex(rules);
    index.put(table('members'), 'm', { user_id: 'me', org_id: 'o1' });
    const q = rules.createQuerier(request('me'));
    expect(q.lookups.map((l) => l.key)).toEqual(['["lookup","0","me"]']);
    await q.resolveBuckets(index.source);
    expect(q.lookups.map((l) => l.key).sort()).toEqual(['["lookup","0","me"]', '["lookup","1","o1"]']);
  });
});
