/**
 * Evaluation conformance (reference §3.6 vectors; §8 checklist items 5–7).
 */
import { describe, expect, it } from 'vitest';
import { bucketIds, MemoryIndex, request, streamsFrom, subscribe, table } from './helpers.ts';

const users = table('users');
const noLookups = async (ls: unknown[]) => ls.map(() => []);

describe('§8.5 bucket ids, values and rows', () => {
  it('SELECT * FROM users: stream|0[], table users, _ columns kept, blobs dropped', () => {
    const rules = streamsFrom('streams:\n  stream:\n    query: SELECT * FROM users\n');
    const out = rules.evaluateRow(users, { id: 'foo', _double: 1, _int: 1n, _null: null, _text: 'text', _blob: new Uint8Array([1]) });
    expect(out).toEqual([{ bucket: '1#stream|0[]', table: 'users', id: 'foo', data: '{"id":"foo","_double":1.0,"_int":1,"_null":null,"_text":"text"}' }]);
  });

  it('partition values keep their type: [1] vs ["1"]; NULL and blobs give no bucket', () => {
    const rules = streamsFrom("streams:\n  stream:\n    query: SELECT * FROM users WHERE value = subscription.parameter('p')\n");
    const bucket = (value: unknown) => rules.evaluateRow(users, { id: 'x', value: value as never }).map((r) => r.bucket);
    expect(bucket(1)).toEqual(['1#stream|0[1]']);
    expect(bucket(1n)).toEqual(['1#stream|0[1]']);
    expect(bucket(1.1)).toEqual(['1#stream|0[1.1]']);
    expect(bucket('1')).toEqual(['1#stream|0["1"]']);
    expect(bucket(null)).toEqual([]);
    expect(bucket(new Uint8Array([1]))).toEqual([]);
  });

  it('a subscription parameter "1" never matches the INTEGER 1 bucket', async () => {
    const rules = streamsFrom("streams:\n  stream:\n    query: SELECT * FROM users WHERE value = subscription.parameter('p')\n");
    const q = rules.createQuerier(request('u', {}, subscribe(['stream', { p: '1' }], ['stream', { p: 1 }])));
    expect(bucketIds(await q.resolveBuckets(noLookups))).toEqual(['1#stream|0["1"]', '1#stream|0[1]']);
  });

  it('output table: alias, "%" alias, or the replicated table name', () => {
    const rules = streamsFrom('streams:\n  a:\n    query: SELECT * FROM users u\n  b:\n    query: SELECT * FROM "%" output\n  c:\n    query: SELECT * FROM "%"\n');
    const tables = rules.evaluateRow(users, { id: 'x' }).map((r) => `${r.bucket}:${r.table}`);
    expect(tables.sort()).toEqual(['1#a|0[]:u', '1#b|0[]:output', '1#c|0[]:users']);
  });

  it('id comes from the id output column: SELECT user_id as id, * vs SELECT *, user_id as id', () => {
    const rules = streamsFrom('streams:\n  a:\n    query: SELECT user_id as id, * FROM users\n  b:\n    query: SELECT *, user_id as id FROM users\n');
    const out = rules.evaluateRow(users, { user_id: 'uid', id: 'internal_id' });
    expect(out.find((r) => r.bucket.startsWith('1#a'))?.id).toBe('internal_id');
    expect(out.find((r) => r.bucket.startsWith('1#b'))?.id).toBe('uid');
  });

  it('without an id column the object id is empty', () => {
    const rules = streamsFrom('streams:\n  a:\n    query: SELECT name FROM users\n');
    expect(rules.evaluateRow(users, { id: 'x', name: 'n' })).toEqual([{ bucket: '1#a|0[]', table: 'users', id: '', data: '{"name":"n"}' }]);
  });
});

