/**
 * The admin inspection with the Sync Streams request shape, against a real server with real
 * replication and legacy bucket definitions (which behave as default streams): subscriptions and
 * include_defaults in user inspection and row explanations, per-stream impact for sample users,
 * the stream outline in history and diff, and hostile subscription shapes on the REST mirror.
 * The edition-3 counterparts are in admin-streams-edition3.pg.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AdminRouter } from '@syncline/admin';
import { startTestServer, type TestServer } from './support/test-server.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, description text);
  INSERT INTO lists VALUES ('l1', 'u1', 'Groceries'), ('l2', 'u2', 'Work');
  INSERT INTO todos SELECT 't' || i, CASE WHEN i % 2 = 0 THEN 'l1' ELSE 'l2' END, 'Todo ' || i FROM generate_series(1, 40) i;
`;
const RULES = `
bucket_definitions:
  user_lists:
    priority: 1
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const RULES_V2 = `${RULES}  everything:
    data:
      - SELECT id, name FROM lists
`;

let server: TestServer;
let v1: number;
let trpc: ReturnType<typeof createTRPCClient<AdminRouter>>;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  v1 = await server.deploy(RULES);
  await server.waitActive(v1);
  trpc = createTRPCClient<AdminRouter>({
    links: [httpBatchLink({ url: `${server.url}/api/trpc`, headers: { authorization: `Bearer ${server.adminToken}` } })],
  });
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe('user inspection with a streams request', () => {
  it('gives every bucket its reasons and each default stream its buckets', async () => {
    const u1 = await trpc.users.inspect.query({ userId: 'u1' });
    expect(u1.includeDefaults).toBe(true);
    expect(u1.buckets).toEqual([expect.objectContaining({ bucket: `${v1}#user_lists["l1"]`, stream: 'user_lists', priority: 1, reasons: ['default'], liveRows: 21 })]);
    expect(u1.defaults).toEqual([{ stream: 'user_lists', buckets: [`${v1}#user_lists["l1"]`], errors: [] }]);
    expect(u1.streams).toEqual([{ name: 'user_lists', isDefault: true, errors: [] }]);
    expect(u1.subscriptions).toEqual([]);
    // The joined rows behind the lookup: u1's list.
    expect(u1.lookups).toEqual([expect.objectContaining({ values: ['u1'], results: [{ list_id: 'l1' }], sources: [{ schema: 'public', table: 'lists', id: 'l1' }] })]);
  });

  it('drops default streams with include_defaults: false and ignores an unknown stream, as the sync endpoint does', async () => {
    const u1 = await trpc.users.inspect.query({ userId: 'u1', includeDefaults: false, subscriptions: [{ stream: 'no_such_stream', parameters: { id: 1 }, overridePriority: 0 }] });
    expect(u1.buckets).toEqual([]);
    expect(u1.defaults).toEqual([]);
    expect(u1.streams).toEqual([]);
    expect(u1.lookups).toEqual([]);
    expect(u1.subscriptions).toEqual([{ index: 0, stream: 'no_such_stream', parameters: { id: 1 }, overridePriority: 0, known: false, buckets: [], priority: null, errors: [] }]);
  });
});

describe('why (not) this row, per stream', () => {
  it('says the row is not subscribed when the request drops default streams', async () => {
    const why = await trpc.users.explainRow.query({ userId: 'u1', includeDefaults: false, row: { table: 'todos', id: 't2' } });
    expect(why.visible).toBe(false);
    expect(why.definitions).toEqual([expect.objectContaining({ definition: 'user_lists', kind: 'definition', verdict: 'not-subscribed' })]);
    const yes = await trpc.users.explainRow.query({ userId: 'u1', row: { table: 'todos', id: 't2' } });
    expect(yes.definitions[0]).toMatchObject({ verdict: 'in-bucket', userBuckets: [{ bucket: `${v1}#user_lists["l1"]`, reasons: ['default'], priority: 1, parameters: ['l1'] }] });
    expect(yes.definitions[0]!.message).toContain('default');
    expect(yes.definitions[0]!.message).toContain('parameter lookups over lists l1');
  });

  it('shows the parameter lookup a joined row feeds and that the user read it', async () => {
    // lists.l1 is both synced (data query) and the row the parameter query reads for u1.
    const why = await trpc.users.explainRow.query({ userId: 'u1', row: { table: 'lists', id: 'l1' } });
    expect(why.rowFeeds).toEqual([expect.objectContaining({ stream: 'user_lists', bucketParameters: [{ list_id: 'l1' }], readByUser: true })]);
    expect(why.definitions[0]).toMatchObject({ verdict: 'in-bucket', rowFeeds: [expect.objectContaining({ readByUser: true })] });
    expect(why.definitions[0]!.message).toContain('feeds the parameter lookup');
    // For u2 the same row feeds a lookup u2 never reads.
    const other = await trpc.users.explainRow.query({ userId: 'u2', row: { table: 'lists', id: 'l1' } });
    expect(other.rowFeeds[0]!.readByUser).toBe(false);
    expect(other.definitions[0]!.verdict).toBe('different-parameters');
  });
});

describe('impact preview per stream for sample users', () => {
  it('counts buckets and rows per stream for each sample user, candidate vs active', async () => {
    const impact = await trpc.syncRules.impact.mutate({ content: RULES_V2, users: [{ userId: 'u1' }, { userId: 'u2', includeDefaults: false, subscriptions: [{ stream: 'everything' }] }] });
    expect(impact.definitions).toEqual([
      expect.objectContaining({ definition: 'everything', kind: 'definition', autoSubscribe: true, status: 'added', candidate: { buckets: 1, rows: 2 } }),
      expect.objectContaining({ definition: 'user_lists', kind: 'definition', status: 'unchanged', active: { buckets: 2, rows: 42 }, candidate: { buckets: 2, rows: 42 } }),
    ]);
    const [u1, u2] = impact.users;
    expect(u1).toMatchObject({ userId: 'u1', candidateError: null, activeError: null, subscriptions: [] });
    expect(u1!.streams).toEqual([
      { stream: 'user_lists', candidate: { buckets: 1, rows: 21 }, active: { buckets: 1, rows: 21 }, reasons: ['default'] },
      { stream: 'everything', candidate: { buckets: 1, rows: 2 }, active: null, reasons: ['default'] },
    ]);
    // A subscription naming a legacy definition gets its buckets, also without defaults (as PowerSync).
    expect(u2!.streams).toEqual([{ stream: 'everything', candidate: { buckets: 1, rows: 2 }, active: null, reasons: ['sub 0'] }]);
    expect(u2!.subscriptions).toEqual([expect.objectContaining({ index: 0, stream: 'everything' })]);
    expect(u2!.subscriptions[0]!.buckets).toHaveLength(1);
  });
});

describe('history and diff show streams', () => {
  it('outlines each version and says what changed per definition', async () => {
    const v2 = await server.deploy(RULES_V2);
    const history = await trpc.syncRules.history.query({ limit: 5 });
    expect(history.find((h) => h.id === v1)!.outline).toEqual({ edition: 1, streams: [{ name: 'user_lists', kind: 'definition', autoSubscribe: true, priority: 1, queries: 3 }] });
    expect(history.find((h) => h.id === v2)!.outline.streams.map((s) => s.name)).toEqual(['user_lists', 'everything']);
    const diff = await trpc.syncRules.diff.query({ from: v1, to: v2 });
    expect(diff.edition).toEqual({ from: 1, to: 1 });
    expect(diff.streams).toEqual([
      { name: 'user_lists', kind: 'definition', status: 'unchanged', changes: [] },
      { name: 'everything', kind: 'definition', status: 'added', changes: [] },
    ]);
    await server.waitActive(v2);
    v1 = v2;
  });
});

describe('hostile subscription shapes on the REST mirror', () => {
  const bad: Array<[string, unknown]> = [
    ['subscriptions not an array', 'todos'],
    ['stream not a string', [{ stream: 5 }]],
    ['empty stream name', [{ stream: '' }]],
    ['parameters an array', [{ stream: 'todos', parameters: [1, 2] }]],
    ['parameters a string', [{ stream: 'todos', parameters: '{"a":1}' }]],
    ['priority out of range', [{ stream: 'todos', overridePriority: 4 }]],
    ['priority not an integer', [{ stream: 'todos', overridePriority: 1.5 }]],
    ['unknown key', [{ stream: 'todos', ttl: 60 }]],
    ['too many subscriptions', Array.from({ length: 101 }, () => ({ stream: 'todos' }))],
  ];

  it('answers 400 SYNC_BAD_REQUEST and changes nothing stored', async () => {
    const before = { history: await trpc.syncRules.history.query({ limit: 10 }), buckets: await trpc.buckets.list.query({ limit: 100 }) };
    for (const [what, subscriptions] of bad) {
      for (const [path, body] of [
        ['/api/admin/v1/users/inspect', { userId: 'u1', subscriptions }],
        ['/api/admin/v1/users/explain-row', { userId: 'u1', subscriptions, row: { table: 'todos', id: 't2' } }],
        ['/api/admin/v1/sync-rules/impact', { content: RULES, users: [{ userId: 'u1', subscriptions }] }],
      ] as const) {
        const res = await server.admin(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status, `${what} → ${path}`).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code, what).toBe('SYNC_BAD_REQUEST');
      }
    }
    const include = await server.admin('/api/admin/v1/users/inspect', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'u1', includeDefaults: 'no' }) });
    expect(include.status).toBe(400);
    const tooManyUsers = await server.admin('/api/admin/v1/sync-rules/impact', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: RULES, users: Array.from({ length: 21 }, (_, i) => ({ userId: `u${i}` })) }) });
    expect(tooManyUsers.status).toBe(400);
    expect(((await tooManyUsers.json()) as { error: { code: string } }).error.code).toBe('SYNC_BAD_REQUEST');

    const after = { history: await trpc.syncRules.history.query({ limit: 10 }), buckets: await trpc.buckets.list.query({ limit: 100 }) };
    expect(after.history.map((h) => [h.id, h.state])).toEqual(before.history.map((h) => [h.id, h.state]));
    expect(after.buckets).toEqual(before.buckets);
  });

  it('accepts a wire-shaped subscription (null parameters, null priority) over REST', async () => {
    const res = await server.admin('/api/admin/v1/users/inspect', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u1', subscriptions: [{ stream: 'user_lists', parameters: null, overridePriority: null }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { subscriptions: Array<{ parameters: unknown; overridePriority: unknown }> } };
    expect(body.data.subscriptions[0]).toMatchObject({ parameters: {}, overridePriority: null });
  });
});
