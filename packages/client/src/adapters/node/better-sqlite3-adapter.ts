/**
 * Node adapter over better-sqlite3 12 (synchronous, in-process). Opens the file in WAL mode,
 * caches prepared statements, returns integers beyond 2^53 as `bigint`.
 *
 * @example
 * import { openBetterSqlite3 } from '@syncline/client/node';
 * const database = openBetterSqlite3({ path: './app.db' });
 * const db = new SynclineDatabase({ schema, database });
 */
import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import { SynclineError, ClientErrorCodes } from '../../errors.ts';
import { createSqlFunctions } from '../../db/sql-functions.ts';
import type { QueryResult, SqliteAdapter, SqliteRow, SqliteValue } from '../../db/sqlite-adapter.ts';
import type { FetchLike } from '../../sync/fetch.ts';
import { nodeFetch } from './node-fetch.ts';
import { WalCheckpointer } from './wal-checkpointer.ts';

export interface BetterSqlite3Options {
  /** File path, or `:memory:`. */
  path: string;
  /** An existing connection to use instead of opening `path` (it is closed by `close()`). */
  database?: Database.Database;
  /** `PRAGMA synchronous` (default `NORMAL`, safe with WAL). */
  synchronous?: 'OFF' | 'NORMAL' | 'FULL';
  /** SQLite page cache in KiB (default 65 536 = 64 MiB; big downloads touch several large indexes). */
  cacheSizeKb?: number;
  /**
   * WAL size in pages (4 KiB) at which a commit checkpoints it (default 16 384 = 64 MiB, SQLite's
   * default is 1,000): a large download checkpoints a few times instead of every ~4 MB, writing
   * each hot index page to the database file once per checkpoint rather than once per few commits.
   */
  walAutocheckpointPages?: number;
  /**
   * Checkpoint the WAL from a worker thread: the copy into the database file and its fsync run off
   * the event loop (see `wal-checkpointer.ts`); `false` = SQLite's automatic checkpoints on this
   * connection. Default: on with 2 or more cores — the worker needs a second core. On 2 cores
   * shared with a sync API and Postgres, a 1M-row download took 17.2–17.7 s with it against
   * 19.3–20.2 s without, once the sync API needed less CPU (BENCHMARKS.md, issue 14).
   */
  backgroundCheckpoints?: boolean;
  /** Statement cache size (default 200). */
  statementCacheSize?: number;
  /**
   * The HTTP client for the sync service when `connect()` gets no `fetch` (default: `nodeFetch()`
   * over `node:http`, identity encoding on loopback, gzip elsewhere; `null` = the global `fetch`).
   */
  platformFetch?: FetchLike | null;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

export function openBetterSqlite3(options: BetterSqlite3Options): SqliteAdapter {
  return new BetterSqlite3Adapter(options);
}

class BetterSqlite3Adapter implements SqliteAdapter {
  readonly name: string;
  readonly platformFetch: FetchLike | undefined;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly cacheSize: number;
  private readonly functions = createSqlFunctions();
  private readonly checkpointer: WalCheckpointer | undefined;

  constructor(options: BetterSqlite3Options) {
    this.name = `better-sqlite3:${options.path}`;
    this.cacheSize = options.statementCacheSize ?? 200;
    this.platformFetch = options.platformFetch === null ? undefined : (options.platformFetch ?? nodeFetch());
    try {
      this.db = options.database ?? new Database(options.path);
      if (options.path !== ':memory:') this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      this.db.pragma(`cache_size = -${options.cacheSizeKb ?? 65536}`);
      this.db.pragma('temp_store = MEMORY');
      const walPages = options.walAutocheckpointPages ?? 16384;
      if (options.path !== ':memory:' && walPages > 0 && (options.backgroundCheckpoints ?? availableParallelism() >= 2)) {
        // The worker checkpoints; a reset WAL is cut back to what it holds, so its file size
        // tells how much it holds (wal-checkpointer.ts).
        this.db.pragma('wal_autocheckpoint = 0');
        this.db.pragma('journal_size_limit = 0');
        this.checkpointer = new WalCheckpointer({
          path: this.db.name,
          pages: walPages,
          checkpointHere: () => void this.db.pragma('wal_checkpoint(PASSIVE)'),
          restoreAutocheckpoint: () => void this.db.pragma(`wal_autocheckpoint = ${walPages}`),
        });
      } else this.db.pragma(`wal_autocheckpoint = ${walPages}`);
      for (const f of this.functions.functions) {
        this.db.function(f.name, { deterministic: f.deterministic, varargs: true }, (...args: unknown[]) =>
          f.fn(...(args as SqliteValue[])),
        );
      }
    } catch (e) {
      throw new SynclineError(ClientErrorCodes.ADAPTER_ERROR, `Could not open SQLite database ${options.path}: ${String(e)}`, { cause: e });
    }
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (stmt) {
      // Keep most recently used at the end (simple LRU).
      this.statements.delete(sql);
      this.statements.set(sql, stmt);
      return stmt;
    }
    stmt = this.db.prepare(sql);
    if (stmt.reader) stmt.safeIntegers(true);
    this.statements.set(sql, stmt);
    if (this.statements.size > this.cacheSize) {
      const oldest = this.statements.keys().next().value;
      if (oldest !== undefined) this.statements.delete(oldest);
    }
    return stmt;
  }

  async execute(sql: string, params: readonly SqliteValue[] = []): Promise<QueryResult> {
    return this.executeSync(sql, params);
  }

  private executeSync(sql: string, params: readonly SqliteValue[]): QueryResult {
    const stmt = this.prepare(sql);
    const bound = params.map(toBindable);
    if (stmt.reader) {
      const raw = stmt.all(...bound) as Record<string, unknown>[];
      return { rows: raw.map(normaliseRow), rowsAffected: 0, insertId: undefined };
    }
    const info = stmt.run(...bound);
    // A COMMIT, or a write outside a transaction, may have grown the WAL.
    if (this.checkpointer && !this.db.inTransaction) this.checkpointer.afterCommit();
    return { rows: [], rowsAffected: info.changes, insertId: info.lastInsertRowid };
  }

  async executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }> {
    const stmt = this.prepare(sql);
    let rowsAffected = 0;
    for (const params of paramSets) {
      if (stmt.reader) stmt.all(...params.map(toBindable));
      else rowsAffected += stmt.run(...params.map(toBindable)).changes;
    }
    return { rowsAffected };
  }

  async takeChangedTables(): Promise<string[]> {
    return this.functions.takeChangedTables();
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

function toBindable(v: unknown): unknown {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === undefined) return null;
  return v;
}

function normaliseRow(row: Record<string, unknown>): SqliteRow {
  for (const key in row) {
    const v = row[key];
    if (typeof v === 'bigint' && v <= MAX_SAFE && v >= MIN_SAFE) row[key] = Number(v);
  }
  return row as SqliteRow;
}
