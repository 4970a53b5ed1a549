import { describe, expect, it } from 'vitest';
import { opChecksumPut, parseBucketId } from '@syncline/protocol';
import { compileSyncRules } from '../../src/sync-rules/compile.ts';
import { TooManyBucketsError } from '../../src/sync-rules/errors.ts';
import type { ParameterLookupSource, RequestParameters, SqliteRow } from '../../src/sync-rules/types.ts';
import { REQUEST, rulesFrom, todos } from './helpers.ts';

const lists = { schema: 'public', name: 'lists' };
const noLookups: ParameterLookupSource = async (ls) => ls.map(() => []);

describe('data queries', () => {
  it('puts a global bucket row with * (dropping _ columns and blobs) into name[]', () => {
    const rules = rulesFrom('bucket_definitions:\n  global:\n    data:\n      - SELECT * FROM todos');
    const row: SqliteRow = { id: 't1', description: 'Test 1', _internal: 1n, photo: new Uint8Array([1]) };
    expect(rules.evaluateRow(todos, row)).toEqual([{ bucket: '1#global[]', table: 'todos', id: 't1', data: '{"id":"t1","description":"Test 1"}' }]);
  });

  it('reproduces the reference checksum of a row through evaluation', () => {
    const rules = rulesFrom('config: { versioned_bucket_ids: false }\nbucket_definitions:\n  mybucket:\n    data: [SELECT * FROM test]');
    const [out] = rules.evaluateRow({ schema: 'public', name: 'test' }, { id: 't1', description: 'Test\n"string"', large_num: 12345678901234567890n });
    expect(out?.bucket).toBe('mybucket[]');
    expect(out?.data).toBe('{"id":"t1","description":"Test\\n\\"string\\"","large_num":12345678901234567890}');
    expect(opChecksumPut(out!.table, out!.id, out!.data)).toBe(3442149460);
  });

  it('keeps query column order, aliases and whole REALs as N.0', () => {
    const rules = rulesFrom(
      'bucket_definitions:\n  g:\n    data:\n      - SELECT description AS text, id, price * 1.0 AS price, upper(description) AS up FROM todos',
    );
    const [out] = rules.evaluateRow(todos, { id: 't1', description: 'a', price: 3n });
    expect(out?.data).toBe('{"text":"a","id":"t1","price":3.0,"up":"A"}');
  });

  it('uses the alias as output table, the real name for unaliased wildcard tables', () => {
    const rules = rulesFrom(
      'bucket_definitions:\n  g:\n    data:\n      - SELECT * FROM "todos_%"\n      - SELECT id FROM "items_%" AS items\n      - SELECT id FROM public.lists AS my_lists',
    );
    expect(rules.evaluateRow({ schema: 'public', name: 'todos_2024' }, { id: 'a' })[0]?.table).toBe('todos_2024');
    expect(rules.evaluateRow({ schema: 'public', name: 'items_x' }, { id: 'a' })[0]?.table).toBe('items');
    expect(rules.evaluateRow(lists, { id: 'a' })[0]?.table).toBe('my_lists');
    expect(rules.evaluateRow({ schema: 'other', name: 'todos_1' }, { id: 'a' })).toEqual([]);
  });

  it('turns ids into text and uses "" when there is no id', () => {
    const rules = rulesFrom('bucket_definitions:\n  g:\n    data:\n      - SELECT * FROM todos');
    expect(rules.evaluateRow(todos, { id: 42n })[0]?.id).toBe('42');
    expect(rules.evaluateRow(todos, { id: 1.5 })[0]?.id).toBe('1.5');
    expect(rules.evaluateRow(todos, { id: null })[0]?.id).toBe('');
    expect(rules.evaluateRow(todos, { name: 'x' })[0]?.id).toBe('');
  });

  it('matches bucket parameters with = (NULL never matches) and with IN over a JSON array', () => {
    const rules = rulesFrom(`
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT * FROM todos WHERE owner_id = bucket.owner
  by_tag:
    parameters: SELECT value AS tag FROM json_each(request.jwt() -> 'tags')
    data:
      - SELECT id FROM todos WHERE bucket.tag IN tags
`);
    expect(rules.evaluateRow(todos, { id: 't1', owner_id: 'u1', tags: '["a","b",null,"a",1]' }).map((r) => r.bucket)).toEqual([
      '1#by_owner["u1"]',
      '1#by_tag["a"]',
      '1#by_tag["b"]',
      '1#by_tag[1]',
    ]);
    expect(rules.evaluateRow(todos, { id: 't1', owner_id: null, tags: 'nope' })).toEqual([]);
  });

  it('combines AND, OR and row-only filters', () => {
    const rules = rulesFrom(`
bucket_definitions:
  b:
    parameters: SELECT request.user_id() AS u, request.jwt() ->> 'org' AS o
    data:
      - SELECT id FROM todos WHERE (owner = bucket.u OR assignee = bucket.u) AND org = bucket.o AND archived = 0
`);
    const buckets = (row: SqliteRow) => rules.evaluateRow(todos, row).map((r) => r.bucket);
    expect(buckets({ id: 't', owner: 'a', assignee: 'b', org: 'o', archived: 0n })).toEqual(['1#b["a","o"]', '1#b["b","o"]']);
    expect(buckets({ id: 't', owner: 'a', assignee: 'a', org: 'o', archived: 0n })).toEqual(['1#b["a","o"]']);
    expect(buckets({ id: 't', owner: 'a', assignee: 'b', org: 'o', archived: 1n })).toEqual([]);
    expect(buckets({ id: 't', owner: 'a', assignee: 'b', org: null, archived: 0n })).toEqual([]);
  });

  it('requires the same value when a parameter is matched twice', () => {
    const rules = rulesFrom(`
bucket_definitions:
  b:
    parameters: SELECT request.user_id() AS u
    data:
      - SELECT id FROM todos WHERE owner = bucket.u AND creator = bucket.u
`);
    expect(rules.evaluateRow(todos, { id: 't', owner: 'a', creator: 'a' })).toHaveLength(1);
    expect(rules.evaluateRow(todos, { id: 't', owner: 'a', creator: 'b' })).toHaveLength(0);
    expect(rules.evaluateRow(todos, { id: 't', owner: 1n, creator: 1.0 })).toHaveLength(1);
    expect(rules.evaluateRow(todos, { id: 't', owner: 1n, creator: '1' })).toHaveLength(0);
  });

  it('prints integer and real parameters identically in bucket ids', () => {
    const rules = rulesFrom('bucket_definitions:\n  b:\n    parameters: SELECT request.jwt() ->> \'n\' AS n\n    data: [SELECT id FROM todos WHERE n = bucket.n]');
    expect(rules.evaluateRow(todos, { id: 'a', n: 5 })[0]?.bucket).toBe('1#b[5]');
    expect(rules.evaluateRow(todos, { id: 'a', n: 5n })[0]?.bucket).toBe('1#b[5]');
  });

  it('de-duplicates (bucket, table, id) from several queries, last wins', () => {
    const rules = rulesFrom('bucket_definitions:\n  g:\n    data:\n      - SELECT id, 1 AS v FROM todos\n      - SELECT id, 2 AS v FROM todos');
    expect(rules.evaluateRow(todos, { id: 'a' })).toEqual([{ bucket: '1#g[]', table: 'todos', id: 'a', data: '{"id":"a","v":2}' }]);
  });

  it('lists source tables and which tables feed data or parameters', () => {
    const rules = rulesFrom(`
bucket_definitions:
  by_list:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
      - SELECT * FROM lists WHERE id = bucket.list_id
  w:
    data: [SELECT * FROM "log_%"]
`);
    expect(rules.sourceTables()).toEqual([
      { schema: 'public', tablePattern: 'todos', isWildcard: false },
      { schema: 'public', tablePattern: 'lists', isWildcard: false },
      { schema: 'public', tablePattern: 'log_', isWildcard: true },
    ]);
    expect(rules.tableMatches(lists)).toEqual({ data: true, parameters: true });
    expect(rules.tableMatches(todos)).toEqual({ data: true, parameters: false });
    expect(rules.tableMatches({ schema: 'public', name: 'log_1' })).toEqual({ data: true, parameters: false });
    expect(rules.tableMatches({ schema: 'public', name: 'other' })).toEqual({ data: false, parameters: false });
  });
});

