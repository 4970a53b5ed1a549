/**
 * The database the app talks to: local SQLite queries and transactions, watched queries, the
 * upload queue, and the connection to a Syncline (or PowerSync) service.
 *
 * @example
 * import { SynclineDatabase, Schema, Table, column } from '@syncline/client';
 * import { openBetterSqlite3 } from '@syncline/client/node';
 *
 * const db = new SynclineDatabase({
 *   schema: new Schema({ todos: new Table({ description: column.text, done: column.integer }) }),
 *   database: openBetterSqlite3({ path: 'app.db' }),
 * });
 * await db.execute('INSERT INTO todos (id, description, done) VALUES (uuid(), ?, 0)', ['buy milk']);
 * for await (const rows of db.watch('SELECT * FROM todos ORDER BY description')) render(rows);
 * await db.connect({ fetchCredentials: async () => ({ endpoint, token }), uploadData: async (db) => { … } });
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { applySchema } from '../schema/apply-schema.ts';
import { FULL_SYNC_PRIORITY, KV, migrateInternalSchema } from '../schema/internal-schema.ts';
import { DATA_PREFIX, LOCAL_PREFIX, quoteIdent } from '../schema/schema-ddl.ts';
import type { Schema } from '../schema/schema.ts';
import { INITIAL_STATUS, statusChanged, statusForPriority, type PriorityStatus, type SyncStatus } from '../sync/sync-status.ts';
import { CrudQueue, type CrudBatch, type CrudTransaction, type UploadQueueStats } from '../upload/crud-queue.ts';
import type { BackendConnector, ConnectOptions } from '../sync/connect-options.ts';
import { SyncClient } from '../sync/sync-client.ts';
import { StreamManager } from '../streams/stream-manager.ts';
import { canonicalParameters, validateStreamName } from '../streams/stream-key.ts';
import { SyncStream } from '../streams/sync-stream.ts';
import { Mutex } from './mutex.ts';
import { retryOnLeaderChange, type ClearOptions } from './multi-tab-link.ts';
import type { QueryResult, SqliteAdapter, SqliteRow, SqliteValue } from './sqlite-adapter.ts';
import { resolveQueryTables, TableChanges } from './table-changes.ts';
import { runTransaction, type QueryRunner, type Transaction } from './transaction.ts';
import { startWatch, watchIterable, type WatchHandler, type WatchOptions } from './watch.ts';

export interface SynclineDatabaseOptions {
  schema: Schema;
  /** An opened SQLite adapter (`openBetterSqlite3(...)`, `openWasmSqlite(...)`). */
  database: SqliteAdapter;
  logger?: Logger;
}

/** Access for the sync and upload machinery (not part of the public API). */
export interface DatabaseInternals {
  readonly adapter: SqliteAdapter;
  readonly schema: Schema;
  readonly logger: Logger;
  /** A write transaction on the raw adapter; `changed` tables are announced after commit. */
  write<T>(fn: (db: SqliteAdapter, changed: Set<string>) => Promise<T>): Promise<T>;
  /** Read statements on the raw adapter under the connection lock. */
  read<T>(fn: (db: SqliteAdapter) => Promise<T>): Promise<T>;
  updateStatus(patch: Partial<SyncStatus>): void;
  readonly status: SyncStatus;
  readonly changes: TableChanges;
}

export interface StatusListener {
  (status: SyncStatus): void;
}

export class SynclineDatabase implements QueryRunner {
  readonly schema: Schema;
  readonly logger: Logger;
  /** Resolves once the database is open and the schema applied. */
  readonly ready: Promise<void>;
  private readonly adapter: SqliteAdapter;
  private readonly lock = new Mutex();
  private readonly changes = new TableChanges();
  private readonly statusListeners = new Set<StatusListener>();
  private readonly crud: CrudQueue;
  private status: SyncStatus = INITIAL_STATUS;
  private closed = false;
  private sync: SyncClient | undefined;
  private clientId: string | undefined;
  private readonly internals: DatabaseInternals;
  private readonly streams: StreamManager;
  /** The last `connect()` (kept while disconnected from the leader role, used on promotion). */
  private wanted: { connector: BackendConnector; options: ConnectOptions } | undefined;
  private offMultiTab: (() => void) | undefined;

