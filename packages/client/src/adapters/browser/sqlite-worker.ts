/**
 * The SQLite worker for browsers (a dedicated Web Worker; OPFS needs one). Storage, best first:
 * 1. `opfs-sahpool` — OPFS sync access handles; persistent and fast, needs no COOP/COEP headers;
 *    a pool per database (`opfs-pool.ts`), moved there from the shared pool of 0.1 on open
 *    (`opfs-legacy-migration.ts`);
 * 2. `indexeddb` — where OPFS is missing: an in-memory database whose image is written to
 *    IndexedDB after every committed change (durable before the call returns; O(size) per commit);
 * 3. `memory` — nothing persisted.
 * Bundle `@syncline/client/worker` as its own entry (esbuild) or import it with `?worker` (Vite), ship
 * `@syncline/client/sqlite3.wasm` next to it or pass its URL as `wasmUrl`; then `openWasmSqlite({ worker })`
 * on the main thread (see the package README).
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { createSqlFunctions } from '../../db/sql-functions.ts';
import { migrateFromLegacyPool } from './opfs-legacy-migration.ts';
import { installPool, isPoolBusy, openInPool, ownPoolDirectory, POOL_VFS, type Db } from './opfs-pool.ts';
import { enableHotJournalRollback } from './sahpool-recovery.ts';
import type { QueryResult, SqliteValue } from '../../db/sqlite-adapter.ts';
import { WasmStatements, type Sqlite3 } from './wasm-statement.ts';
import { quotaRefusals, storageFullError, watchQuotaRefusals } from './storage-full.ts';
import { LEGACY_POOL_ERROR, POOL_FULL_ERROR, type WasmVfs, type WorkerRequest, type WorkerResponse } from './worker-protocol.ts';

const functions = createSqlFunctions();
let sqlite3: Sqlite3 | undefined;
let db: Db | undefined;
let persist: (() => Promise<void>) | undefined;
/** How long the last open waited for the OPFS pool (another worker still held it). */
let poolWaitMs = 0;
/** The open database on OPFS (its writes can be refused for lack of storage), else undefined. */
let opfsFilename: string | undefined;
/** Prepared statements of the open database (the raw C API; see wasm-statement.ts). */
let statements: WasmStatements | undefined;
const IDB_NAME = 'syncline-sqlite';

function idbRequest<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

async function idbOpen(): Promise<IDBDatabase> {
  const request = indexedDB.open(IDB_NAME, 1);
  request.onupgradeneeded = () => request.result.createObjectStore('images');
  return idbRequest(request);
}

