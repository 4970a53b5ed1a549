// Runs with plain `node` inside the temporary project: the installed @syncline/client (no tsx, no
// TypeScript) syncs from the sync API and prints the todos it got as one JSON line.
import { SynclineDatabase, Schema, Table, column } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';

const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text }),
});
const db = new SynclineDatabase({ schema, database: openBetterSqlite3({ path: ':memory:' }) });
await db.connect({
  fetchCredentials: async () => ({ endpoint: process.env.SYNC_URL, token: process.env.SYNC_TOKEN }),
  uploadData: async (d) => void (await (await d.getNextCrudTransaction())?.complete()),
});
await db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
const todos = await db.getAll('SELECT id, list_id, description FROM todos ORDER BY id');
process.stdout.write(`${JSON.stringify(todos)}\n`);
await db.close();
