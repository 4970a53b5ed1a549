import { afterEach, describe, expect, it } from 'vitest';
import type { SynclineDatabase } from '../src/index.ts';
import { crudRows, openTestDb } from './helpers.ts';

let db: SynclineDatabase;
afterEach(async () => {
  await db?.close();
});

describe('upload queue capture via view triggers', () => {
  it('queues a PUT with the non-NULL columns of an INSERT, in the same transaction', async () => {
    db = await openTestDb();
    await db.execute('INSERT INTO todos (id, description, done, list_id) VALUES (?, ?, ?, NULL)', ['t1', 'milk', 0]);
    expect(await db.getAll('SELECT id, description, done, list_id FROM todos')).toEqual([{ id: 't1', description: 'milk', done: 0, list_id: null }]);
    const crud = await crudRows(db);
    expect(crud).toHaveLength(1);
    expect(crud[0]?.data).toEqual({ op: 'PUT', type: 'todos', id: 't1', data: { description: 'milk', done: 0 } });
  });

  it('queues a PATCH with only the changed columns (NULL when cleared)', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id, description, done, list_id) VALUES ('t1', 'milk', 0, 'l1')`);
    await db.execute(`UPDATE todos SET done = 1, list_id = NULL WHERE id = 't1'`);
    const crud = await crudRows(db);
    expect(crud[1]?.data).toEqual({ op: 'PATCH', type: 'todos', id: 't1', data: { done: 1, list_id: null } });
    expect(await db.get('SELECT done, list_id FROM todos')).toEqual({ done: 1, list_id: null });
  });

  it('queues a DELETE and removes the row', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id, description) VALUES ('t1', 'milk')`);
    await db.execute(`DELETE FROM todos WHERE id = 't1'`);
    expect((await crudRows(db))[1]?.data).toEqual({ op: 'DELETE', type: 'todos', id: 't1' });
    expect(await db.getAll('SELECT * FROM todos')).toEqual([]);
  });

  it('gives all writes of one transaction the same tx_id and the next transaction a new one', async () => {
    db = await openTestDb();
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO todos (id, description) VALUES ('a', 'x')`);
      await tx.execute(`INSERT INTO lists (id, name) VALUES ('l', 'y')`);
    });
    await db.execute(`INSERT INTO todos (id, description) VALUES ('b', 'z')`);
    const crud = await crudRows(db);
    expect(crud.map((c) => c.tx_id)).toEqual([crud[0]?.tx_id, crud[0]?.tx_id, (crud[0]?.tx_id ?? 0) + 1]);
  });

  it('rolls back the row and its queue entry together', async () => {
    db = await openTestDb();
    await expect(
      db.writeTransaction(async (tx) => {
        await tx.execute(`INSERT INTO todos (id, description) VALUES ('a', 'x')`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.getAll('SELECT * FROM todos')).toEqual([]);
    expect(await crudRows(db)).toEqual([]);
  });

  it('rejects a missing or non-text id and id changes', async () => {
    db = await openTestDb();
    await expect(db.execute(`INSERT INTO todos (description) VALUES ('x')`)).rejects.toThrow('id is required');
    await expect(db.execute(`INSERT INTO todos (id, description) VALUES (1, 'x')`)).rejects.toThrow('id should be text');
    await db.execute(`INSERT INTO todos (id) VALUES ('a')`);
    await expect(db.execute(`UPDATE todos SET id = 'b'`)).rejects.toThrow('Cannot update id');
  });

  it('never queues local-only tables and keeps insert-only tables empty', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO drafts (id, body) VALUES ('d', 'draft')`);
    await db.execute(`UPDATE drafts SET body = 'x'`);
    await db.execute(`INSERT INTO logs (id, message) VALUES ('l1', 'hello')`);
    expect(await db.getAll('SELECT body FROM drafts')).toEqual([{ body: 'x' }]);
    expect(await db.getAll('SELECT * FROM logs')).toEqual([]);
    const crud = await crudRows(db);
    expect(crud.map((c) => c.data)).toEqual([{ op: 'PUT', type: 'logs', id: 'l1', data: { message: 'hello' } }]);
    // insert-only writes do not close the download gate
    expect(await db.getOptional(`SELECT value FROM sl_kv WHERE key = 'target_write_checkpoint'`)).toBeNull();
  });

  it('records previous values when trackPrevious is set and skips empty updates when asked', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO lists (id, name) VALUES ('l', 'a')`);
    await db.execute(`UPDATE lists SET name = 'b'`);
    await db.execute(`INSERT INTO quiet (id, v) VALUES ('q', 'a')`);
    await db.execute(`UPDATE quiet SET v = 'a'`);
    const crud = (await crudRows(db)).map((c) => c.data);
    expect(crud[1]).toEqual({ op: 'PATCH', type: 'lists', id: 'l', data: { name: 'b' }, old: { name: 'a' } });
    expect(crud).toHaveLength(3);
  });

  it('keeps 64-bit integers exact in the table and the queue', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id, big) VALUES ('a', ?)`, [9007199254740993n]);
    expect(await db.get('SELECT big FROM todos')).toEqual({ big: 9007199254740993n });
    const batch = await db.getCrudBatch();
    expect(batch?.crud[0]?.opData).toEqual({ big: 9007199254740993n });
  });

  it('closes the download gate on a local write', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id) VALUES ('a')`);
    expect(await db.get(`SELECT CAST(value AS TEXT) AS v FROM sl_kv WHERE key = 'target_write_checkpoint'`)).toEqual({ v: '9223372036854775807' });
    expect(await db.getAll(`SELECT row_type, row_id FROM sl_updated_rows`)).toEqual([{ row_type: 'todos', row_id: 'a' }]);
  });

  it('supports INSERT OR REPLACE on a view and the uuid() function', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id, description) VALUES ('a', 'x')`);
    await db.execute(`INSERT OR REPLACE INTO todos (id, description) VALUES ('a', 'y')`);
    await db.execute(`INSERT INTO todos (id, description) VALUES (uuid(), 'z')`);
    expect(await db.getAll('SELECT description FROM todos ORDER BY description')).toEqual([{ description: 'y' }, { description: 'z' }]);
  });
});

