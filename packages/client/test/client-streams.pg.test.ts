/**
 * Sync Streams end to end: the client against the real Syncline sync API (child process) and real
 * Postgres with an edition-3 config — an `auto_subscribe` stream syncs without a subscription, a
 * parameterised stream syncs once subscribed, a second subscription reconnects once and keeps
 * every bucket's position, and an unsubscribed stream's rows go once its TTL expires.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { Schema, SynclineDatabase, Table, column, type BackendConnector, type FetchLike } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';

const SOURCE_SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text, done boolean NOT NULL DEFAULT false);
`;
const RULES = `
config:
  edition: 3
streams:
  owned_lists:
    auto_subscribe: true
    priority: 1
    query: SELECT * FROM lists WHERE owner_id = auth.user_id()
  list_todos:
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list')
`;
const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text, done: column.integer }),
});

let server: SyncServerProcess;
const open: SynclineDatabase[] = [];

beforeAll(async () => {
  server = await startSyncServer(inject('pgAdminUrl'), SOURCE_SCHEMA, RULES);
});
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

interface StreamRequestBody {
  buckets: { name: string; after: string }[];
  streams?: { include_defaults: boolean; subscriptions: { stream: string; parameters: Record<string, unknown> | null }[] };
}

/** A fetch that records every sync stream request body. */
function recordingFetch(requests: StreamRequestBody[]): FetchLike {
  return (url, init) => {
    if (url.endsWith('/sync/stream') && typeof init.body === 'string') requests.push(JSON.parse(init.body) as StreamRequestBody);
    return globalThis.fetch(url, init);
  };
}

function connector(user: string): BackendConnector {
  return {
    fetchCredentials: async () => ({ endpoint: server.url, token: server.token(user) }),
    uploadData: async (db) => {
      const tx = await db.getNextCrudTransaction();
      await tx?.complete();
    },
  };
}

async function openClient(): Promise<SynclineDatabase> {
  const db = new SynclineDatabase({ schema, database: openBetterSqlite3({ path: ':memory:' }) });
  await db.ready;
  open.push(db);
  return db;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const todoIds = async (db: SynclineDatabase) => (await db.getAll<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);
const listIds = async (db: SynclineDatabase) => (await db.getAll<{ id: string }>('SELECT id FROM lists ORDER BY id')).map((r) => r.id);
const fast = { retry: { baseMs: 100, maxMs: 1000 }, crudUploadThrottleMs: 0 };

describe('Sync Streams against the real Syncline server', () => {
  it('default stream, subscribe → rows, second subscription → one reconnect keeping positions, expiry → rows removed', async () => {
    await server.sql(`INSERT INTO lists VALUES ('s-l1', 's-user', 'One'), ('s-l2', 's-user', 'Two'), ('x-l1', 'other', 'Not mine')`);
    await server.sql(`INSERT INTO todos (id, list_id, description) VALUES ('s-t1', 's-l1', 'a'), ('s-t2', 's-l1', 'b'), ('s-t3', 's-l2', 'c'), ('x-t1', 'x-l1', 'd')`);
    const requests: StreamRequestBody[] = [];
    const db = await openClient();
    await db.connect(connector('s-user'), { ...fast, fetch: recordingFetch(requests) });

    // The auto_subscribe stream syncs with no subscription; nothing of list_todos yet.
    await until('the default stream', async () => (await listIds(db)).join() === 's-l1,s-l2');
    expect(await todoIds(db)).toEqual([]);
    await until('the default stream status', async () => db.currentStatus.forStream({ name: 'owned_lists', parameters: null })?.subscription.hasSynced);
    expect(db.currentStatus.forStream({ name: 'owned_lists', parameters: null })?.subscription).toMatchObject({ active: true, isDefault: true, hasExplicitSubscription: false });
    expect(requests[0]?.streams).toEqual({ include_defaults: true, subscriptions: [] });

    const first = await db.syncStream('list_todos', { list: 's-l1' }).subscribe({ ttl: 1 });
    await first.waitForFirstSync(AbortSignal.timeout(30_000));
    await until('the rows of s-l1', async () => (await todoIds(db)).join() === 's-t1,s-t2');
    const status = db.currentStatus.forStream({ name: 'list_todos', parameters: { list: 's-l1' } });
    expect(status?.subscription).toMatchObject({ active: true, hasExplicitSubscription: true, hasSynced: true });
    expect(status?.progress).toMatchObject({ downloadedFraction: 1 });

    // A second subscription: exactly one new request, which resumes every bucket from its position.
    const before = requests.length;
    const l1Bucket = (await db.getAll<{ name: string; last_op: number }>(`SELECT name, last_op FROM sl_buckets WHERE name LIKE '%list_todos%'`))[0];
    expect(l1Bucket?.last_op).toBeGreaterThan(0);
    const second = await db.syncStream('list_todos', { list: 's-l2' }).subscribe();
    await second.waitForFirstSync(AbortSignal.timeout(30_000));
    await until('the rows of both lists', async () => (await todoIds(db)).join() === 's-t1,s-t2,s-t3');
    await new Promise((r) => setTimeout(r, 500));
    expect(requests.length).toBe(before + 1);
    const resumed = requests[before]!;
    expect(resumed.streams?.subscriptions.map((s) => s.parameters)).toEqual([{ list: 's-l1' }, { list: 's-l2' }]);
    expect(resumed.buckets).toContainEqual({ name: l1Bucket!.name, after: String(l1Bucket!.last_op) });

    // Releasing the first: its rows stay for the TTL (1 s), then it is dropped and its rows go.
    await first.unsubscribe();
    expect(await todoIds(db)).toContain('s-t1');
    await until('the expired subscription’s rows to go', async () => (await todoIds(db)).join() === 's-t3');
    expect(requests[requests.length - 1]?.streams?.subscriptions.map((s) => s.parameters)).toEqual([{ list: 's-l2' }]);
    expect(await listIds(db)).toEqual(['s-l1', 's-l2']);
    expect(db.currentStatus.forStream({ name: 'list_todos', parameters: { list: 's-l1' } })).toBeUndefined();

    // Changes in Postgres still reach the remaining subscription.
    await server.sql(`INSERT INTO todos (id, list_id, description) VALUES ('s-t4', 's-l2', 'e')`);
    await until('a new row in s-l2', async () => (await todoIds(db)).join() === 's-t3,s-t4');
    expect(db.currentStatus.downloadError).toBeUndefined();
    await second.unsubscribe();
  });

  it('includeDefaultStreams: false syncs only explicit subscriptions', async () => {
    await server.sql(`INSERT INTO lists VALUES ('n-l1', 'n-user', 'One')`);
    await server.sql(`INSERT INTO todos (id, list_id, description) VALUES ('n-t1', 'n-l1', 'a')`);
    const db = await openClient();
    const sub = await db.syncStream('list_todos', { list: 'n-l1' }).subscribe();
    await db.connect(connector('n-user'), { ...fast, includeDefaultStreams: false });
    await sub.waitForFirstSync(AbortSignal.timeout(30_000));
    await until('the subscribed rows', async () => (await todoIds(db)).join() === 'n-t1');
    expect(await listIds(db)).toEqual([]);
    expect(db.currentStatus.forStream({ name: 'owned_lists', parameters: null })).toBeUndefined();
  });
});
