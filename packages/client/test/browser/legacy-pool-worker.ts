/**
 * The SQLite worker as it was up to 0.1, for the migration tests: every database of the origin in
 * one `opfs-sahpool` pool, `.syncline-sahpool` (VFS `syncline-sahpool`, default capacity, no
 * growing, no guard, no hot-journal recovery), journal mode TRUNCATE. It speaks the worker
 * protocol, so the real adapter and `SynclineDatabase` create the database exactly as an old app
 * did: tables, views, triggers, rows and upload-queue entries.
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { createSqlFunctions } from '../../src/db/sql-functions.ts';
import { WasmStatements, type Sqlite3 } from '../../src/adapters/browser/wasm-statement.ts';
import type { WorkerRequest, WorkerResponse } from '../../src/adapters/browser/worker-protocol.ts';

const functions = createSqlFunctions();
let sqlite3: Sqlite3 | undefined;
let db: InstanceType<Sqlite3['oo1']['DB']> | undefined;
let statements: WasmStatements | undefined;

async function handle(request: WorkerRequest): Promise<WorkerResponse> {
  switch (request.type) {
    case 'init':
      return { id: request.id, ok: true, changed: [] };
    case 'open': {
      sqlite3 ??= await sqlite3InitModule();
      const pool = await sqlite3.installOpfsSAHPoolVfs({ name: 'syncline-sahpool', directory: '.syncline-sahpool' } as never);
      db = new pool.OpfsSAHPoolDb(`/${request.filename}`);
      db.exec('PRAGMA journal_mode = TRUNCATE');
      db.exec('PRAGMA temp_store = MEMORY');
      for (const f of functions.functions) db.createFunction(f.name, (_ctx: number, ...args: unknown[]) => f.fn(...(args as never[])) as never, { arity: f.arity, deterministic: f.deterministic });
      statements = new WasmStatements(sqlite3, db.pointer as number);
      return { id: request.id, ok: true, result: { vfs: 'opfs-sahpool' }, changed: [] };
    }
    case 'execute':
      return { id: request.id, ok: true, result: statements!.run(request.sql, request.params, true), changed: functions.takeChangedTables() };
    case 'batch': {
      let rowsAffected = 0;
      for (const params of request.paramSets) rowsAffected += statements!.run(request.sql, params, false).rowsAffected;
      return { id: request.id, ok: true, result: { rowsAffected }, changed: functions.takeChangedTables() };
    }
    case 'close':
      statements?.close();
      db?.close();
      return { id: request.id, ok: true, changed: [] };
  }
}

let queue: Promise<void> = Promise.resolve();
self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  queue = queue.then(async () => {
    let response: WorkerResponse;
    try {
      response = await handle(request);
    } catch (e) {
      response = { id: request.id, ok: false, error: { message: String(e), name: e instanceof Error ? e.name : 'Error' }, changed: [] };
    }
    self.postMessage(response);
  });
};
