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
import { silentLogger, type Logger } from '../../logger.ts';
import { TabCoordinator } from './multi-tab-adapter.ts';
import { POOL_FULL_ERROR, STORAGE_FULL_ERROR, type WasmVfs, type WorkerRequest, type WorkerResponse } from './worker-protocol.ts';

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
  /**
   * Share the database between the tabs of this origin (default: on where `navigator.locks` and
   * `BroadcastChannel` exist). One tab — the leader, elected with a Web Lock — opens the database
   * and syncs; the others run their statements on it and see its status and changes. When the
   * leader closes, another tab takes over. Off: each tab opens the file itself (OPFS allows one).
   */
  multiTab?: boolean;
  /**
   * How long opening waits for the OPFS pool while another worker (a closing leader tab, or this
   * tab before a reload) still holds it. Default 10 s in multi-tab mode, else 0.
   */
  opfsWaitMs?: number;
  /** Multi-tab: election and takeover events (which tab leads, how long opening took). */
  logger?: Logger;
}

/** True where multi-tab mode can work (Web Locks and BroadcastChannel). */
export function multiTabSupported(): boolean {
  return typeof navigator !== 'undefined' && 'locks' in navigator && typeof BroadcastChannel !== 'undefined';
}

export interface WasmSqliteAdapter extends SqliteAdapter {
  /** The storage backend actually in use. */
  readonly vfs: Exclude<WasmVfs, 'auto'>;
  /** How long opening waited for the OPFS pool to be released by another worker (ms). */
  readonly poolWaitMs?: number;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void };

/**
 * Opens the database in the worker; resolves once it is ready. In multi-tab mode (the default
 * where supported) it resolves once this tab leads (database open here) or found the leader.
 */
export async function openWasmSqlite(options: WasmSqliteOptions): Promise<WasmSqliteAdapter> {
  if (options.multiTab ?? multiTabSupported()) return openMultiTab(options);
  return openInWorker(options);
}

async function openMultiTab(options: WasmSqliteOptions): Promise<WasmSqliteAdapter> {
  let workerUsed = false;
  const coordinator = new TabCoordinator(options.filename, options.vfs ?? 'auto', options.logger ?? silentLogger, (vfs) => {
    workerUsed = true;
    return openInWorker({ ...options, vfs, opfsWaitMs: options.opfsWaitMs ?? 10_000 });
  });
  try {
    await coordinator.start();
    // A follower compiles SQLite WASM now, so that taking over later only has to open the file.
    if (!workerUsed) options.worker.postMessage({ id: 0, type: 'init', ...(options.wasmUrl ? { wasmUrl: String(options.wasmUrl) } : {}) } satisfies WorkerRequest);
  } catch (e) {
    await coordinator.close().catch(() => undefined);
    options.worker.terminate();
    throw e;
  }
  return {
    get name() {
      return `sqlite-wasm:${coordinator.vfs}:${options.filename}:${coordinator.role}`;
    },
    get vfs() {
      return coordinator.vfs;
    },
    multiTab: coordinator,
    execute: (sql, params) => coordinator.execute(sql, params),
    executeBatch: (sql, paramSets) => coordinator.executeBatch(sql, paramSets),
    takeChangedTables: () => coordinator.takeChangedTables(),
    async close() {
      await coordinator.close();
      if (!workerUsed) options.worker.terminate();
    },
  };
}

async function openInWorker(options: WasmSqliteOptions): Promise<WasmSqliteAdapter> {
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
      if (response.error.name === STORAGE_FULL_ERROR) throw new SynclineError(ClientErrorCodes.STORAGE_FULL, response.error.message);
      const error = new Error(response.error.message);
      error.name = response.error.name;
      throw error;
    }
    return response;
  };

  let opened: WorkerResponse & { ok: true };
  try {
    opened = await call({
      type: 'open',
      filename: options.filename,
      vfs: options.vfs ?? 'auto',
      opfsWaitMs: options.opfsWaitMs ?? 0,
      ...(options.wasmUrl ? { wasmUrl: String(options.wasmUrl) } : {}),
    });
  } catch (e) {
    worker.terminate();
    const code = e instanceof Error && e.name === POOL_FULL_ERROR ? ClientErrorCodes.OPFS_POOL_FULL : ClientErrorCodes.ADAPTER_ERROR;
    throw new SynclineError(code, `Could not open SQLite WASM database "${options.filename}": ${String(e)}`, { cause: e });
  }
  const { vfs, poolWaitMs } = opened.result as { vfs: Exclude<WasmVfs, 'auto'>; poolWaitMs?: number };

  return {
    name: `sqlite-wasm:${vfs}:${options.filename}`,
    vfs,
    poolWaitMs,
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