describe('editions', () => {
  const yaml = (config: string) => `${config}\nbucket_definitions:\n  g:\n    data:\n      - SELECT id, doc ->> 'a.b' AS v FROM todos`;
  it('defaults to edition 2 (fixed JSON extract, ISO timestamps, versioned ids)', () => {
    const rules = rulesFrom(yaml(''), { versionId: 7 });
    expect(rules.edition).toBe(2);
    expect(rules.valueOptions).toMatchObject({ timestampsIso8601: true, customPostgresTypes: true });
    expect(rules.evaluateRow(todos, { id: 'a', doc: '{"a.b":1,"a":{"b":2}}' })).toEqual([{ bucket: '7#g[]', table: 'todos', id: 'a', data: '{"id":"a","v":1}' }]);
  });

  it('gives legacy behaviour with edition 1 (still versioned ids under storage version 2)', () => {
    const rules = rulesFrom(yaml('config:\n  edition: 1'), { versionId: 7 });
    expect(rules.edition).toBe(1);
    expect(rules.valueOptions.timestampsIso8601).toBe(false);
    expect(rules.evaluateRow(todos, { id: 'a', doc: '{"a.b":1,"a":{"b":2}}' })[0]).toMatchObject({ bucket: '7#g[]', data: '{"id":"a","v":2}' });
  });

  it('lets individual flags override the edition', () => {
    const rules = rulesFrom(yaml('config:\n  edition: 1\n  fixed_json_extract: true\n  versioned_bucket_ids: false'), { versionId: 7 });
    expect(rules.evaluateRow(todos, { id: 'a', doc: '{"a.b":1}' })[0]).toMatchObject({ bucket: 'g[]', data: '{"id":"a","v":1}' });
    const iso = rulesFrom(yaml('config:\n  timestamps_iso8601: false'));
    expect(iso.edition).toBe(2);
    expect(iso.valueOptions.timestampsIso8601).toBe(false);
  });
});

