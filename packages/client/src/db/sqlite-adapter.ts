/**
 * The one interface every SQLite backend implements (Node: better-sqlite3; browser: SQLite WASM
 * in a worker). It is deliberately small: statements, batches and change notifications. Locking,
 * transactions and everything Syncline-specific live above it, in `SynclineDatabase`.
 *
 * Contract for implementers:
 * - a single connection; calls are issued one at a time by the caller (no concurrency needed);
 * - integers that do not fit a double are returned as `bigint` (never silently rounded) — or,
 *   where the backend cannot, callers read 64-bit values via `CAST(x AS TEXT)`;
 * - the SQL functions of {@link SQL_FUNCTIONS} are registered on the connection before use
 *   (see `createSqlFunctions()` in `sql-functions.ts`), and the tables reported through
 *   `syncline_table_changed(name)` are returned by {@link SqliteAdapter.takeChangedTables}.
 */
import type { FetchLike } from '../sync/fetch.ts';
import type { MultiTabLink } from './multi-tab-link.ts';

export type SqliteValue = null | number | bigint | string | Uint8Array;
export type SqliteRow = Record<string, SqliteValue>;

export interface QueryResult<T = SqliteRow> {
  rows: T[];
  /** Rows changed by an INSERT/UPDATE/DELETE (0 for statements on views, as in SQLite). */
  rowsAffected: number;
  insertId: number | bigint | undefined;
}

export interface SqliteAdapter {
  /** Short name for logs and diagnostics, e.g. `better-sqlite3:/data/app.db`. */
  readonly name: string;
  /** Runs one statement (reading or writing) and returns its rows, if any. */
  execute(sql: string, params?: readonly SqliteValue[]): Promise<QueryResult>;
  /** Runs one statement once per parameter set (no transaction of its own). */
  executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }>;
  /** Table names reported by `syncline_table_changed()` since the previous call, then resets. */
  takeChangedTables(): Promise<string[]>;
  close(): Promise<void>;
  /**
   * The platform's HTTP client for the sync service, used when `connect()` is given no `fetch`
   * (the Node adapter supplies one over `node:http`, see `adapters/node/node-fetch.ts`); absent =
   * the global `fetch`.
   */
  readonly platformFetch?: FetchLike;
  /** Present when the database is shared between browser tabs (see `multi-tab-link.ts`). */
  readonly multiTab?: MultiTabLink;
}

/** Names of the SQL functions an adapter must register (implemented in `sql-functions.ts`). */
export const SQL_FUNCTIONS = {
  tableChanged: 'syncline_table_changed',
  uuid: 'uuid',
} as const;
