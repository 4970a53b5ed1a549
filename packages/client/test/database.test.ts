import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Schema, SynclineDatabase, Table, column } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import { openTestDb } from './helpers.ts';
import { waitFor } from './scripted-server.ts';

let db: SynclineDatabase | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await db?.close();
  db = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'syncline-client-'));
  dirs.push(dir);
  return join(dir, 'app.db');
}

describe('queries and transactions', () => {
  it('get throws RESULT_EMPTY, getOptional returns null', async () => {
    db = await openTestDb();
    await expect(db.get('SELECT * FROM todos')).rejects.toMatchObject({ code: 'RESULT_EMPTY' });
    expect(await db.getOptional('SELECT * FROM todos')).toBeNull();
  });

  it('readTransaction sees a consistent snapshot and cannot leave changes behind', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO drafts (id, body) VALUES ('d', 'x')`);
    const count = await db.readTransaction(async (tx) => (await tx.get<{ n: number }>('SELECT count(*) AS n FROM drafts')).n);
    expect(count).toBe(1);
  });

  it('writeTransaction commits on success and supports explicit rollback', async () => {
    db = await openTestDb();
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO drafts (id, body) VALUES ('a', 'x')`);
    });
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO drafts (id, body) VALUES ('b', 'x')`);
      await tx.rollback();
    });
    expect(await db.getAll('SELECT id FROM drafts')).toEqual([{ id: 'a' }]);
  });

  it('rejects calls after close with DATABASE_CLOSED', async () => {
    const d = await openTestDb();
    await d.close();
    await expect(d.getAll('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_CLOSED' });
  });
});

describe('watched queries', () => {
  it('resolves the tables a query reads through views and joins', async () => {
    db = await openTestDb();
    expect((await db.resolveTables('SELECT * FROM todos t JOIN lists l ON l.id = t.list_id')).sort()).toEqual(['lists', 'todos']);
  });

  it('re-runs on changes to a table it reads, not on others (async iterator)', async () => {
    db = await openTestDb();
    const controller = new AbortController();
    const results: number[] = [];
    const done = (async () => {
      for await (const rows of db!.watch<{ n: number }>('SELECT count(*) AS n FROM todos', [], { signal: controller.signal, throttleMs: 5 })) {
        results.push(rows[0]?.n ?? -1);
        if (results.length === 2) controller.abort();
      }
    })();
    await waitFor(() => results.length === 1, 2000, 'initial result');
    await db.execute(`INSERT INTO drafts (id, body) VALUES ('d', 'x')`);
    await new Promise((r) => setTimeout(r, 30));
    expect(results).toEqual([0]);
    await db.execute(`INSERT INTO todos (id) VALUES ('t')`);
    await done;
    expect(results).toEqual([0, 1]);
  });

  it('does not re-run after a rolled-back write, and a comparator suppresses equal results', async () => {
    db = await openTestDb();
    const results: unknown[] = [];
    const stop = db.watch('SELECT id FROM todos', [], { onResult: (r) => results.push(r) }, { throttleMs: 1, comparator: (a, b) => JSON.stringify(a) === JSON.stringify(b) });
    await waitFor(() => results.length === 1, 2000, 'initial');
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO todos (id) VALUES ('x')`);
      await tx.rollback();
    });
    await db.execute(`UPDATE todos SET description = 'nothing matches'`);
    await new Promise((r) => setTimeout(r, 30));
    expect(results).toHaveLength(1);
    stop();
  });

  it('reports upload queue changes as sl_crud', async () => {
    db = await openTestDb();
    const changes: string[][] = [];
    db.onChange(['sl_crud'], (t) => changes.push([...t].sort()));
    await db.execute(`INSERT INTO todos (id) VALUES ('x')`);
    expect(changes).toEqual([['sl_crud', 'todos']]);
  });
});

describe('schema', () => {
  it('rejects invalid schemas with INVALID_SCHEMA', () => {
    expect(() => new Schema({ t: new Table({ id: column.text }) })).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA' }));
    expect(() => new Schema({ 'bad name': new Table({}) })).toThrow(/must match/);
    expect(() => new Schema({ t: new Table({ a: column.text }, { indexes: { i: ['nope'] } }) })).toThrow(/unknown column/);
    expect(() => new Schema({ sl_x: new Table({}) })).toThrow(/reserved/);
  });

  it('is idempotent and migrates on change: new columns appear, removed tables keep synced rows in sl_untyped', async () => {
    const path = tempFile();
    const v1 = new Schema({ items: new Table({ a: column.text }) });
    db = new SynclineDatabase({ schema: v1, database: openBetterSqlite3({ path }) });
    await db.ready;
    await db.execute(`INSERT INTO items (id, a) VALUES ('i', 'x')`);
    await db.close();

    const v2 = new Schema({ items: new Table({ a: column.text, b: column.integer }, { indexes: { by_b: ['b'] } }) });
    db = new SynclineDatabase({ schema: v2, database: openBetterSqlite3({ path }) });
    expect(await db.getAll('SELECT id, a, b FROM items')).toEqual([{ id: 'i', a: 'x', b: null }]);
    expect(await db.getOptional(`SELECT name FROM sqlite_master WHERE name = 'sl_data__items__by_b'`)).toEqual({ name: 'sl_data__items__by_b' });
    await db.close();

    const v3 = new Schema({ other: new Table({ z: column.text }) });
    db = new SynclineDatabase({ schema: v3, database: openBetterSqlite3({ path }) });
    expect(await db.getAll('SELECT type, id FROM sl_untyped')).toEqual([{ type: 'items', id: 'i' }]);
    await db.close();

    db = new SynclineDatabase({ schema: v2, database: openBetterSqlite3({ path }) });
    expect(await db.getAll('SELECT id, a FROM items')).toEqual([{ id: 'i', a: 'x' }]);
    // the queue still holds the original write, exactly once
    expect((await db.getUploadQueueStats()).count).toBe(1);
  });

  it('uses the view name for queries and the table name for uploads', async () => {
    db = new SynclineDatabase({ schema: new Schema({ todos: new Table({ a: column.text }, { viewName: 'my_todos' }) }), database: openBetterSqlite3({ path: ':memory:' }) });
    await db.execute(`INSERT INTO my_todos (id, a) VALUES ('x', 'y')`);
    expect((await db.getCrudBatch())?.crud[0]?.table).toBe('todos');
  });

  it('remembers the sync state and client id across restarts', async () => {
    const path = tempFile();
    db = await openTestDb(path);
    const clientId = await db.getClientId();
    await db.execute(`INSERT INTO sl_sync_state (priority, last_synced_at) VALUES (2147483647, 1700000000000)`);
    await db.close();
    db = await openTestDb(path);
    expect(await db.getClientId()).toBe(clientId);
    expect(db.currentStatus.hasSynced).toBe(true);
    expect(db.currentStatus.lastSyncedAt?.getTime()).toBe(1700000000000);
  });

  it('disconnectAndClear wipes synced data but keeps the client id', async () => {
    db = await openTestDb();
    const clientId = await db.getClientId();
    await db.execute(`INSERT INTO todos (id) VALUES ('x')`);
    await db.disconnectAndClear();
    expect(await db.getAll('SELECT * FROM todos')).toEqual([]);
    expect((await db.getUploadQueueStats()).count).toBe(0);
    expect(await db.getClientId()).toBe(clientId);
  });
});
