/** Opens the user's local database (SQLite WASM on OPFS, in a worker) and starts syncing. */
import { SynclineDatabase } from '@syncline/client';
import { openWasmSqlite } from '@syncline/client/browser';
import SqliteWorker from '@syncline/client/browser-worker?worker';
import { appSchema } from './app-schema.ts';
import { createConnector, loadAppConfig, type RejectedWrite } from './backend-connector.ts';

export async function openDatabase(userId: string, onRejected: (r: RejectedWrite) => void): Promise<SynclineDatabase> {
  const config = await loadAppConfig();
  const database = await openWasmSqlite({ filename: `todo-web-${userId}.db`, worker: new SqliteWorker(), vfs: 'auto' });
  const db = new SynclineDatabase({ schema: appSchema, database });
  await db.ready;
  void db.connect(createConnector(userId, config, onRejected), { retry: { baseMs: 500, maxMs: 5_000 }, uploadRetry: { baseMs: 500, maxMs: 5_000 }, crudUploadThrottleMs: 100 });
  return db;
}