describe('parameter queries and bucket resolution', () => {
  const yaml = `
bucket_definitions:
  global:
    priority: 0
    data: [SELECT * FROM settings]
  mine:
    parameters: SELECT request.user_id() AS user_id
    data: [SELECT * FROM todos WHERE owner_id = bucket.user_id]
  admin:
    parameters: SELECT 'all' AS scope WHERE request.jwt() ->> 'role' = 'admin'
    data: [SELECT * FROM audit WHERE 'all' = bucket.scope]
  by_list:
    priority: 2
    parameters:
      - SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
      - SELECT list_id, 1 AS _priority FROM shares WHERE user_id = request.user_id() AND active
    data: [SELECT * FROM todos WHERE list_id = bucket.list_id]
  projects:
    parameters: SELECT value AS project FROM json_each(request.jwt() -> 'ids')
    data: [SELECT * FROM todos WHERE project = bucket.project]
`;

  it('resolves static buckets from the request alone', () => {
    const q = rulesFrom(yaml).createQuerier(REQUEST);
    expect(q.staticBuckets).toEqual([
      { bucket: '1#global[]', priority: 0, definition: 'global', reasons: [{ default: 0 }] },
      { bucket: '1#mine["u1"]', priority: 3, definition: 'mine', reasons: [{ default: 1 }] },
      { bucket: '1#admin["all"]', priority: 3, definition: 'admin', reasons: [{ default: 2 }] },
      { bucket: '1#projects[1]', priority: 3, definition: 'projects', reasons: [{ default: 4 }] },
      { bucket: '1#projects[2]', priority: 3, definition: 'projects', reasons: [{ default: 4 }] },
    ]);
    const other = rulesFrom(yaml).createQuerier({ ...REQUEST, jwtClaims: { sub: 'u1', role: 'user' } });
    expect(other.staticBuckets.map((b) => b.definition)).toEqual(['global', 'mine']);
  });

  it('lets a client subscribe to a legacy definition by name: {sub: i} reasons, its override priority, also without defaults', async () => {
    const streams = (includeDefaults: boolean) => ({
      includeDefaults,
      subscriptions: [
        { stream: 'mine', parameters: {}, overridePriority: 1 as const },
        { stream: 'nope', parameters: {}, overridePriority: null },
        { stream: 'by_list', parameters: {}, overridePriority: null },
      ],
    });
    const withDefaults = rulesFrom(yaml).createQuerier({ ...REQUEST, streams: streams(true) });
    expect(withDefaults.streams.map((s) => s.name)).toEqual(['global', 'mine', 'admin', 'by_list', 'projects']);
    expect(withDefaults.staticBuckets.find((b) => b.bucket === '1#mine["u1"]')).toEqual({ bucket: '1#mine["u1"]', priority: 1, definition: 'mine', reasons: [{ sub: 0 }, { default: 1 }] });
    const dynamic = await withDefaults.resolveBuckets(async (ls) => ls.map((l) => (l.queryId === '0' ? [{ list_id: 'l1' }] : [])));
    expect(dynamic.find((b) => b.bucket === '1#by_list["l1"]')?.reasons).toEqual([{ sub: 2 }, { default: 3 }]);

    const onlySubscribed = rulesFrom(yaml).createQuerier({ ...REQUEST, streams: streams(false) });
    expect(onlySubscribed.streams).toEqual([
      { name: 'mine', isDefault: true, errors: [] },
      { name: 'by_list', isDefault: true, errors: [] },
    ]);
    expect(onlySubscribed.staticBuckets).toEqual([{ bucket: '1#mine["u1"]', priority: 1, definition: 'mine', reasons: [{ sub: 0 }] }]);
    const resolved = await onlySubscribed.resolveBuckets(async (ls) => ls.map((l) => (l.queryId === '0' ? [{ list_id: 'l1' }] : [])));
    expect(resolved.map((b) => [b.bucket, b.priority, b.reasons])).toEqual([
      ['1#mine["u1"]', 1, [{ sub: 0 }]],
      ['1#by_list["l1"]', 2, [{ sub: 2 }]],
    ]);
  });

  it('indexes parameter rows at replication time, with tombstones for rows that stop qualifying', () => {
    const rules = rulesFrom(yaml);
    expect(rules.evaluateParameterRow(lists, { id: 'l1', owner_id: 'u1' })).toEqual([
      { lookup: { key: 'by_list|0|["u1"]', definition: 'by_list', queryId: '0', values: ['u1'] }, bucketParameters: [{ list_id: 'l1' }] },
    ]);
    const shares = { schema: 'public', name: 'shares' };
    expect(rules.evaluateParameterRow(shares, { list_id: 'l2', user_id: 'u1', active: 1n })[0]?.bucketParameters).toEqual([{ list_id: 'l2' }]);
    expect(rules.evaluateParameterRow(shares, { list_id: 'l2', user_id: 'u1', active: 0n })).toEqual([
      { lookup: { key: 'by_list|1|["u1"]', definition: 'by_list', queryId: '1', values: ['u1'] }, bucketParameters: [] },
    ]);
    expect(rules.evaluateParameterRow(shares, { list_id: null, user_id: 'u1', active: 1n })[0]?.bucketParameters).toEqual([]);
    expect(rules.evaluateParameterRow(lists, { id: 'l1', owner_id: null })).toEqual([]);
  });

  it('looks up dynamic buckets, merges priorities (lowest wins) and de-duplicates', async () => {
    const q = rulesFrom(yaml).createQuerier(REQUEST);
    expect(q.hasDynamicBuckets).toBe(true);
    expect(q.lookups.map((l) => l.key)).toEqual(['by_list|0|["u1"]', 'by_list|1|["u1"]']);
    const buckets = await q.resolveBuckets(async (ls) => ls.map((l) => (l.queryId === '0' ? [{ list_id: 'l1' }, { list_id: 'l2' }] : [{ list_id: 'l2' }])));
    expect(buckets.filter((b) => b.definition === 'by_list')).toEqual([
      { bucket: '1#by_list["l1"]', priority: 2, definition: 'by_list', reasons: [{ default: 3 }] },
      { bucket: '1#by_list["l2"]', priority: 1, definition: 'by_list', reasons: [{ default: 3 }] },
    ]);
  });

  it('supports IN, && and request outputs in table-based queries', async () => {
    const rules = rulesFrom(`
bucket_definitions:
  b:
    parameters:
      - SELECT id AS org, request.user_id() AS usr FROM orgs WHERE id IN request.jwt() -> 'orgs'
      - SELECT id AS org, request.user_id() AS usr FROM orgs WHERE request.user_id() IN members
      - SELECT id AS org, request.user_id() AS usr FROM orgs WHERE tags && request.jwt() -> 'tags'
    data: [SELECT * FROM todos WHERE org_id = bucket.org AND owner = bucket.usr]
`);
    const orgs = { schema: 'public', name: 'orgs' };
    const keys = rules.evaluateParameterRow(orgs, { id: 'o1', members: '["u1","u2"]', tags: '["t"]' }).map((e) => e.lookup.key);
    expect(keys).toEqual(['b|0|["o1"]', 'b|1|["u1"]', 'b|1|["u2"]', 'b|2|["t"]']);
    const request: RequestParameters = { userId: 'u1', jwtClaims: { orgs: ['o1', 'o2'], tags: ['t', 't'] }, clientParameters: {} };
    const q = rules.createQuerier(request);
    expect(q.lookups.map((l) => l.key)).toEqual(['b|0|["o1"]', 'b|0|["o2"]', 'b|1|["u1"]', 'b|2|["t"]']);
    const buckets = await q.resolveBuckets(async (ls) => ls.map((l) => (l.key === 'b|0|["o1"]' ? [{ org: 'o1' }] : [])));
    expect(buckets).toEqual([{ bucket: '1#b["o1","u1"]', priority: 3, definition: 'b', reasons: [{ default: 0 }] }]);
  });

  it('splits ORs of matches into separate lookup branches and keeps request-only filters', async () => {
    const rules = rulesFrom(`
bucket_definitions:
  b:
    parameters: SELECT id AS list_id FROM lists WHERE (owner_id = request.user_id() OR editor_id = request.user_id()) AND request.jwt() ->> 'role' = 'admin' AND (archived = 0 OR archived IS NULL)
    data: [SELECT * FROM todos WHERE list_id = bucket.list_id]
`);
    expect(rules.evaluateParameterRow(lists, { id: 'l', owner_id: 'a', editor_id: 'b', archived: null }).map((e) => [e.lookup.key, e.bucketParameters.length])).toEqual([
      ['b|0.0|["a"]', 1],
      ['b|0.1|["b"]', 1],
    ]);
    expect(rules.createQuerier(REQUEST).lookups.map((l) => l.key)).toEqual(['b|0.0|["u1"]', 'b|0.1|["u1"]']);
    expect(rules.createQuerier({ ...REQUEST, jwtClaims: {} }).lookups).toEqual([]);
  });

  it('treats a table query without request values as one shared lookup', async () => {
    const rules = rulesFrom(`
bucket_definitions:
  public_lists:
    parameters: SELECT id AS list_id FROM lists WHERE public
    data: [SELECT * FROM todos WHERE list_id = bucket.list_id]
`);
    expect(rules.evaluateParameterRow(lists, { id: 'l1', public: 1n })[0]?.lookup.key).toBe('public_lists|0|[]');
    const q = rules.createQuerier(REQUEST);
    expect(q.lookups.map((l) => l.key)).toEqual(['public_lists|0|[]']);
    expect(await q.resolveBuckets(async () => [[{ list_id: 'l1' }]])).toEqual([{ bucket: '1#public_lists["l1"]', priority: 3, definition: 'public_lists', reasons: [{ default: 0 }] }]);
  });

  it('skips buckets whose parameters are NULL', () => {
    const rules = rulesFrom("bucket_definitions:\n  b:\n    parameters: SELECT request.jwt() ->> 'missing' AS x\n    data: [SELECT * FROM todos WHERE x = bucket.x]");
    expect(rules.createQuerier(REQUEST).staticBuckets).toEqual([]);
  });

  it('supports legacy token_parameters and user_parameters', () => {
    const rules = rulesFrom(`
bucket_definitions:
  b:
    accept_potentially_dangerous_queries: true
    parameters: SELECT token_parameters.team AS team, user_parameters.list AS list
    data: [SELECT * FROM todos WHERE team = bucket.team AND list = bucket.list]
`);
    expect(rules.createQuerier(REQUEST).staticBuckets.map((b) => b.bucket)).toEqual(['1#b["t1","l1"]']);
  });

  it('fails with TooManyBucketsError naming the biggest definitions and the setting', async () => {
    const rules = rulesFrom(yaml, { maxBuckets: 4 });
    const q = rules.createQuerier(REQUEST);
    const source: ParameterLookupSource = async (ls) => ls.map(() => [{ list_id: 'a' }, { list_id: 'b' }, { list_id: 'c' }]);
    const error = await q.resolveBuckets(source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooManyBucketsError);
    const e = error as TooManyBucketsError;
    expect(e.code).toBe('SYNC_TOO_MANY_BUCKETS');
    expect(e.bucketCount).toBe(8);
    expect(e.countsByDefinition[0]).toEqual({ definition: 'by_list', buckets: 3 });
    expect(e.message).toMatch(/8 buckets, above the limit of 4/);
    expect(e.message).toMatch(/by_list \(3\), projects \(2\)/);
    expect(e.message).toMatch(/max_buckets_per_connection/);
  });

  it('defaults to a limit of 10,000 buckets', async () => {
    const rules = rulesFrom("bucket_definitions:\n  b:\n    parameters: SELECT value AS v FROM json_each(request.jwt() -> 'vs')\n    data: [SELECT * FROM t WHERE v = bucket.v]");
    expect(rules.maxBuckets).toBe(10_000);
    const ok = { userId: 'u', jwtClaims: { vs: Array.from({ length: 10_000 }, (_, i) => i) }, clientParameters: {} };
    expect(await rules.createQuerier(ok).resolveBuckets(noLookups)).toHaveLength(10_000);
    const tooMany = { ...ok, jwtClaims: { vs: Array.from({ length: 10_001 }, (_, i) => i) } };
    await expect(rules.createQuerier(tooMany).resolveBuckets(noLookups)).rejects.toThrow(TooManyBucketsError);
  });

  it('produces bucket ids that parse back', () => {
    const rules = rulesFrom(yaml, { versionId: 12 });
    const ids = rules.createQuerier(REQUEST).staticBuckets.map((b) => parseBucketId(b.bucket));
    expect(ids[1]).toEqual({ versionPrefix: 12, definition: 'mine', parameters: ['u1'] });
  });

  it('reports the definitions it compiled', () => {
    const { rules } = compileSyncRules(yaml, { versionId: 1 });
    expect(rules?.definitions.map((d) => [d.name, d.priority, d.bucketParameters, d.hasDynamicBuckets])).toEqual([
      ['global', 0, [], false],
      ['mine', 3, ['user_id'], false],
      ['admin', 3, ['scope'], false],
      ['by_list', 2, ['list_id'], true],
      ['projects', 3, ['project'], false],
    ]);
  });
});