describe('§8.6 variants', () => {
  it('queries over two tables share |0', async () => {
    const rules = streamsFrom('streams:\n  stream:\n    auto_subscribe: true\n    queries:\n      - SELECT * FROM users\n      - SELECT * FROM comments\n');
    expect(rules.evaluateRow(users, { id: 'u' })[0]?.bucket).toBe('1#stream|0[]');
    expect(rules.evaluateRow(table('comments'), { id: 'c' })[0]?.bucket).toBe('1#stream|0[]');
    expect(rules.streams[0]?.variantCount).toBe(1);
    const q = rules.createQuerier(request('u'));
    expect(bucketIds(q.staticBuckets)).toEqual(['1#stream|0[]']);
  });

  it('queries with the same instantiation (auth.user_id()) on different tables share one bucket', async () => {
    const rules = streamsFrom(
      'streams:\n  mine:\n    auto_subscribe: true\n    queries:\n      - SELECT * FROM users WHERE id = auth.user_id()\n      - SELECT * FROM comments WHERE owner = auth.user_id()\n',
    );
    expect(rules.evaluateRow(users, { id: 'u1' })[0]?.bucket).toBe('1#mine|0["u1"]');
    expect(rules.evaluateRow(table('comments'), { id: 'c', owner: 'u1' })[0]?.bucket).toBe('1#mine|0["u1"]');
    expect(bucketIds(rules.createQuerier(request('u1')).staticBuckets)).toEqual(['1#mine|0["u1"]']);
  });

  it('an OR of two shapes gives |0 and |1, and a row can land in both', async () => {
    const rules = streamsFrom('streams:\n  s:\n    auto_subscribe: true\n    query: SELECT * FROM notes WHERE is_public OR owner = auth.user_id()\n');
    const out = rules.evaluateRow(table('notes'), { id: 'n', is_public: 1n, owner: 'u1' }).map((r) => r.bucket);
    expect(out.sort()).toEqual(['1#s|0[]', '1#s|1["u1"]']);
    expect(rules.evaluateRow(table('notes'), { id: 'n', is_public: 0n, owner: 'u2' }).map((r) => r.bucket)).toEqual(['1#s|1["u2"]']);
    expect(bucketIds(rules.createQuerier(request('u1')).staticBuckets)).toEqual(['1#s|0[]', '1#s|1["u1"]']);
  });
});

