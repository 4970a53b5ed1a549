import { SynclineDatabase, Schema, Table, column } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';

export const todoSchema = new Schema({
  todos: new Table(
    { list_id: column.text, description: column.text, done: column.integer, big: column.integer, score: column.real },
    { indexes: { by_list: ['list_id', '-description'] } },
  ),
  lists: new Table({ name: column.text }, { trackPrevious: true }),
  drafts: Table.localOnly({ body: column.text }),
  logs: Table.insertOnly({ message: column.text }),
  quiet: new Table({ v: column.text }, { ignoreEmptyUpdates: true }),
});

export async function openTestDb(path = ':memory:', schema: Schema = todoSchema): Promise<SynclineDatabase> {
  const db = new SynclineDatabase({ schema, database: openBetterSqlite3({ path }) });
  await db.ready;
  return db;
}

export async function crudRows(db: SynclineDatabase): Promise<{ id: number; tx_id: number; data: Record<string, unknown> }[]> {
  const rows = await db.getAll<{ id: number; tx_id: number; data: string }>('SELECT id, tx_id, data FROM sl_crud ORDER BY id');
  return rows.map((r) => ({ id: r.id, tx_id: r.tx_id, data: JSON.parse(r.data) as Record<string, unknown> }));
}
