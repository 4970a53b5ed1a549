/**
 * Interop for Sync Streams: the official `@powersync/node` SDK (its `db.syncStream(name,
 * params).subscribe()`) and `@syncline/client` subscribe to the same edition-3 streams of the same
 * Syncline server and end with identical tables — the rows the streams select in Postgres —
 * through an `auto_subscribe` stream, two parameterised subscriptions, a change in Postgres, and
 * `unsubscribeAll()`.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { SyncStreamConnectionMethod } from '@powersync/node';
import { Schema, SynclineDatabase, Table, column } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { INTEROP_TABLES_SQL, openInteropClient, type InteropClient } from './powersync-client.ts';

const SCHEMA = INTEROP_TABLES_SQL;
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
const USER = 'streams-user';

/** The same tables as the interop client's AppSchema, for @syncline/client. */
const synclineSchema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text, done: column.integer, big: column.integer, server_seen: column.integer }),
});

interface Snapshot {
  lists: unknown[];
  todos: unknown[];
}

type Reader = { getAll<T>(sql: string, params?: unknown[]): Promise<T[]> };

async function tables(db: Reader): Promise<Snapshot> {
  return {
    lists: await db.getAll('SELECT id, owner_id, name FROM lists ORDER BY id'),
    todos: await db.getAll('SELECT id, list_id, description, done, CAST(big AS TEXT) AS big, server_seen FROM todos ORDER BY id'),
  };
}

let server: TestServer;
let powersync: InteropClient;
let syncline: SynclineDatabase;
/** Subscription handles, held so neither SDK sees them leak; released at the end. */
const handles = new Map<string, { unsubscribe(): unknown }[]>();

/** What the subscribed streams select in Postgres (booleans as 0/1, as SQLite stores them). */
async function expected(listIds: string[]): Promise<Snapshot> {
  const lists = await server.source.query(`SELECT id, owner_id, name FROM lists WHERE owner_id = $1 ORDER BY id COLLATE "C"`, [USER]);
  const todos = await server.source.query(
    `SELECT id, list_id, description, done::int AS done, big::text AS big, server_seen FROM todos WHERE list_id = ANY($1) ORDER BY id COLLATE "C"`,
    [listIds],
  );
  return { lists: lists.rows, todos: todos.rows };
}

/** Polls until both clients hold exactly `listIds`' rows (and the user's lists); fails with the last diff. */
async function expectBothEqual(listIds: string[], timeoutMs = 40_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [want, a, b] = await Promise.all([expected(listIds), tables(powersync.db as unknown as Reader), tables(syncline as unknown as Reader)]);
    if (JSON.stringify(a) === JSON.stringify(want) && JSON.stringify(b) === JSON.stringify(want)) return b;
    if (Date.now() > deadline) expect({ powersync: a, syncline: b }).toEqual({ powersync: want, syncline: want });
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  await server.source.query(`INSERT INTO lists VALUES ($1 || '-l1', $1, 'Groceries'), ($1 || '-l2', $1, 'Work'), ('other-l1', 'other', 'Secret')`, [USER]);
  await server.source.query(
    `INSERT INTO todos (id, list_id, description, done, big) VALUES
       ($1 || '-t1', $1 || '-l1', 'Milk', false, 9223372036854775807), ($1 || '-t2', $1 || '-l1', 'Bread', true, NULL),
       ($1 || '-t3', $1 || '-l2', 'Report', false, -1), ('other-t1', 'other-l1', 'Not yours', false, NULL)`,
    [USER],
  );
  await server.waitActive(await server.deploy(RULES));
  powersync = await openInteropClient(server, USER, SyncStreamConnectionMethod.HTTP);
  syncline = new SynclineDatabase({ schema: synclineSchema, database: openBetterSqlite3({ path: ':memory:' }) });
  await syncline.connect(
    {
      fetchCredentials: async () => ({ endpoint: server.url, token: await server.token(USER) }),
      uploadData: async (db) => {
        const tx = await db.getNextCrudTransaction();
        await tx?.complete();
      },
    },
    { retry: { baseMs: 100, maxMs: 1000 }, crudUploadThrottleMs: 0 },
  );
});
afterAll(async () => {
  for (const list of handles.values()) for (const h of list) await h.unsubscribe();
  await syncline?.close();
  await powersync?.[Symbol.asyncDispose]();
  await server?.[Symbol.asyncDispose]();
});