  constructor(options: SynclineDatabaseOptions) {
    this.schema = options.schema;
    this.adapter = options.database;
    this.logger = options.logger ?? silentLogger;
    const status = (): SyncStatus => this.status;
    this.internals = {
      adapter: this.adapter,
      schema: this.schema,
      logger: this.logger,
      write: (fn) => this.lockedWrite(fn),
      read: (fn) => this.locked(async () => fn(this.adapter)),
      updateStatus: (patch) => this.setStatus({ ...this.status, ...patch }),
      get status() {
        return status();
      },
      changes: this.changes,
    };
    this.crud = new CrudQueue(this.internals);
    this.streams = new StreamManager(this.internals);
    this.offMultiTab = this.adapter.multiTab?.subscribe({
      changes: (tables) => this.changes.emit(tables),
      status: (s) => {
        if (this.adapter.multiTab?.role === 'follower') this.setStatus(s);
      },
      promoted: () => void this.onPromoted(),
      clearRequested: (options) => this.disconnectAndClear(options),
      streams: (keys) => void this.streams.setRemoteLive(keys).catch((e: unknown) => this.logger.warn('Could not take over the stream subscriptions of other tabs', { message: String(e) })),
    });
    // A follower does not sync: the leader requests the subscriptions this tab holds.
    this.streams.onChange(() => {
      if (this.adapter.multiTab?.role === 'follower') this.adapter.multiTab.publishStreams(this.streams.heldKeys());
    });
    this.ready = retryOnLeaderChange(() => this.initialize());
    this.ready.catch(() => undefined); // surfaced by every call that awaits it
  }

  private async initialize(): Promise<void> {
    await this.lockedWrite(async (db) => {
      await migrateInternalSchema(db, () => globalThis.crypto.randomUUID());
      await applySchema(db, this.schema);
    });
    const entries = await this.locked(async () => {
      const { rows } = await this.adapter.execute(`SELECT priority, last_synced_at FROM sl_sync_state ORDER BY priority`);
      return rows.map((r): PriorityStatus => ({ priority: Number(r['priority']), lastSyncedAt: new Date(Number(r['last_synced_at'])), hasSynced: true }));
    });
    const full = entries.find((e) => e.priority === FULL_SYNC_PRIORITY);
    this.setStatus({ ...this.status, priorityStatusEntries: entries, hasSynced: full !== undefined, lastSyncedAt: full?.lastSyncedAt });
    await this.streams.load();
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
    return this.adapter.multiTab ? this.adapter.multiTab.exclusive(fn) : this.lock.run(fn);
  }

  /** Committed changes: to this tab's listeners and, on the multi-tab leader, to the other tabs. */
  private announce(changed: ReadonlySet<string>): void {
    this.changes.emit(changed);
    if (changed.size > 0 && this.adapter.multiTab?.role === 'leader') this.adapter.multiTab.publishChanges(changed);
  }

  /** Multi-tab: this tab now owns the database; take over syncing if the app asked for it. */
  private async onPromoted(): Promise<void> {
    if (this.closed) return;
    this.logger.info('This tab is now the multi-tab leader', { tabId: this.adapter.multiTab?.tabId });
    this.setStatus({ ...this.status, connected: false, connecting: false, downloading: false, downloadProgress: null, uploading: false });
    await this.ready.catch(() => undefined);
    // The old leader may have committed something it could not announce before it went away:
    // every tab re-runs its watches once.
    this.announce(new Set([...this.schema.tables.map((t) => t.name), 'sl_crud']));
    // (Stream subscriptions other tabs stored are read when the request is assembled.)
    const wanted = this.wanted;
    if (wanted && !this.closed) await this.connect(wanted.connector, wanted.options);
  }

  private async lockedWrite<T>(fn: (db: SqliteAdapter, changed: Set<string>) => Promise<T>): Promise<T> {
    const changed = new Set<string>();
    const { result, committed } = await this.locked(async () => {
      try {
        return await runTransaction(this.adapter, 'write', () => fn(this.adapter, changed));
      } finally {
        for (const t of await this.adapter.takeChangedTables()) changed.add(t);
      }
    });
    if (committed) this.announce(changed);
    return result;
  }

  private async whenReady(): Promise<void> {
    await this.ready;
  }

  // ---- queries --------------------------------------------------------------------------------

  /** Runs one statement in its own write transaction (local writes are queued for upload). */
  async execute(sql: string, params: readonly SqliteValue[] = []): Promise<QueryResult> {
    await this.whenReady();
    return retryOnLeaderChange(() => this.lockedWrite((db) => db.execute(sql, params)));
  }