describe('getCrudBatch / getNextCrudTransaction / complete', () => {
  it('reads batches across transactions and completes them', async () => {
    db = await openTestDb();
    for (const id of ['a', 'b', 'c']) await db.execute(`INSERT INTO todos (id) VALUES (?)`, [id]);
    const batch = await db.getCrudBatch(2);
    expect(batch?.crud.map((e) => e.id)).toEqual(['a', 'b']);
    expect(batch?.haveMore).toBe(true);
    await batch?.complete();
    expect((await db.getUploadQueueStats()).count).toBe(1);
  });

  it('returns the oldest transaction as a unit', async () => {
    db = await openTestDb();
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO todos (id) VALUES ('a')`);
      await tx.execute(`INSERT INTO todos (id) VALUES ('b')`);
    });
    await db.execute(`INSERT INTO todos (id) VALUES ('c')`);
    const tx = await db.getNextCrudTransaction();
    expect(tx?.crud.map((e) => e.id)).toEqual(['a', 'b']);
    expect(tx?.haveMore).toBe(true);
    expect(tx?.crud[0]?.toJSON()).toMatchObject({ op: 'PUT', type: 'todos', id: 'a', tx_id: tx?.transactionId });
    await tx?.complete();
    expect((await db.getNextCrudTransaction())?.crud.map((e) => e.id)).toEqual(['c']);
  });

  it('uses a custom write checkpoint only when the queue is empty afterwards', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id) VALUES ('a')`);
    await db.execute(`INSERT INTO todos (id) VALUES ('b')`);
    const target = async () => (await db.get<{ v: string }>(`SELECT CAST(value AS TEXT) AS v FROM sl_kv WHERE key = 'target_write_checkpoint'`)).v;
    await (await db.getCrudBatch(1))?.complete('5');
    expect(await target()).toBe('9223372036854775807');
    await (await db.getCrudBatch(1))?.complete('6');
    expect(await target()).toBe('6');
  });
});