describe('Sync Streams: @powersync/node and @syncline/client side by side', () => {
  const l1 = { list: `${USER}-l1` };
  const l2 = { list: `${USER}-l2` };

  it('the auto_subscribe stream syncs to both without a subscription', async () => {
    await powersync.db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    await syncline.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    const local = await expectBothEqual([]);
    expect(local.lists).toHaveLength(2);
    expect(powersync.db.currentStatus.forStream({ name: 'owned_lists', parameters: null })?.subscription.isDefault).toBe(true);
    expect(syncline.currentStatus.forStream({ name: 'owned_lists', parameters: null })?.subscription).toMatchObject({ isDefault: true, active: true });
  });

  it('subscribing to the same stream and parameters brings the same rows to both', async () => {
    const [a, b] = await Promise.all([powersync.db.syncStream('list_todos', l1).subscribe(), syncline.syncStream('list_todos', l1).subscribe()]);
    handles.set('l1', [a, b]);
    await Promise.all([a.waitForFirstSync(AbortSignal.timeout(30_000)), b.waitForFirstSync(AbortSignal.timeout(30_000))]);
    const local = await expectBothEqual([l1.list]);
    expect(local.todos.map((t) => (t as { big: string | null }).big)).toEqual(['9223372036854775807', null]);
    expect(powersync.db.currentStatus.forStream({ name: 'list_todos', parameters: l1 })?.subscription.hasSynced).toBe(true);
    expect(syncline.currentStatus.forStream({ name: 'list_todos', parameters: l1 })?.subscription.hasSynced).toBe(true);
  });

  it('a second subscription adds its rows to both, and a change in Postgres reaches both', async () => {
    const [a, b] = await Promise.all([powersync.db.syncStream('list_todos', l2).subscribe(), syncline.syncStream('list_todos', l2).subscribe()]);
    handles.set('l2', [a, b]);
    await Promise.all([a.waitForFirstSync(AbortSignal.timeout(30_000)), b.waitForFirstSync(AbortSignal.timeout(30_000))]);
    await expectBothEqual([l1.list, l2.list]);
    await server.source.query(`UPDATE todos SET description = 'Report v2', server_seen = 5 WHERE id = $1`, [`${USER}-t3`]);
    await server.source.query(`INSERT INTO todos (id, list_id, description) VALUES ($1 || '-t4', $1 || '-l1', 'Eggs')`, [USER]);
    await expectBothEqual([l1.list, l2.list]);
  });

  it('unsubscribeAll() removes the stream’s rows from both', async () => {
    // Release the handles first: the official SDK keeps requesting a stream while a handle lives.
    for (const h of handles.get('l1') ?? []) await h.unsubscribe();
    handles.delete('l1');
    await Promise.all([powersync.db.syncStream('list_todos', l1).unsubscribeAll(), syncline.syncStream('list_todos', l1).unsubscribeAll()]);
    await expectBothEqual([l2.list]);
  });

  it('the official SDK never reported a checksum or protocol problem; the Syncline client no download error', () => {
    expect(powersync.checksumProblems()).toEqual([]);
    expect(powersync.protocolProblems()).toEqual([]);
    expect(powersync.logs.filter((r) => r.level >= 50).map((r) => `${r.message} ${String(r.error ?? '')}`)).toEqual([]);
    expect(syncline.currentStatus.downloadError).toBeUndefined();
  });
});