async function openIndexedDb(s: Sqlite3, filename: string): Promise<Db> {
  const idb = await idbOpen();
  const image = await idbRequest(idb.transaction('images', 'readonly').objectStore('images').get(filename) as IDBRequest<Uint8Array | undefined>);
  const path = `/syncline-${filename.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  if (image) s.capi.sqlite3_js_posix_create_file(path, image);
  const opened = new s.oo1.DB(path, 'c');
  opened.exec('PRAGMA journal_mode = MEMORY');
  let persistedChanges = -1;
  persist = async () => {
    if (!db || !(s.capi as unknown as { sqlite3_get_autocommit(p: number): number }).sqlite3_get_autocommit(db.pointer as number)) return;
    const total = s.capi.sqlite3_total_changes(db.pointer as number);
    if (total === persistedChanges) return;
    const bytes = s.capi.sqlite3_js_db_export(db);
    const tx = idb.transaction('images', 'readwrite');
    tx.objectStore('images').put(bytes, filename);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
    });
    persistedChanges = total;
  };
  return opened;
}

async function init(wasmUrl: string | undefined): Promise<Sqlite3> {
  sqlite3 ??= await sqlite3InitModule(wasmUrl ? { locateFile: (file: string) => (file.endsWith('.wasm') ? wasmUrl : file) } : undefined);
  return sqlite3;
}

async function open(filename: string, vfs: WasmVfs, wasmUrl: string | undefined, opfsWaitMs: number): Promise<Exclude<WasmVfs, 'auto'>> {
  // Without `wasmUrl`, sqlite-wasm loads `sqlite3.wasm` relative to this script's URL (next to
  // the bundled worker); with it, from there (e.g. Vite's `@syncline/client/sqlite3.wasm?url`).
  const s = await init(wasmUrl);
  let chosen: Exclude<WasmVfs, 'auto'> | undefined;
  if (vfs === 'auto' || vfs === 'opfs-sahpool') {
    try {
      const installed = await installPool(s, ownPoolDirectory(filename), POOL_VFS, opfsWaitMs, filename);
      poolWaitMs = installed.waitedMs;
      // Holding the database's own pool makes this worker its owner: move it out of the old shared pool.
      await migrateFromLegacyPool(s, installed.pool, filename, opfsWaitMs);
      db = await openInPool(installed.pool, filename);
      // Before the first statement: a journal left by a worker that died mid-commit is rolled back.
      enableHotJournalRollback(s, db.pointer as number);
      // opfs-sahpool cannot do WAL (the pragma used to be ignored: the database stayed in DELETE
      // mode). TRUNCATE keeps the journal file instead of deleting and recreating it per commit,
      // and a 64 MiB page cache (as on Node) keeps the op-log's index pages in memory during a
      // large download: 20k rows went from 11.6 s to 7.7 s in the browser bench (loaded machine).
      db.exec('PRAGMA journal_mode = TRUNCATE');
      db.exec('PRAGMA cache_size = -65536');
      chosen = 'opfs-sahpool';
      opfsFilename = filename;
      watchQuotaRefusals();
    } catch (e) {
      // A busy pool after waiting means another tab owns the file: never fall back to another store.
      // A full pool is an error too (falling back would hide the data already on OPFS), and so is a
      // database that may still be in the old shared pool.
      if (vfs !== 'auto' || (opfsWaitMs > 0 && isPoolBusy(e)) || (e instanceof Error && (e.name === POOL_FULL_ERROR || e.name === LEGACY_POOL_ERROR))) throw e;
    }
  }
  if (!chosen && (vfs === 'auto' || vfs === 'indexeddb') && typeof indexedDB !== 'undefined') {
    db = await openIndexedDb(s, filename);
    chosen = 'indexeddb';
  }
  if (!chosen) {
    if (vfs !== 'auto' && vfs !== 'memory') throw new Error(`SQLite VFS "${vfs}" is not available here`);
    db = new s.oo1.DB(':memory:', 'c');
    chosen = 'memory';
  }
  const opened = db;
  if (!opened) throw new Error('database did not open');
  opened.exec('PRAGMA temp_store = MEMORY');
  for (const f of functions.functions) {
    opened.createFunction(f.name, (_ctx: number, ...args: unknown[]) => f.fn(...(args as SqliteValue[])) as never, { arity: f.arity, deterministic: f.deterministic });
  }
  return chosen;
}

function run(sql: string, params: readonly SqliteValue[], collect: boolean): QueryResult {
  const s = sqlite3;
  if (!s || !db) throw new Error('database is not open');
  statements ??= new WasmStatements(s, db.pointer as number);
  return statements.run(sql, params, collect);
}

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.type) {
    case 'open':
      return { id: request.id, ok: true, result: { vfs: await open(request.filename, request.vfs, request.wasmUrl, request.opfsWaitMs ?? 0), poolWaitMs }, changed: [] };
    case 'execute': {
      const result = run(request.sql, request.params, true);
      await persist?.();
      return { id: request.id, ok: true, result, changed: functions.takeChangedTables() };
    }
    case 'batch': {
      let rowsAffected = 0;
      for (const params of request.paramSets) rowsAffected += run(request.sql, params, false).rowsAffected;
      await persist?.();
      return { id: request.id, ok: true, result: { rowsAffected }, changed: functions.takeChangedTables() };
    }
    case 'init':
      await init(request.wasmUrl);
      return { id: request.id, ok: true, changed: [] };
    case 'close':
      statements?.close();
      statements = undefined;
      await persist?.();
      db?.close();
      db = undefined;
      opfsFilename = undefined;
      return { id: request.id, ok: true, changed: [] };
  }
}

// Requests are handled strictly in order (the adapter sends one at a time, but be safe).
let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  queue = queue.then(async () => {
    let response: WorkerResponse;
    const refusedBefore = quotaRefusals();
    try {
      response = await handle(request);
    } catch (thrown) {
      const full = opfsFilename !== undefined && (request.type === 'execute' || request.type === 'batch') ? await storageFullError(opfsFilename, thrown, quotaRefusals() > refusedBefore) : undefined;
      const e = full ?? thrown;
      const error = e instanceof Error ? { message: e.message, name: e.name } : { message: String(e), name: 'Error' };
      response = { id: request.id, ok: false, error, changed: functions.takeChangedTables() };
    }
    self.postMessage(response);
  });
};
