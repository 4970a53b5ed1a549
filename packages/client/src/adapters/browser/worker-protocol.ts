/**
 * Messages between the browser adapter (main thread) and its SQLite worker. Values travel by
 * structured clone, so `bigint` and `Uint8Array` survive as they are.
 */
import type { QueryResult, SqliteValue } from '../../db/sqlite-adapter.ts';

/** Storage backends, best first. `auto` picks the first that works here. */
export type WasmVfs = 'auto' | 'opfs-sahpool' | 'indexeddb' | 'memory';

export type WorkerRequest =
  | { id: number; type: 'open'; filename: string; vfs: WasmVfs; wasmUrl?: string; opfsWaitMs?: number }
  | { id: number; type: 'execute'; sql: string; params: readonly SqliteValue[] }
  | { id: number; type: 'batch'; sql: string; paramSets: readonly (readonly SqliteValue[])[] }
  | { id: number; type: 'close' }
  /** Loads and compiles SQLite WASM without opening anything (a multi-tab follower, ready to take over). */
  | { id: number; type: 'init'; wasmUrl?: string };

export type WorkerResponse =
  | { id: number; ok: true; result?: QueryResult | { rowsAffected: number } | { vfs: Exclude<WasmVfs, 'auto'>; poolWaitMs?: number }; changed: string[] }
  | { id: number; ok: false; error: { message: string; name: string }; changed: string[] };

/** `error.name` of a worker's answer when the OPFS pool cannot hold the database (→ `OPFS_POOL_FULL`). */
export const POOL_FULL_ERROR = 'SynclineOpfsPoolFull';
/**
 * `error.name` of a worker's answer when the database may be in the OPFS pool all databases shared
 * up to 0.1 and could not be checked or moved out of it (→ `ADAPTER_ERROR`; its data is unchanged).
 */
export const LEGACY_POOL_ERROR = 'SynclineOpfsLegacyPool';
/**
 * `error.name` of a worker's answer when a write failed because the origin's storage quota is
 * used up (→ `STORAGE_FULL`).
 */
export const STORAGE_FULL_ERROR = 'SynclineStorageFull';
