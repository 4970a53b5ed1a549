/**
 * @syncline/client — local-first SQLite with sync to a Syncline (PowerSync-compatible) service.
 * Adapters: `@syncline/client/node` (better-sqlite3), `@syncline/client/browser` (SQLite WASM).
 */
export { SynclineDatabase, type SynclineDatabaseOptions, type StatusListener } from './db/syncline-database.ts';
export type { SqliteAdapter, SqliteValue, SqliteRow, QueryResult } from './db/sqlite-adapter.ts';
export { SQL_FUNCTIONS } from './db/sqlite-adapter.ts';
export type { ClearOptions, MultiTabLink, MultiTabEvents, TabRole } from './db/multi-tab-link.ts';
export { createSqlFunctions, type SqlFunction, type SqlFunctionSet } from './db/sql-functions.ts';
export type { Transaction, QueryRunner } from './db/transaction.ts';
export type { WatchOptions, WatchHandler } from './db/watch.ts';
export { Schema, type ResolvedTable } from './schema/schema.ts';
export { Table, column, type ColumnType, type TableOptions, type RowType } from './schema/table.ts';
export { CrudEntry, type UpdateType, type CrudEntryJson, type CrudValue } from './upload/crud-entry.ts';
export type { CrudBatch, CrudTransaction, UploadQueueStats } from './upload/crud-queue.ts';
export type { BackendConnector, ConnectOptions, SynclineCredentials } from './sync/connect-options.ts';
export { composeFetch, withHeaders, withObserver, type FetchLike, type FetchDecorator } from './sync/fetch.ts';
export { statusForPriority, type SyncStatus, type PriorityStatus, type DownloadProgress } from './sync/sync-status.ts';
export type { SyncTransport } from './sync/sync-line-stream.ts';
export type { WebSocketConstructor, WebSocketLike } from './sync/websocket-stream.ts';
export { FULL_SYNC_PRIORITY } from './schema/internal-schema.ts';
export { SynclineError, ClientErrorCodes, isSynclineError, type ClientErrorCode } from './errors.ts';
export { silentLogger, type Logger } from './logger.ts';
export { SyncStream, SyncStreamSubscription, type SyncStreamSubscribeOptions } from './streams/sync-stream.ts';
export type { SyncStreamDescription, SyncSubscriptionDescription, SyncStreamStatus } from './streams/stream-status.ts';
export type { StreamParameters } from './streams/stream-key.ts';
export { DEFAULT_STREAM_TTL_SECONDS } from './streams/stream-key.ts';