  /** Runs one statement for each parameter set, all in one write transaction. */
  async executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }> {
    await this.whenReady();
    return retryOnLeaderChange(() => this.lockedWrite((db) => db.executeBatch(sql, paramSets)));
  }

  private async read(sql: string, params: readonly SqliteValue[]): Promise<QueryResult> {
    await this.whenReady();
    return retryOnLeaderChange(() => this.locked(() => this.adapter.execute(sql, params)));
  }

  async getAll<T = SqliteRow>(sql: string, params: readonly SqliteValue[] = []): Promise<T[]> {
    return (await this.read(sql, params)).rows as T[];
  }

  async getOptional<T = SqliteRow>(sql: string, params: readonly SqliteValue[] = []): Promise<T | null> {
    return ((await this.read(sql, params)).rows[0] as T | undefined) ?? null;
  }

  async get<T = SqliteRow>(sql: string, params: readonly SqliteValue[] = []): Promise<T> {
    const row = (await this.read(sql, params)).rows[0] as T | undefined;
    if (row === undefined) throw new SynclineError(ClientErrorCodes.RESULT_EMPTY, 'Result set is empty');
    return row;
  }

  /** A read-only transaction: a consistent snapshot; always rolled back at the end. */
  async readTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    await this.whenReady();
    return (await this.locked(() => runTransaction(this.adapter, 'read', fn))).result;
  }

  /**
   * A write transaction: commits when `fn` resolves, rolls back when it throws. Use the `tx`
   * argument inside — calling `db.execute` there would wait for the lock forever.
   */
  async writeTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    await this.whenReady();
    const changed = new Set<string>();
    const { result, committed } = await this.locked(async () => {
      try {
        return await runTransaction(this.adapter, 'write', fn);
      } finally {
        for (const t of await this.adapter.takeChangedTables()) changed.add(t);
      }
    });
    if (committed) this.announce(changed);
    return result;
  }

  // ---- watches --------------------------------------------------------------------------------

  /** Re-runs the query whenever a table it reads changes; as an async iterator. */
  watch<T = SqliteRow>(sql: string, params?: readonly SqliteValue[], options?: WatchOptions<T>): AsyncIterable<T[]>;
  /** Re-runs the query whenever a table it reads changes; returns a function that stops it. */
  watch<T = SqliteRow>(sql: string, params: readonly SqliteValue[], handler: WatchHandler<T>, options?: WatchOptions<T>): () => void;
  watch<T = SqliteRow>(
    sql: string,
    params: readonly SqliteValue[] = [],
    handlerOrOptions?: WatchHandler<T> | WatchOptions<T>,
    options?: WatchOptions<T>,
  ): AsyncIterable<T[]> | (() => void) {
    const source = {
      resolveTables: async () => {
        await this.whenReady();
        return retryOnLeaderChange(() => this.locked(() => resolveQueryTables(this.adapter, sql, params)));
      },
      run: () => this.getAll<T>(sql, params),
      changes: this.changes,
    };
    if (handlerOrOptions && 'onResult' in handlerOrOptions) return startWatch(source, handlerOrOptions, options);
    return watchIterable(source, handlerOrOptions);
  }

  /** Calls `listener` with the changed table names after each committed write touching `tables`. */
  onChange(tables: readonly string[] | undefined, listener: (changed: ReadonlySet<string>) => void): () => void {
    const wanted = tables ? new Set(tables) : undefined;
    return this.changes.subscribe((changed) => {
      if (!wanted || [...changed].some((t) => wanted.has(t))) listener(changed);
    });
  }

  /** The tables a query reads (views resolved to their schema table names). */
  async resolveTables(sql: string, params: readonly SqliteValue[] = []): Promise<string[]> {
    await this.whenReady();
    return retryOnLeaderChange(() => this.locked(() => resolveQueryTables(this.adapter, sql, params)));
  }

  // ---- upload queue ---------------------------------------------------------------------------

  /** Up to `limit` queued writes (across transactions), or null when the queue is empty. */
  async getCrudBatch(limit = 100): Promise<CrudBatch | null> {
    await this.whenReady();
    return this.crud.getCrudBatch(limit);
  }

  /** The writes of the oldest queued transaction, or null when the queue is empty. */
  async getNextCrudTransaction(): Promise<CrudTransaction | null> {
    await this.whenReady();
    return this.crud.getNextCrudTransaction();
  }

  async getUploadQueueStats(): Promise<UploadQueueStats> {
    await this.whenReady();
    return this.crud.stats();
  }

  /** The stable id of this installation (sent as `client_id`). */
  async getClientId(): Promise<string> {
    await this.whenReady();
    if (this.clientId === undefined) {
      const row = await this.getOptional<{ value: string }>(`SELECT value FROM sl_kv WHERE key = ?`, [KV.clientId]);
      this.clientId = String(row?.value);
    }
    return this.clientId;
  }

  // ---- status ---------------------------------------------------------------------------------

  get currentStatus(): SyncStatus {
    return this.status;
  }

  get connected(): boolean {
    return this.status.connected;
  }

  /** Calls `listener` with every new status; returns an unsubscribe function. */
  onStatusChanged(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** PowerSync-style alias: `registerListener({ statusChanged })`. */
  registerListener(listener: { statusChanged?: StatusListener }): () => void {
    return listener.statusChanged ? this.onStatusChanged(listener.statusChanged) : () => undefined;
  }

  private setStatus(next: SyncStatus): void {
    if (!statusChanged(this.status, next)) {
      this.status = next;
      return;
    }
    this.status = Object.freeze(next);
    if (this.adapter.multiTab?.role === 'leader') this.adapter.multiTab.publishStatus(this.status);
    for (const l of [...this.statusListeners]) l(this.status);
  }

  /** Resolves once `predicate(status)` holds (checked now and on every change). */
  async waitForStatus(predicate: (status: SyncStatus) => boolean, signal?: AbortSignal): Promise<void> {
    if (predicate(this.status)) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        off();
        reject(new SynclineError(ClientErrorCodes.ABORTED, 'Aborted while waiting for sync status'));
      };
      const off = this.onStatusChanged((s) => {
        if (predicate(s)) {
          off();
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves once a complete checkpoint (or one at `priority`) has been applied, ever. */
  async waitForFirstSync(options: { priority?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.whenReady();
    const { priority } = options;
    await this.waitForStatus((s) => (priority === undefined ? s.hasSynced === true : statusForPriority(s, priority).hasSynced), options.signal);
  }

  // ---- sync streams ---------------------------------------------------------------------------

  /**
   * A Sync Stream with parameters (`null`/omitted = none). Parameters are plain JSON; two objects
   * with the same members in another key order are the same subscription. Throws
   * `INVALID_ARGUMENT` for an empty name or non-JSON parameters.
   *
   * @example
   * const sub = await db.syncStream('list_todos', { list: 'l1' }).subscribe({ ttl: 600, priority: 1 });
   * await sub.waitForFirstSync();
   * db.currentStatus.forStream({ name: 'list_todos', parameters: { list: 'l1' } })?.progress;
   * await sub.unsubscribe();
   */
  syncStream(name: string, parameters?: Record<string, unknown> | null): SyncStream {
    return new SyncStream(this.streams, this, validateStreamName(name), canonicalParameters(parameters));
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /**
   * Starts syncing with the service the connector points to (replacing any current connection).
   * Resolves once the first connection attempt has settled; errors surface in the status.
   */
  async connect(connector: BackendConnector, options: ConnectOptions = {}): Promise<void> {
    await this.whenReady();
    if (this.closed) throw new SynclineError(ClientErrorCodes.DATABASE_CLOSED, 'The database is closed');
    await this.disconnect();
    this.wanted = { connector, options };
    // Multi-tab follower: the leader tab syncs for everyone; this tab takes over when promoted.
    if (this.adapter.multiTab?.role === 'follower') return;
    const client = new SyncClient(this, this.internals, this.crud, this.streams, connector, options, () => this.getClientId());
    this.sync = client;
    await client.start();
  }

  /** Stops syncing and uploading; local writes keep queuing. */
  async disconnect(): Promise<void> {
    const client = this.sync;
    this.sync = undefined;
    this.wanted = undefined;
    if (client) await client.stop();
  }

  /**
   * Disconnects and deletes all synced data (and local-only data unless `clearLocal: false`) — log
   * out. Multi-tab: from any tab, sync stops in every tab and every tab sees the cleared database.
   */
  async disconnectAndClear(options: ClearOptions = {}): Promise<void> {
    await this.disconnect();
    await this.whenReady();
    // Multi-tab follower: the leader syncs for every tab, so it stops and clears (the statements
    // would run on its connection anyway); its status and change notifications reach this tab.
    const byLeader = this.adapter.multiTab?.role === 'follower' && (await this.adapter.multiTab.clearOnLeader(options));
    if (!byLeader) {
      await this.lockedWrite(async (db, changed) => {
        for (const table of ['sl_oplog', 'sl_buckets', 'sl_crud', 'sl_updated_rows', 'sl_untyped', 'sl_sync_state']) {
          await db.execute(`DELETE FROM ${table}`);
        }
        await db.execute(`DELETE FROM sl_kv WHERE key != ?`, [KV.clientId]);
        for (const t of this.schema.tables) {
          if (t.localOnly && options.clearLocal === false) continue;
          await db.execute(`DELETE FROM ${quoteIdent((t.localOnly ? LOCAL_PREFIX : DATA_PREFIX) + t.name)}`);
          changed.add(t.name);
        }
        changed.add('sl_crud');
      });
    }
    this.setStatus({ ...this.status, hasSynced: false, lastSyncedAt: undefined, priorityStatusEntries: [], downloadError: undefined, uploadError: undefined });
    if (byLeader) await this.streams.refresh(true);
    else await this.streams.afterClear();
  }

  /** Disconnects and closes the SQLite connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.disconnect();
    await this.ready.catch(() => undefined);
    this.streams.close();
    this.offMultiTab?.();
    if (this.adapter.multiTab) {
      // The shared adapter waits for this tab's statements itself; no session on the leader needed.
      this.closed = true;
      await this.adapter.close();
    } else {
      await this.lock.run(async () => {
        this.closed = true;
        await this.adapter.close();
      });
    }
    this.statusListeners.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
