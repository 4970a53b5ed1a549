/**
 * Browser adapter: SQLite WASM (`@sqlite.org/sqlite-wasm`) running in a dedicated worker, with
 * persistent storage (OPFS `opfs-sahpool`, falling back to IndexedDB). See `sqlite-worker.ts`.
 *
 * @example
 * import { openWasmSqlite } from '@syncline/client/browser';
 * const worker = new Worker(new URL('./syncline-sqlite-worker.js', import.meta.url), { type: 'module' });
 * const database = await openWasmSqlite({ filename: 'app.db', worker });
 * const db = new SynclineDatabase({ schema, database });
 */
import { ClientErrorCodes, SynclineError } from '../../errors.ts';
import type { QueryResult, SqliteAdapter, SqliteValue } from '../../db/sqlite-adapter.ts';
import type { WasmVfs, WorkerRequest, WorkerResponse } from './worker-protocol.ts';

export interface WasmSqliteOptions {
  /** Database file name (one per app/user). */
  filename: string;
  /** A worker running `@syncline/client/browser-worker` (terminated by `close()`). */
  worker: Worker;
  /** Storage backend (default `auto`: OPFS, then IndexedDB, then memory). */
  vfs?: WasmVfs;
  /**
   * Where the worker loads `sqlite3.wasm` from (default: next to the worker script). Bundlers that
   * rename assets give you the URL, e.g. Vite: `import wasmUrl from '@syncline/client/sqlite3.wasm?url'`.
   */
  wasmUrl?: string | URL;
}

export interface WasmSqliteAdapter extends SqliteAdapter {
  /** The storage backend actually in use. */
  readonly vfs: Exclude<WasmVfs, 'auto'>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void };

/** Opens the database in the worker; resolves once it is ready. */
export async function openWasmSqlite(options: WasmSqliteOptions): Promise<WasmSqliteAdapter> {
  const { worker } = options;
  const pending = new Map<number, Pending>();
  const changed = new Set<string>();
  let nextId = 1;
  let closed = false;
  worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
    const response = event.data;
    for (const t of response.changed) changed.add(t);
    const p = pending.get(response.id);
    pending.delete(response.id);
    p?.resolve(response);
  };
  worker.onerror = (event: ErrorEvent) => {
    const error = new SynclineError(ClientErrorCodes.ADAPTER_ERROR, `SQLite worker failed: ${event.message}`);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  const call = async (request: WithoutId<WorkerRequest>): Promise<WorkerResponse & { ok: true }> => {
    if (closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The SQLite worker was closed');
    const id = nextId++;
    const response = await new Promise<WorkerResponse>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
    if (!response.ok) {
      const error = new Error(response.error.message);
      error.name = response.error.name;
      throw error;
    }
    return response;
  };

  let opened: WorkerResponse & { ok: true };
  try {
    opened = await call({ type: 'open', filename: options.filename, vfs: options.vfs ?? 'auto', ...(options.wasmUrl ? { wasmUrl: String(options.wasmUrl) } : {}) });
  } catch (e) {
    worker.terminate();
    throw new SynclineError(ClientErrorCodes.ADAPTER_ERROR, `Could not open SQLite WASM database "${options.filename}": ${String(e)}`, { cause: e });
  }
  const vfs = (opened.result as { vfs: Exclude<WasmVfs, 'auto'> }).vfs;

  return {
    name: `sqlite-wasm:${vfs}:${options.filename}`,
    vfs,
    async execute(sql: string, params: readonly SqliteValue[] = []): Promise<QueryResult> {
      return (await call({ type: 'execute', sql, params: [...params] })).result as QueryResult;
    },
    async executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }> {
      return (await call({ type: 'batch', sql, paramSets: paramSets.map((p) => [...p]) })).result as { rowsAffected: number };
    },
    async takeChangedTables(): Promise<string[]> {
      const out = [...changed];
      changed.clear();
      return out;
    },
    async close(): Promise<void> {
      if (closed) return;
      await call({ type: 'close' }).catch(() => undefined);
      closed = true;
      worker.terminate();
    },
  };
}
