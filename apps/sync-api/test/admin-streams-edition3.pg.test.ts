/**
 * The admin inspection of an edition-3 (Sync Streams) config against a real server with real
 * replication: per-subscription buckets, reasons, priorities and errors; "why (not) this row" for a
 * subscription stream, a JOIN stream and an IN-subquery stream (with the lookups the joined rows
 * feed); per-stream impact for sample users with subscription parameters; validation located in
 * the YAML; history and diff of streams. Needs the edition-3 compiler (`streams:`).
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
const LEGACY = `
bucket_definitions:
  user_lists:
    priority: 1
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
`;
const STREAMS = `config:
  edition: 3
streams:
  my_lists:
    auto_subscribe: true
    priority: 1
    query: SELECT * FROM lists WHERE owner_id = auth.user_id()
  list_todos:
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list_id')
  owned_todos:
    auto_subscribe: true
    query: SELECT todos.* FROM todos JOIN lists ON todos.list_id = lists.id WHERE lists.owner_id = auth.user_id()
  sub_todos:
    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE owner_id = auth.user_id())
`;

let server: TestServer;
let legacy: number;
let v: number;
let trpc: ReturnType<typeof createTRPCClient<AdminRouter>>;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  trpc = createTRPCClient<AdminRouter>({
    links: [httpBatchLink({ url: `${server.url}/api/trpc`, headers: { authorization: `Bearer ${server.adminToken}` } })],
  });
  legacy = await server.deploy(LEGACY);
  await server.waitActive(legacy);
  v = await server.deploy(STREAMS);
  await server.waitActive(v);
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const streamsOf = (buckets: Array<{ stream: string }>) => [...new Set(buckets.map((b) => b.stream))].sort();

describe('edition-3 rules in the editor', () => {
  it('validates streams, with diagnostics at their line and column', async () => {
    const ok = await trpc.syncRules.validate.query({ content: STREAMS });
    expect(ok.valid).toBe(true);
    expect(ok.outline.edition).toBe(3);
    const bad = await trpc.syncRules.validate.query({ content: STREAMS.replace('    priority: 1\n', '    priority: 4\n') });
    expect(bad.valid).toBe(false);
    expect(bad.issues.find((i) => i.level === 'fatal')?.location?.line).toBe(6);
  });
});

describe('user inspection with subscriptions', () => {
  it('shows per subscription the buckets, the reason, the priority and errors', async () => {
    const u1 = await trpc.users.inspect.query({
      userId: 'u1',
      subscriptions: [{ stream: 'list_todos', parameters: { list_id: 'l2' }, overridePriority: 0 }, { stream: 'no_such_stream' }, { stream: 'list_todos', parameters: { list_id: 'l1' } }],
    });
    expect(u1.versionId).toBe(v);
    expect(u1.subscriptions[0]).toMatchObject({ stream: 'list_todos', known: true, priority: 0, errors: [] });
    expect(u1.subscriptions[0]!.buckets).toHaveLength(1);
    expect(u1.subscriptions[1]).toMatchObject({ known: false, buckets: [] });
    expect(u1.subscriptions[2]!.buckets).toHaveLength(1);
    const l2 = u1.buckets.find((b) => b.bucket === u1.subscriptions[0]!.buckets[0]);
    expect(l2).toMatchObject({ stream: 'list_todos', priority: 0, reasons: ['sub 0'], liveRows: 20 });
    expect(l2!.bucket).toMatch(new RegExp(`^${v}#list_todos\\|\\d+\\["l2"\\]$`));
    expect(streamsOf(u1.buckets)).toEqual(['list_todos', 'my_lists', 'owned_todos']);
    expect(u1.defaults.map((d) => d.stream).sort()).toEqual(['my_lists', 'owned_todos']);
    expect(u1.buckets.find((b) => b.stream === 'my_lists')).toMatchObject({ priority: 1, reasons: ['default'] });
    expect(u1.streams.map((s) => s.name)).toContain('list_todos');
    expect(u1.streams.map((s) => s.name)).not.toContain('no_such_stream');
  });

  it('drops the defaults with include_defaults: false', async () => {
    const u1 = await trpc.users.inspect.query({ userId: 'u1', includeDefaults: false, subscriptions: [{ stream: 'sub_todos' }] });
    expect(streamsOf(u1.buckets)).toEqual(['sub_todos']);
    expect(u1.buckets[0]).toMatchObject({ reasons: ['sub 0'], liveRows: 20 });
    expect(u1.lookups.flatMap((l) => l.sources)).toContainEqual({ schema: 'public', table: 'lists', id: 'l1' });
    expect(u1.defaults).toEqual([]);
  });
});

describe('why (not) this row for streams', () => {
  it('gives a verdict per stream: subscribed, not subscribed, JOIN and subquery paths', async () => {
    const why = await trpc.users.explainRow.query({ userId: 'u1', subscriptions: [{ stream: 'list_todos', parameters: { list_id: 'l2' } }], row: { table: 'todos', id: 't2' } });
    const byName = Object.fromEntries(why.definitions.map((d) => [d.definition, d]));
    expect(why.visible).toBe(true);
    expect(byName.owned_todos).toMatchObject({ kind: 'stream', verdict: 'in-bucket' });
    expect(byName.owned_todos!.lookups.length).toBeGreaterThan(0);
    expect(byName.list_todos).toMatchObject({ verdict: 'different-parameters' });
    expect(byName.sub_todos).toMatchObject({ verdict: 'not-subscribed' });
    expect(byName.my_lists).toMatchObject({ verdict: 'no-bucket-for-row' });
    expect(byName.list_todos!.queries?.data[0]).toContain("subscription.parameter('list_id')");
  });

  it('shows the lookups a joined row feeds and that the user read them', async () => {
    const why = await trpc.users.explainRow.query({ userId: 'u1', includeDefaults: false, subscriptions: [{ stream: 'sub_todos' }], row: { table: 'lists', id: 'l1' } });
    const sub = why.definitions.find((d) => d.definition === 'sub_todos')!;
    expect(sub.verdict).toBe('no-bucket-for-row');
    expect(sub.rowFeeds.some((f) => f.readByUser)).toBe(true);
    expect(sub.message).toContain('feeds the parameter lookup');
  });
});

describe('impact preview per stream with subscription parameters', () => {
  it('counts each sample user’s buckets and rows per stream', async () => {
    const impact = await trpc.syncRules.impact.mutate({
      content: STREAMS,
      users: [{ userId: 'u1', subscriptions: [{ stream: 'list_todos', parameters: { list_id: 'l2' } }] }, { userId: 'u2', includeDefaults: false }],
    });
    expect(impact.definitions.map((d) => [d.definition, d.kind, d.autoSubscribe, d.status])).toEqual([
      ['list_todos', 'stream', false, 'unchanged'],
      ['my_lists', 'stream', true, 'unchanged'],
      ['owned_todos', 'stream', true, 'unchanged'],
      ['sub_todos', 'stream', false, 'unchanged'],
    ]);
    const u1 = Object.fromEntries(impact.users[0]!.streams.map((s) => [s.stream, s]));
    expect(u1.list_todos).toMatchObject({ candidate: { buckets: 1, rows: 20 }, reasons: ['sub 0'] });
    expect(u1.my_lists).toMatchObject({ candidate: { buckets: 1, rows: 1 }, reasons: ['default'] });
    expect(u1.owned_todos).toMatchObject({ candidate: { buckets: 1, rows: 20 } });
    expect(impact.users[1]!.streams.every((s) => (s.candidate?.buckets ?? 0) === 0)).toBe(true);
  });
});

describe('history and diff of streams', () => {
  it('lists the streams of each version and what changed', async () => {
    const history = await trpc.syncRules.history.query({ limit: 5 });
    expect(history.find((h) => h.id === v)!.outline).toEqual({
      edition: 3,
      streams: [
        { name: 'my_lists', kind: 'stream', autoSubscribe: true, priority: 1, queries: 1 },
        { name: 'list_todos', kind: 'stream', autoSubscribe: false, priority: null, queries: 1 },
        { name: 'owned_todos', kind: 'stream', autoSubscribe: true, priority: null, queries: 1 },
        { name: 'sub_todos', kind: 'stream', autoSubscribe: false, priority: null, queries: 1 },
      ],
    });
    const diff = await trpc.syncRules.diff.query({ from: legacy, to: v });
    expect(diff.edition).toEqual({ from: 1, to: 3 });
    expect(diff.streams.map((s) => [s.name, s.status])).toEqual([
      ['my_lists', 'added'],
      ['list_todos', 'added'],
      ['owned_todos', 'added'],
      ['sub_todos', 'added'],
      ['user_lists', 'removed'],
    ]);
  });
});
