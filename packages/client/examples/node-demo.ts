/**
 * Runnable Node example against the demo of `npm start` (lists + todos, user "user-1").
 *
 *   npm start                                   # prints the sync API URL and a dev JWT
 *   SYNCLINE_TOKEN=<dev jwt> npx tsx packages/client/examples/node-demo.ts
 *
 * Syncs the user's lists and todos into ./syncline-demo.db, prints them, then watches the todo
 * count for 30 s (SYNCLINE_WATCH_MS; change rows in Postgres and watch it move). Ctrl-C stops it.
 */
import { Schema, SynclineDatabase, Table, column, type BackendConnector } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';

const endpoint = process.env['SYNCLINE_URL'] ?? 'http://127.0.0.1:8080';
const token = process.env['SYNCLINE_TOKEN'];
if (!token) {
  process.stderr.write('Set SYNCLINE_TOKEN to the dev JWT printed by `npm start`.\n');
  process.exit(2);
}

const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text, created_at: column.text }),
  todos: new Table(
    {
      list_id: column.text,
      owner_id: column.text,
      description: column.text,
      completed: column.integer,
      priority: column.integer,
      created_at: column.text,
      completed_at: column.text,
    },
    { indexes: { by_list: ['list_id'] } },
  ),
});

const connector: BackendConnector = {
  fetchCredentials: async () => ({ endpoint, token }),
  // The demo has no app backend: a real app sends these writes to its API, then completes them.
  uploadData: async (db) => {
    const tx = await db.getNextCrudTransaction();
    if (!tx) return;
    for (const entry of tx.crud) process.stdout.write(`would upload ${JSON.stringify(entry.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    await tx.complete();
  },
};

const db = new SynclineDatabase({ schema, database: openBetterSqlite3({ path: process.env['SYNCLINE_DB'] ?? 'syncline-demo.db' }) });
db.onStatusChanged((s) => {
  const progress = s.downloadProgress ? ` ${s.downloadProgress.downloadedOperations}/${s.downloadProgress.totalOperations}` : '';
  process.stdout.write(`status: connected=${s.connected} downloading=${s.downloading}${progress} hasSynced=${s.hasSynced}${s.downloadError ? ` error=${s.downloadError.message}` : ''}\n`);
});

await db.connect(connector);
await db.waitForFirstSync({ signal: AbortSignal.timeout(60_000) });
const lists = await db.getAll<{ id: string; name: string }>('SELECT id, name FROM lists ORDER BY name');
for (const list of lists) {
  const todos = await db.getAll<{ description: string; completed: number }>('SELECT description, completed FROM todos WHERE list_id = ? ORDER BY priority DESC', [list.id]);
  process.stdout.write(`\n${list.name}\n${todos.map((t) => `  [${t.completed ? 'x' : ' '}] ${t.description}`).join('\n')}\n`);
}

const stop = AbortSignal.timeout(Number(process.env['SYNCLINE_WATCH_MS'] ?? 30_000));
for await (const [row] of db.watch<{ n: number }>('SELECT count(*) AS n FROM todos', [], { signal: stop })) {
  process.stdout.write(`todos: ${row?.n}\n`);
}
await db.close();
