// Bundled by esbuild from inside the temporary project (packages resolved from its node_modules):
// the installed @syncline/client browser build and @syncline/react render the synced todos.
import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { SynclineDatabase, Schema, Table, column } from '@syncline/client';
import { openWasmSqlite } from '@syncline/client/browser';
import { SynclineProvider, useQuery } from '@syncline/react';

const schema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text }),
});

function Todos() {
  const { data, isLoading } = useQuery('SELECT id, list_id, description FROM todos ORDER BY id');
  return h('ul', { id: 'todos', 'data-loading': String(isLoading) }, data.map((t) => h('li', { key: t.id, 'data-id': t.id, 'data-list': t.list_id }, t.description)));
}

globalThis.installedTest = {
  async start(endpoint, token) {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename: 'installed.db', worker, vfs: 'memory' });
    const db = new SynclineDatabase({ schema, database });
    createRoot(document.getElementById('root')).render(h(SynclineProvider, { db }, h(Todos)));
    await db.connect({ fetchCredentials: async () => ({ endpoint, token }), uploadData: async () => undefined });
    await db.waitForFirstSync();
    globalThis.installedDb = db;
    return database.vfs;
  },
};
