/** Opens the user's local database (SQLite WASM on OPFS, in a worker) and starts syncing. */
import { SynclineDatabase } from '@syncline/client';
import { openWasmSqlite, type WasmSqliteAdapter } from '@syncline/client/browser';
import SqliteWorker from '@syncline/client/browser-worker?worker';
import { appSchema } from './app-schema.ts';
import { createConnector, loadAppConfig, type RejectedWrite } from './backend-connector.ts';

/**
 * OPFS first, retried briefly: right after a reload the previous page's worker may still hold the
 * OPFS access handles. Falling back to another storage at once would show an empty database.
 */
async function openStorage(filename: string): Promise<WasmSqliteAdapter> {
  for (let attempt = 0; ; attempt++) {
    const worker = new SqliteWorker();
    try {
      return await openWasmSqlite({ filename, worker, vfs: attempt < 10 ? 'opfs-sahpool' : 'auto' });
    } catch (e) {
      worker.terminate();
      if (attempt >= 10) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

export interface OpenedDatabase {
  db: SynclineDatabase;
  vfs: string;
  /** Stops syncing and closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the database and syncs while the browser is online: the `offline` event disconnects at
 * once (a half-open stream would otherwise keep showing "online"), `online` reconnects without
 * waiting for the retry backoff. Writes keep queuing locally either way.
 */
export async function openDatabase(userId: string, onRejected: (r: RejectedWrite) => void): Promise<OpenedDatabase> {
  const config = await loadAppConfig();
  const database = await openStorage(`todo-web-${userId}.db`);
  const db = new SynclineDatabase({ schema: appSchema, database });
  await db.ready;
  const connector = createConnector(userId, config, onRejected);
  const connect = () => void db.connect(connector, { retry: { baseMs: 500, maxMs: 3_000 }, uploadRetry: { baseMs: 500, maxMs: 3_000 }, crudUploadThrottleMs: 100 }).catch(() => undefined);
  const disconnect = () => void db.disconnect().catch(() => undefined);
  window.addEventListener('online', connect);
  window.addEventListener('offline', disconnect);
  if (navigator.onLine) connect();
  return {
    db,
    vfs: database.vfs,
    async close() {
      window.removeEventListener('online', connect);
      window.removeEventListener('offline', disconnect);
      await db.close();
    },
  };
}