describe('§8.7 lookups', () => {
  it('IN (SELECT …): lookup ["lookup","0","user1"] → [{"0":"issue_id"}]; comment with i1 → stream|0["i1"]', async () => {
    const rules = streamsFrom(
      'streams:\n  stream:\n    auto_subscribe: true\n    query: SELECT * FROM comments WHERE issue_id IN (SELECT id FROM issues WHERE owner_id = auth.user_id())\n',
    );
    const params = rules.evaluateParameterRow(table('issues'), { id: 'issue_id', owner_id: 'user1' });
    expect(params).toEqual([{ lookup: expect.objectContaining({ key: '["lookup","0","user1"]' }), bucketParameters: [{ '0': 'issue_id' }] }]);
    expect(rules.evaluateRow(table('comments'), { id: 'c', issue_id: 'i1' })[0]?.bucket).toBe('1#stream|0["i1"]');
    const index = new MemoryIndex(rules);
    index.put(table('issues'), 'issue_id', { id: 'issue_id', owner_id: 'user1' });
    const q = rules.createQuerier(request('user1'));
    expect(q.lookups.map((l) => l.key)).toEqual(['["lookup","0","user1"]']);
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#stream|0["issue_id"]']);
  });

  it('static buckets: WHERE owner = auth.user_id(); request filter WHERE auth.parameter(is_admin)', () => {
    const rules = streamsFrom("streams:\n  a:\n    auto_subscribe: true\n    query: SELECT * FROM t WHERE owner = auth.user_id()\n  b:\n    auto_subscribe: true\n    query: SELECT * FROM t WHERE auth.parameter('is_admin')\n");
    expect(bucketIds(rules.createQuerier(request('user')).staticBuckets)).toEqual(['1#a|0["user"]']);
    const admin = rules.createQuerier(request('user', { jwtClaims: { sub: 'user', is_admin: true } }));
    expect(bucketIds(admin.staticBuckets)).toEqual(['1#a|0["user"]', '1#b|0[]']);
    expect(admin.hasDynamicBuckets).toBe(false);
  });

  it('CTEs of json_each over two auth arrays give the cartesian product', () => {
    const rules = streamsFrom(`streams:
  s:
    auto_subscribe: true
    with:
      a: SELECT value FROM json_each(auth.parameter('a'))
      b: SELECT value FROM json_each(auth.parameter('b'))
    query: SELECT notes.* FROM notes, a, b WHERE notes.state = a.value AND notes.other = b.value
`);
    const q = rules.createQuerier(request('u', { jwtClaims: { sub: 'u', a: ['a1', 'a2'], b: ['b1', 'b2'] } }));
    expect(bucketIds(q.staticBuckets)).toEqual(['1#s|0["a1","b1"]', '1#s|0["a1","b2"]', '1#s|0["a2","b1"]', '1#s|0["a2","b2"]']);
    expect(rules.evaluateRow(table('notes'), { id: 'n', state: 'a2', other: 'b1' })[0]?.bucket).toBe('1#s|0["a2","b1"]');
  });

  it('compound keys stay correlated per lookup row: (A,1), (B,2) give [1,"A"]-style pairs only', async () => {
    const rules = streamsFrom('streams:\n  s:\n    auto_subscribe: true\n    query: SELECT a.* FROM a, b WHERE a.c1 = b.c1 AND a.c2 = b.c2 AND b.u = auth.user_id()\n');
    const index = new MemoryIndex(rules);
    index.put(table('b'), '1', { c1: 'A', c2: 1n, u: 'me' });
    index.put(table('b'), '2', { c1: 'B', c2: 2n, u: 'me' });
    const buckets = bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source));
    expect(buckets).toEqual(['1#s|0["A",1]', '1#s|0["B",2]']);
    expect(rules.evaluateRow(table('a'), { id: 'x', c1: 'A', c2: 1n })[0]?.bucket).toBe('1#s|0["A",1]');
  });

  it('a.c1 = b.c1 AND a.c1 = b.c2: lookup rows (A,B), (B,A) give nothing (intersection)', async () => {
    const rules = streamsFrom('streams:\n  s:\n    auto_subscribe: true\n    query: SELECT a.* FROM a, b WHERE a.c1 = b.c1 AND a.c1 = b.c2 AND b.u = auth.user_id()\n');
    const index = new MemoryIndex(rules);
    index.put(table('b'), '1', { c1: 'A', c2: 'B', u: 'me' });
    index.put(table('b'), '2', { c1: 'B', c2: 'A', u: 'me' });
    expect(await rules.createQuerier(request('me')).resolveBuckets(index.source)).toEqual([]);
    index.put(table('b'), '3', { c1: 'C', c2: 'C', u: 'me' });
    expect(bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source))).toEqual(['1#s|0["C"]']);
  });

  it('three-hop chain: users ← memberships ← memberships ← auth.user_id()', async () => {
    const rules = streamsFrom(`streams:
  s:
    auto_subscribe: true
    query: SELECT u.* FROM users AS "u" JOIN group_memberships gm1 ON u.id = gm1.user_id JOIN group_memberships gm2 ON gm1.group_id = gm2.group_id WHERE gm2.user_id = auth.user_id()
`);
    const gm = table('group_memberships');
    const index = new MemoryIndex(rules);
    index.put(gm, '1', { user_id: 'me', group_id: 'g1' });
    index.put(gm, '2', { user_id: 'friend', group_id: 'g1' });
    index.put(gm, '3', { user_id: 'stranger', group_id: 'g2' });
    const q = rules.createQuerier(request('me'));
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#s|0["friend"]', '1#s|0["me"]']);
    expect(rules.evaluateRow(users, { id: 'friend' })[0]).toMatchObject({ bucket: '1#s|0["friend"]', table: 'u' });
  });

  it('nested IN (SELECT … IN (SELECT …)) chains lookups', async () => {
    const rules = streamsFrom(`streams:
  s:
    auto_subscribe: true
    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE org_id IN (SELECT org_id FROM members WHERE user_id = auth.user_id()))
`);
    const index = new MemoryIndex(rules);
    index.put(table('members'), 'm', { user_id: 'me', org_id: 'o1' });
    index.put(table('lists'), 'l1', { id: 'l1', org_id: 'o1' });
    index.put(table('lists'), 'l2', { id: 'l2', org_id: 'o2' });
    expect(bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source))).toEqual(['1#s|0["l1"]']);
  });

  it('IN subscription array gives one bucket per element; json_each on a row column fans out', async () => {
    const rules = streamsFrom(`streams:
  todos:
    query: SELECT * FROM test WHERE id IN subscription.parameter('test_ids')
  tagged:
    query: SELECT t.* FROM items t, json_each(t.tags) AS tag WHERE tag.value = subscription.parameter('tag')
`);
    const q = rules.createQuerier(request('u', {}, subscribe(['todos', { test_ids: ['a', 'b'] }])));
    expect(bucketIds(q.staticBuckets)).toEqual(['1#todos|0["a"]', '1#todos|0["b"]']);
    expect(rules.evaluateRow(table('items'), { id: 'i', tags: '["x","y"]' }).map((r) => r.bucket)).toEqual(['1#tagged|0["x"]', '1#tagged|0["y"]']);
  });

  it('IN a local CTE; a local CTE shadows a global one', async () => {
    const rules = streamsFrom(`with:
  mine: SELECT id FROM lists WHERE owner_id = 'nobody'
streams:
  s:
    auto_subscribe: true
    with:
      mine: SELECT id FROM lists WHERE owner_id = auth.user_id()
    query: SELECT * FROM todos WHERE list_id IN mine
`);
    const index = new MemoryIndex(rules);
    index.put(table('lists'), 'l1', { id: 'l1', owner_id: 'me' });
    expect(bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source))).toEqual(['1#s|0["l1"]']);
  });

  it('streams that share a global CTE share one parameter index lookup', () => {
    const rules = streamsFrom(`with:
  mine: SELECT id FROM lists WHERE owner_id = auth.user_id()
streams:
  a:
    query: SELECT * FROM todos WHERE list_id IN mine
  b:
    query: SELECT * FROM lists WHERE id IN mine
`);
    expect(rules.evaluateParameterRow(table('lists'), { id: 'l1', owner_id: 'me' }).map((e) => e.lookup.key)).toEqual(['["lookup","0","me"]']);
  });

  it('derived tables in FROM work like CTEs', async () => {
    const rules = streamsFrom(`streams:
  s:
    auto_subscribe: true
    query: SELECT todos.* FROM todos, (SELECT id AS lid FROM lists WHERE owner_id = auth.user_id()) AS l WHERE todos.list_id = l.lid
`);
    const index = new MemoryIndex(rules);
    index.put(table('lists'), 'l1', { id: 'l1', owner_id: 'me' });
    expect(bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source))).toEqual(['1#s|0["l1"]']);
  });

  it('lookup keys never contain "|", so they cannot collide with legacy <definition>|<query>|[…] keys', () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT * FROM t WHERE id IN (SELECT tid FROM m WHERE k = subscription.parameter('k'))\n");
    const [entry] = rules.evaluateParameterRow(table('m'), { tid: 'x', k: 'a|0|["b"]' });
    expect(entry?.lookup.key).not.toContain('|');
    expect(JSON.parse(entry!.lookup.key)).toEqual(['lookup', '0', 'a|0|["b"]']);
  });

  it('request data IN a subquery that adds no bucket parameter is an existence gate', async () => {
    const rules = streamsFrom(`streams:
  admin_posts:
    auto_subscribe: true
    query: SELECT * FROM posts WHERE auth.user_id() IN (SELECT id FROM admins)
  synced:
    auto_subscribe: true
    query: SELECT * FROM posts WHERE 'posts' IN (SELECT table_name FROM synced_table WHERE "user" = auth.user_id())
`);
    const index = new MemoryIndex(rules);
    index.put(table('admins'), 'boss', { id: 'boss' });
    index.put(table('synced_table'), '1', { table_name: 'posts', user: 'fan' });
    index.put(table('synced_table'), '2', { table_name: 'comments', user: 'other' });
    const resolve = async (user: string) => bucketIds(await rules.createQuerier(request(user)).resolveBuckets(index.source));
    expect(await resolve('boss')).toEqual(['1#admin_posts|0[]']);
    expect(await resolve('fan')).toEqual(['1#synced|0[]']);
    expect(await resolve('other')).toEqual([]);
    expect(await resolve('nobody')).toEqual([]);
    expect(rules.evaluateRow(table('posts'), { id: 'p' }).map((r) => r.bucket).sort()).toEqual(['1#admin_posts|0[]', '1#synced|0[]']);
  });

  it('row metadata: table_suffix() of a wildcard table partitions by suffix; schema() and table_name() read the replicated table', async () => {
    const rules = streamsFrom(`streams:
  by_suffix:
    query: SELECT * FROM "user%" users WHERE auth.parameter('p') IN users.table_suffix()
  by_schema:
    query: SELECT * FROM tenant_a.comments WHERE comments.schema() = auth.parameter('tenant_schema') AND comments.table_name() = 'comments'
`);
    expect(rules.evaluateRow(table('user["foo","bar"]'), { id: 'x' }).map((r) => r.bucket)).toEqual(['1#by_suffix|0["foo"]', '1#by_suffix|0["bar"]']);
    expect(rules.evaluateRow(table('comments', 'tenant_a'), { id: 'c' }).map((r) => r.bucket)).toEqual(['1#by_schema|0["tenant_a"]']);
    const q = rules.createQuerier(request('u', { jwtClaims: { sub: 'u', p: 'foo', tenant_schema: 'tenant_a' } }, subscribe(['by_suffix'], ['by_schema'])));
    expect(bucketIds(await q.resolveBuckets(async (ls) => ls.map(() => [])))).toEqual(['1#by_schema|0["tenant_a"]', '1#by_suffix|0["foo"]']);
  });

  it('&& (arrays overlap) with a parameter array or a subquery partitions by array element', async () => {
    const rules = streamsFrom(`streams:
  by_param:
    query: SELECT * FROM posts WHERE tags && subscription.parameter('tags')
  followed:
    auto_subscribe: true
    query: SELECT * FROM posts WHERE tags && (SELECT tag FROM follows WHERE user_id = auth.user_id())
`);
    expect(rules.evaluateRow(table('posts'), { id: 'p', tags: '["a","b"]' }).map((r) => r.bucket)).toEqual([
      '1#by_param|0["a"]',
      '1#by_param|0["b"]',
      '1#followed|0["a"]',
      '1#followed|0["b"]',
    ]);
    const index = new MemoryIndex(rules);
    index.put(table('follows'), 'f', { user_id: 'me', tag: 'b' });
    const q = rules.createQuerier(request('me', {}, subscribe(['by_param', { tags: ['b', 'c'] }])));
    expect(bucketIds(await q.resolveBuckets(index.source))).toEqual(['1#by_param|0["b"]', '1#by_param|0["c"]', '1#followed|0["b"]']);
  });

  it('&& cte is shorthand for && (SELECT <its column> FROM cte), like IN cte (not a row column of that name)', async () => {
    const rules = streamsFrom(`streams:
  followed:
    auto_subscribe: true
    with:
      my_tags: SELECT tag FROM follows WHERE user_id = auth.user_id()
    query: SELECT * FROM posts WHERE tags && my_tags
`);
    expect(rules.evaluateRow(table('posts'), { id: 'p', tags: '["a","b"]' }).map((r) => r.bucket)).toEqual(['1#followed|0["a"]', '1#followed|0["b"]']);
    const index = new MemoryIndex(rules);
    index.put(table('follows'), 'f', { user_id: 'me', tag: 'b' });
    expect(bucketIds(await rules.createQuerier(request('me')).resolveBuckets(index.source))).toEqual(['1#followed|0["b"]']);
  });

  it('a CTE can be the synced source: SELECT * FROM cte', () => {
    const rules = streamsFrom(`streams:
  s:
    with:
      mine: SELECT id, upper(title) AS title FROM todos WHERE owner = auth.user_id()
    query: SELECT * FROM mine
`);
    expect(rules.evaluateRow(table('todos'), { id: 't', title: 'x', owner: 'me' })).toEqual([
      { bucket: '1#s|0["me"]', table: 'todos', id: 't', data: '{"id":"t","title":"X"}' },
    ]);
  });

  it('migration-tool shape: comma-joined parameter CTEs OR-ed together keep each branch independent of the other CTE', async () => {
    const rules = streamsFrom(`with:
  user_lists_param0: SELECT id AS list_id FROM lists WHERE owner_id = auth.user_id()
  user_lists_param1: SELECT list_id FROM shares WHERE user_id = auth.user_id()
streams:
  migrated_to_streams:
    auto_subscribe: true
    queries:
      - SELECT lists.* FROM lists,user_lists_param0 AS bucket0,user_lists_param1 AS bucket1 WHERE lists.id = bucket0.list_id OR lists.id = bucket1.list_id
`);
    const index = new MemoryIndex(rules);
    index.put(table('lists'), 'l1', { id: 'l1', owner_id: 'owner' });
    index.put(table('shares'), 's1', { list_id: 'l2', user_id: 'guest' });
    const resolve = async (user: string) => bucketIds(await rules.createQuerier(request(user)).resolveBuckets(index.source));
    // The owner has no share rows and the guest owns nothing: each still gets its branch.
    expect(await resolve('owner')).toEqual(['1#migrated_to_streams|0["l1"]']);
    expect(await resolve('guest')).toEqual(['1#migrated_to_streams|1["l2"]']);
    expect(rules.evaluateRow(table('lists'), { id: 'l1', owner_id: 'owner' }).map((r) => r.bucket)).toEqual([
      '1#migrated_to_streams|0["l1"]',
      '1#migrated_to_streams|1["l1"]',
    ]);
  });

  it('migration-tool shape: json_each parameter CTE joined as bucket, auth.parameters() ->> claim', () => {
    const rules = streamsFrom(`with:
  by_ids_param0: SELECT value AS id FROM json_each(auth.parameters() -> 'ids')
streams:
  migrated_to_streams:
    auto_subscribe: true
    queries:
      - SELECT todos.* FROM todos, by_ids_param0 AS bucket WHERE todos.list_id = bucket.id
      - SELECT * FROM orgs WHERE id = auth.parameters() ->> 'org'
`);
    const q = rules.createQuerier(request('u', { jwtClaims: { sub: 'u', ids: ['a', 'b'], org: 'o1' } }));
    expect(bucketIds(q.staticBuckets)).toEqual(['1#migrated_to_streams|0["a"]', '1#migrated_to_streams|0["b"]', '1#migrated_to_streams|1["o1"]']);
    expect(rules.evaluateRow(table('todos'), { id: 't', list_id: 'a' })[0]?.bucket).toBe('1#migrated_to_streams|0["a"]');
  });
});

