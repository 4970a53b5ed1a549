/**
 * The client against the real Syncline sync API (child process) and real Postgres: first sync,
 * offline writes then reconnect, two clients converging, a corrupted local op healing by
 * re-download, no checkpoint applied while uploads are pending, and exact 64-bit integers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { Schema, SynclineDatabase, Table, column, type BackendConnector, type CrudEntry } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';

const SOURCE_SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text, done boolean NOT NULL DEFAULT false, big bigint);
`;
const RULES = `
bucket_definitions:
  owned_lists:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT id, owner_id, name FROM lists WHERE owner_id = bucket.owner_id
  list_todos:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text, done: column.integer, big: column.integer }),
});
const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';
const ABOVE_2_53 = '9007199254740993';
const COLUMNS: Record<string, string[]> = { lists: ['owner_id', 'name'], todos: ['list_id', 'description', 'done', 'big'] };

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

async function seedUser(user: string): Promise<void> {
  await server.sql(`INSERT INTO lists VALUES ($1 || '-l1', $1, 'Groceries')`, [user]);
  await server.sql(
    `INSERT INTO todos (id, list_id, description, done, big) VALUES
       ($1 || '-t1', $1 || '-l1', 'Milk', false, ${INT64_MAX}), ($1 || '-t2', $1 || '-l1', 'Bread', true, ${INT64_MIN}),
       ($1 || '-t3', $1 || '-l1', 'Eggs', false, ${ABOVE_2_53})`,
    [user],
  );
}

/** The app backend of the tests: applies queued writes to Postgres (values as text, so bigints stay exact). */
async function applyEntry(e: CrudEntry): Promise<void> {
  const allowed = COLUMNS[e.table];
  if (!allowed) throw new Error(`unknown table ${e.table}`);
  const value = (column: string, v: unknown): unknown => (v === null || v === undefined ? null : column === 'done' ? Number(v) !== 0 : String(v));
  if (e.op === 'DELETE') {
    await server.sql(`DELETE FROM ${e.table} WHERE id = $1`, [e.id]);
    return;
  }
  const data = Object.entries(e.opData ?? {}).filter(([k]) => allowed.includes(k));
  if (e.op === 'PUT') {
    const cols = ['id', ...data.map(([k]) => k)];
    const params = [e.id, ...data.map(([k, v]) => value(k, v))];
    const updates = data.map(([k]) => `${k} = EXCLUDED.${k}`);
    await server.sql(
      `INSERT INTO ${e.table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (id) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
      params,
    );
  } else if (data.length > 0) {
    await server.sql(`UPDATE ${e.table} SET ${data.map(([k], i) => `${k} = $${i + 2}`).join(', ')} WHERE id = $1`, [e.id, ...data.map(([k, v]) => value(k, v))]);
  }
}

function connector(user: string, gate?: () => Promise<void>): BackendConnector {
  return {
    fetchCredentials: async () => ({ endpoint: server.url, token: server.token(user) }),
    uploadData: async (db) => {
      await gate?.();
      const tx = await db.getNextCrudTransaction();
      if (!tx) return;
      for (const e of tx.crud) await applyEntry(e);
      await tx.complete();
    },
  };
}

async function openClient(): Promise<SynclineDatabase> {
  const db = new SynclineDatabase({ schema, database: openBetterSqlite3({ path: ':memory:' }) });
  await db.ready;
  open.push(db);
  return db;
}

const fast = { retry: { baseMs: 100, maxMs: 1000 }, crudUploadThrottleMs: 0 };

interface Snapshot {
  lists: unknown[];
  todos: unknown[];
}

async function sourceRows(user: string): Promise<Snapshot> {
  return {
    lists: await server.sql(`SELECT id, owner_id, name FROM lists WHERE owner_id = $1 ORDER BY id COLLATE "C"`, [user]),
    todos: await server.sql(
      `SELECT t.id, t.list_id, t.description, t.done::int AS done, t.big::text AS big FROM todos t JOIN lists l ON l.id = t.list_id
        WHERE l.owner_id = $1 ORDER BY t.id COLLATE "C"`,
      [user],
    ),
  };
}

async function localRows(db: SynclineDatabase): Promise<Snapshot> {
  return {
    lists: await db.getAll('SELECT id, owner_id, name FROM lists ORDER BY id'),
    todos: await db.getAll('SELECT id, list_id, description, done, CAST(big AS TEXT) AS big FROM todos ORDER BY id'),
  };
}

async function expectInSync(db: SynclineDatabase, user: string, timeoutMs = 30_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [local, source] = await Promise.all([localRows(db), sourceRows(user)]);
    if (JSON.stringify(local) === JSON.stringify(source) && (await db.getUploadQueueStats()).count === 0) return local;
    if (Date.now() > deadline) expect({ local, queued: (await db.getUploadQueueStats()).count }).toEqual({ local: source, queued: 0 });
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('client ↔ real Syncline server', () => {
  it('first sync: downloads exactly the rows its buckets select, with 64-bit integers exact', async () => {
    await seedUser('first');
    await server.sql(`INSERT INTO lists VALUES ('other-l1', 'someone-else', 'Secret')`);
    const db = await openClient();
    await db.connect(connector('first'), fast);
    await db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    // The first checkpoint may predate replication of the seed rows; then later ones bring them.
    const local = await expectInSync(db, 'first');
    expect(local.todos.map((t) => (t as { big: string }).big)).toEqual([INT64_MAX, INT64_MIN, ABOVE_2_53]);
    expect(db.currentStatus).toMatchObject({ connected: true, hasSynced: true, downloadError: undefined });
  });

  it('offline writes are uploaded on reconnect and the client converges to the server', async () => {
    await seedUser('offline');
    const db = await openClient();
    await db.connect(connector('offline'), fast);
    await expectInSync(db, 'offline');
    await db.disconnect();
    await db.execute(`UPDATE todos SET description = 'Oat milk', done = 1 WHERE id = 'offline-t1'`);
    await db.execute(`INSERT INTO todos (id, list_id, description, done, big) VALUES ('offline-t9', 'offline-l1', 'Written offline', 0, ?)`, [BigInt(ABOVE_2_53)]);
    await db.execute(`DELETE FROM todos WHERE id = 'offline-t2'`);
    expect((await db.getUploadQueueStats()).count).toBe(3);
    await db.connect(connector('offline'), fast);
    const local = await expectInSync(db, 'offline');
    expect(local.todos).toContainEqual({ id: 'offline-t9', list_id: 'offline-l1', description: 'Written offline', done: 0, big: ABOVE_2_53 });
    expect(await server.sql(`SELECT big::text AS big FROM todos WHERE id = 'offline-t9'`)).toEqual([{ big: ABOVE_2_53 }]);
  });

  it('two clients editing the same rows converge to the server state', async () => {
    await seedUser('shared');
    const [a, b] = [await openClient(), await openClient()];
    await Promise.all([a.connect(connector('shared'), fast), b.connect(connector('shared'), fast)]);
    await Promise.all([expectInSync(a, 'shared'), expectInSync(b, 'shared')]);
    for (let i = 0; i < 5; i++) {
      await a.execute(`UPDATE todos SET description = ? WHERE id = 'shared-t1'`, [`a${i}`]);
      await b.execute(`UPDATE todos SET description = ?, done = ? WHERE id = 'shared-t1'`, [`b${i}`, i % 2]);
      await b.execute(`UPDATE todos SET description = ? WHERE id = 'shared-t3'`, [`b${i}`]);
    }
    await server.sql(`UPDATE todos SET description = 'server' WHERE id = 'shared-t2'`);
    const [la, lb] = await Promise.all([expectInSync(a, 'shared'), expectInSync(b, 'shared')]);
    expect(la).toEqual(lb);
  });

  it('a corrupted local op (checksum broken on purpose) heals by re-download', async () => {
    await seedUser('corrupt');
    const db = await openClient();
    const errors: string[] = [];
    db.onStatusChanged((s) => {
      const code = (s.downloadError as { code?: string } | undefined)?.code;
      if (code) errors.push(code);
    });
    await db.connect(connector('corrupt'), fast);
    await expectInSync(db, 'corrupt');
    // Break the stored data and its checksum part: the next checkpoint must detect it.
    await db.execute(`UPDATE sl_oplog SET hash = (hash + 1) % 4294967296, data = json_set(data, '$.description', 'garbage') WHERE row_id = 'corrupt-t1'`);
    const broken = await db.execute(`UPDATE sl_buckets SET op_checksum = (op_checksum + 1) % 4294967296 WHERE name LIKE '%list_todos%'`);
    expect(broken.rowsAffected).toBe(1);
    await server.sql(`UPDATE todos SET done = true WHERE id = 'corrupt-t3'`);
    await expectInSync(db, 'corrupt');
    expect(errors).toContain('CHECKSUM_MISMATCH');
    expect(await db.get(`SELECT description FROM todos WHERE id = 'corrupt-t1'`)).toEqual({ description: 'Milk' });
  });

  it('never applies a checkpoint while uploads are pending', async () => {
    await seedUser('pending');
    const db = await openClient();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let blocked = true;
    await db.connect(connector('pending', () => (blocked ? released : Promise.resolve())), fast);
    await expectInSync(db, 'pending');
    await db.execute(`UPDATE todos SET description = 'local edit' WHERE id = 'pending-t1'`);
    await server.sql(`UPDATE todos SET description = 'server edit' WHERE id = 'pending-t2'`);
    // The server's change is downloaded (it is in the op log) …
    const deadline = Date.now() + 30_000;
    while ((await db.getAll(`SELECT 1 FROM sl_oplog WHERE row_id = 'pending-t2' AND data LIKE '%server edit%'`)).length === 0) {
      if (Date.now() > deadline) throw new Error('the server change never arrived');
      await new Promise((r) => setTimeout(r, 50));
    }
    // … but not applied while the upload is pending, for as long as it stays pending.
    for (let i = 0; i < 10; i++) {
      expect(await db.get(`SELECT description FROM todos WHERE id = 'pending-t2'`)).toEqual({ description: 'Bread' });
      expect(await db.get(`SELECT description FROM todos WHERE id = 'pending-t1'`)).toEqual({ description: 'local edit' });
      await new Promise((r) => setTimeout(r, 100));
    }
    blocked = false;
    release();
    const local = await expectInSync(db, 'pending');
    expect(local.todos).toContainEqual(expect.objectContaining({ id: 'pending-t1', description: 'local edit' }));
    expect(local.todos).toContainEqual(expect.objectContaining({ id: 'pending-t2', description: 'server edit' }));
  });

  it('reports legacy bucket definitions as synced default streams, and syncs none of them with includeDefaultStreams: false', async () => {
    await seedUser('defaults');
    const db = await openClient();
    // A stream the server does not know is ignored by it: never active, never synced.
    const unknown = await db.syncStream('no_such_stream', { x: 1 }).subscribe();
    await db.connect(connector('defaults'), fast);
    await expectInSync(db, 'defaults');
    await db.waitForStatus((s) => s.syncStreams?.length === 3 && s.syncStreams.filter((x) => x.subscription.hasSynced).length === 2, AbortSignal.timeout(30_000));
    expect(db.currentStatus.syncStreams?.map((s) => s.subscription)).toMatchObject([
      { name: 'no_such_stream', parameters: { x: 1 }, active: false, isDefault: false, hasExplicitSubscription: true, hasSynced: false },
      { name: 'owned_lists', parameters: null, active: true, isDefault: true, hasExplicitSubscription: false },
      { name: 'list_todos', parameters: null, active: true, isDefault: true, hasExplicitSubscription: false },
    ]);
    await unknown.unsubscribe();
    expect(db.currentStatus.forStream({ name: 'list_todos', parameters: null })?.progress).toMatchObject({ downloadedFraction: 1 });

    const none = await openClient();
    await none.connect(connector('defaults'), { ...fast, includeDefaultStreams: false });
    await none.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    expect(await none.getAll('SELECT id FROM todos')).toEqual([]);
    expect(none.currentStatus.syncStreams).toEqual([]);
  });

  it('keeps 64-bit integers exact in both directions', async () => {
    await seedUser('int64');
    const db = await openClient();
    await db.connect(connector('int64'), fast);
    await expectInSync(db, 'int64');
    await db.execute(`UPDATE todos SET big = ? WHERE id = 'int64-t3'`, [BigInt(INT64_MIN) + 1n]);
    await db.execute(`INSERT INTO todos (id, list_id, big) VALUES ('int64-t4', 'int64-l1', ?)`, [BigInt(INT64_MAX) - 1n]);
    await expectInSync(db, 'int64');
    expect(await server.sql(`SELECT id, big::text AS big FROM todos WHERE id IN ('int64-t3', 'int64-t4') ORDER BY id`)).toEqual([
      { id: 'int64-t3', big: (BigInt(INT64_MIN) + 1n).toString() },
      { id: 'int64-t4', big: (BigInt(INT64_MAX) - 1n).toString() },
    ]);
    expect(await db.get(`SELECT big FROM todos WHERE id = 'int64-t1'`)).toEqual({ big: BigInt(INT64_MAX) });
  });
});
