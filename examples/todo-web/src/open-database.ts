/** Opens the user's local database (SQLite WASM on OPFS, in a worker) and starts syncing. */
import { SynclineDatabase } from '@syncline/client';
import { openWasmSqlite, type WasmSqliteAdapter } from '@syncline/client/browser';
import SqliteWorker from '@syncline/client/worker?worker';
import { appSchema } from './app-schema.ts';
import { createConnector, loadAppConfig, type RejectedWrite } from './backend-connector.ts';

/** Whether this browser can keep the database on OPFS at all (secure context, Storage API). */
function opfsSupported(): boolean {
  return typeof navigator.storage?.getDirectory === 'function';
}

const OPFS_WAIT_MS = 20_000;

/**
 * Opens the database on OPFS. Right after a reload the previous page's worker may still hold the
 * OPFS access handles (so may another tab of the same user); that is a wait, not a reason to
 * switch storage: falling back to IndexedDB here would show an empty database and queue new
 * writes in a second store while the offline writes on OPFS wait unseen. So: retry OPFS for up to
 * 20 s, then fail with a message; use another storage only where OPFS does not exist.
 */
async function openStorage(filename: string, signal: AbortSignal): Promise<{ adapter: WasmSqliteAdapter; attempts: number }> {
  if (!opfsSupported()) return { adapter: await openWasmSqlite({ filename, worker: new SqliteWorker(), vfs: 'auto' }), attempts: 1 };
  const deadline = Date.now() + OPFS_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      return { adapter: await openWasmSqlite({ filename, worker: new SqliteWorker(), vfs: 'opfs-sahpool' }), attempts: attempt };
    } catch (e) {
      // openWasmSqlite terminates the worker when opening fails.
      if (Date.now() > deadline) {
        throw new Error(`The local database is still in use (another tab of this app, or the previous page) after ${OPFS_WAIT_MS / 1000} s; close other tabs and reload. (${String(e)})`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface OpenedDatabase {
  db: SynclineDatabase;
  vfs: string;
  /** How many tries opening OPFS took (more than 1: the previous page still held it). */
  openAttempts: number;
  /** This tab's part in multi-tab mode (`single` without it); shown as `<html data-tab-role>`. */
  tabRole(): 'leader' | 'follower' | 'single';
  /** Calls `fn` when this tab becomes the leader (the previous leader tab closed). */
  onPromoted(fn: () => void): () => void;
  /** Stops syncing and closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the database and syncs while the browser is online: the `offline` event disconnects at
 * once (a half-open stream would otherwise keep showing "online"), `online` reconnects without
 * waiting for the retry backoff. Writes keep queuing locally either way. `signal` stops waiting
 * for OPFS when the caller gave up (the component unmounted); a database that opens after that is
 * the caller's to close.
 */
export async function openDatabase(userId: string, onRejected: (r: RejectedWrite) => void, signal: AbortSignal): Promise<OpenedDatabase> {
  const config = await loadAppConfig();
  const { adapter: database, attempts } = await openStorage(`todo-web-${userId}.db`, signal);
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
    openAttempts: attempts,
    tabRole: () => database.multiTab?.role ?? 'single',
    onPromoted: (fn) => database.multiTab?.subscribe({ changes: () => {}, status: () => {}, promoted: fn }) ?? (() => {}),
    async close() {
      window.removeEventListener('online', connect);
      window.removeEventListener('offline', disconnect);
      await db.close();
    },
  };
}
