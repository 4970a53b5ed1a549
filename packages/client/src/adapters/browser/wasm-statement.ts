/**
 * Prepared statements over SQLite WASM's raw C API (`sqlite3.wasm.exports`): prepare, bind, step,
 * read columns and reset through WASM memory directly, with statements cached by SQL text.
 *
 * The `oo1` layer of `@sqlite.org/sqlite-wasm` checks and converts every argument generically
 * (argument adapters, a malloc + free per bound string, a `column_name` lookup per value read). Its
 * cost dominated storing a large download in the browser: 100,000 op-log inserts took ~4.5 s of
 * the worker's time. Values keep exactly the mapping the `oo1` path had (checked value by value in
 * `test/wasm-statement.test.ts`): integers read back as `number` when safe, else `bigint`; an empty
 * string binds as '' (never NULL); blobs read back as copies.
 */
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import type { QueryResult, SqliteRow, SqliteValue } from '../../db/sqlite-adapter.ts';

export type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
const SQLITE_INTEGER = 1;
const SQLITE_FLOAT = 2;
const SQLITE_TEXT = 3;
const SQLITE_BLOB = 4;
const SQLITE_TRANSIENT = -1;
const SQLITE_PREPARE_PERSISTENT = 1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_LIMIT = 2 ** 63;

/** The raw exports used here; every pointer is a 32-bit offset into WASM memory. */
interface RawApi {
  sqlite3_prepare_v3(db: number, sql: number, bytes: number, flags: number, outStmt: number, outTail: number): number;
  sqlite3_finalize(stmt: number): number;
  sqlite3_reset(stmt: number): number;
  sqlite3_clear_bindings(stmt: number): number;
  sqlite3_step(stmt: number): number;
  sqlite3_bind_parameter_count(stmt: number): number;
  sqlite3_bind_null(stmt: number, i: number): number;
  sqlite3_bind_int(stmt: number, i: number, v: number): number;
  sqlite3_bind_int64(stmt: number, i: number, v: bigint): number;
  sqlite3_bind_double(stmt: number, i: number, v: number): number;
  sqlite3_bind_text(stmt: number, i: number, p: number, n: number, destructor: number): number;
  sqlite3_bind_blob(stmt: number, i: number, p: number, n: number, destructor: number): number;
  sqlite3_column_count(stmt: number): number;
  sqlite3_column_name(stmt: number, i: number): number;
  sqlite3_column_type(stmt: number, i: number): number;
  sqlite3_column_int64(stmt: number, i: number): bigint;
  sqlite3_column_double(stmt: number, i: number): number;
  sqlite3_column_text(stmt: number, i: number): number;
  sqlite3_column_blob(stmt: number, i: number): number;
  sqlite3_column_bytes(stmt: number, i: number): number;
  sqlite3_changes(db: number): number;
  sqlite3_last_insert_rowid(db: number): bigint;
  sqlite3_errmsg(db: number): number;
  sqlite3_malloc(n: number): number;
  sqlite3_free(p: number): void;
}

/** An error from SQLite, shaped like `oo1`'s (`name` SQLite3Error, message `SQLITE_X: sqlite3 result code N: …`). */
export class WasmSqliteError extends Error {
  constructor(
    message: string,
    readonly resultCode: number,
  ) {
    super(message);
    this.name = 'SQLite3Error';
  }
}

interface Prepared {
  pointer: number;
  parameterCount: number;
  /** Column names, read once (empty for statements that return no rows). */
  columns: string[];
}

/** Prepared statements of one open database, cached by SQL text (least recently prepared evicted). */
export class WasmStatements {
  private readonly raw: RawApi;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private readonly cache = new Map<string, Prepared>();
  /** Scratch memory for bound strings and blobs (SQLite copies them: SQLITE_TRANSIENT). */
  private scratch = 0;
  private scratchSize = 0;
  /** One pointer-sized out-parameter for prepare. */
  private readonly outPointer: number;

  constructor(
    private readonly sqlite3: Sqlite3,
    private readonly db: number,
    private readonly maxCached = 200,
  ) {
    this.raw = sqlite3.wasm.exports as RawApi;
    if (!(sqlite3.wasm as unknown as { bigIntEnabled: boolean }).bigIntEnabled) throw new Error('SQLite WASM was built without BigInt support');
    this.outPointer = this.malloc(8);
    this.reserve(4096);
  }

  /** Runs `sql` once with `params`; rows are collected only when `collect` is set. */
  run(sql: string, params: readonly SqliteValue[], collect: boolean): QueryResult {
    const stmt = this.prepare(sql);
    const p = stmt.pointer;
    const raw = this.raw;
    try {
      this.bindAll(stmt, params);
      const rows: SqliteRow[] = [];
      const reader = stmt.columns.length > 0;
      for (;;) {
        const rc = raw.sqlite3_step(p);
        if (rc === SQLITE_ROW) {
          if (collect && reader) rows.push(this.readRow(stmt));
        } else if (rc === SQLITE_DONE) {
          break;
        } else {
          throw this.error(raw.sqlite3_reset(p) || rc);
        }
      }
      return {
        rows,
        rowsAffected: reader ? 0 : raw.sqlite3_changes(this.db),
        insertId: reader ? undefined : Number(raw.sqlite3_last_insert_rowid(this.db)),
      };
    } finally {
      raw.sqlite3_reset(p);
      raw.sqlite3_clear_bindings(p);
    }
  }

  /** Finalizes every cached statement and frees the scratch memory (before closing the database). */
  close(): void {
    for (const stmt of this.cache.values()) this.raw.sqlite3_finalize(stmt.pointer);
    this.cache.clear();
    this.raw.sqlite3_free(this.scratch);
    this.raw.sqlite3_free(this.outPointer);
    this.scratch = 0;
    this.scratchSize = 0;
  }

  private prepare(sql: string): Prepared {
    const cached = this.cache.get(sql);
    if (cached) return cached;
    const raw = this.raw;
    const bytes = this.writeText(sql, 1);
    this.sqlite3.wasm.heap8u()[this.scratch + bytes] = 0;
    const rc = raw.sqlite3_prepare_v3(this.db, this.scratch, bytes, SQLITE_PREPARE_PERSISTENT, this.outPointer, 0);
    if (rc !== 0) throw this.error(rc);
    const pointer = new Int32Array(this.sqlite3.wasm.heap8u().buffer, this.outPointer, 1)[0] ?? 0;
    if (pointer === 0) throw new WasmSqliteError('Cannot prepare empty SQL.', 1);
    const columns: string[] = [];
    const count = raw.sqlite3_column_count(pointer);
    for (let i = 0; i < count; i++) columns.push(this.sqlite3.wasm.cstrToJs(raw.sqlite3_column_name(pointer, i)) ?? '');
    const stmt: Prepared = { pointer, parameterCount: raw.sqlite3_bind_parameter_count(pointer), columns };
    this.cache.set(sql, stmt);
    if (this.cache.size > this.maxCached) {
      const [oldestSql, oldest] = this.cache.entries().next().value as [string, Prepared];
      raw.sqlite3_finalize(oldest.pointer);
      this.cache.delete(oldestSql);
    }
    return stmt;
  }

  private bindAll(stmt: Prepared, params: readonly SqliteValue[]): void {
    if (params.length === 0) return;
    if (stmt.parameterCount === 0) throw new WasmSqliteError('This statement has no bindable parameters.', 25);
    if (params.length > stmt.parameterCount) throw new WasmSqliteError(`Bind index ${params.length} is out of range.`, 25);
    const raw = this.raw;
    const p = stmt.pointer;
    for (let i = 0; i < params.length; i++) {
      const v = params[i] as unknown;
      const index = i + 1;
      let rc: number;
      if (v === null || v === undefined) {
        rc = raw.sqlite3_bind_null(p, index);
      } else if (typeof v === 'string') {
        // writeText may move the scratch buffer: read its address after writing.
        const bytes = this.writeText(v, 0);
        rc = raw.sqlite3_bind_text(p, index, this.scratch, bytes, SQLITE_TRANSIENT);
      } else if (typeof v === 'number') {
        if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) rc = raw.sqlite3_bind_int(p, index, v);
        else if (Number.isInteger(v) && v >= -INT64_LIMIT && v < INT64_LIMIT) rc = raw.sqlite3_bind_int64(p, index, BigInt(v));
        else rc = raw.sqlite3_bind_double(p, index, v);
      } else if (typeof v === 'bigint') {
        if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new WasmSqliteError(`BigInt value is too big to store without precision loss: ${v}`, 25);
        rc = raw.sqlite3_bind_int64(p, index, v);
      } else if (typeof v === 'boolean') {
        rc = raw.sqlite3_bind_int(p, index, v ? 1 : 0);
      } else if (v instanceof Uint8Array) {
        this.reserve(v.byteLength);
        this.sqlite3.wasm.heap8u().set(v, this.scratch);
        rc = raw.sqlite3_bind_blob(p, index, this.scratch, v.byteLength, SQLITE_TRANSIENT);
      } else {
        throw new WasmSqliteError(`Unsupported bind() argument type: ${typeof v}`, 25);
      }
      if (rc !== 0) throw this.error(rc);
    }
  }

  private readRow(stmt: Prepared): SqliteRow {
    const raw = this.raw;
    const p = stmt.pointer;
    const row: SqliteRow = {};
    const { columns } = stmt;
    for (let i = 0; i < columns.length; i++) {
      let value: SqliteValue;
      switch (raw.sqlite3_column_type(p, i)) {
        case SQLITE_INTEGER: {
          const n = raw.sqlite3_column_int64(p, i);
          value = n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
          break;
        }
        case SQLITE_FLOAT:
          value = raw.sqlite3_column_double(p, i);
          break;
        case SQLITE_TEXT: {
          const text = raw.sqlite3_column_text(p, i);
          const n = raw.sqlite3_column_bytes(p, i);
          value = text === 0 ? '' : this.decoder.decode(this.sqlite3.wasm.heap8u().subarray(text, text + n));
          break;
        }
        case SQLITE_BLOB: {
          const blob = raw.sqlite3_column_blob(p, i);
          const n = raw.sqlite3_column_bytes(p, i);
          value = n === 0 ? new Uint8Array(0) : this.sqlite3.wasm.heap8u().slice(blob, blob + n);
          break;
        }
        default:
          value = null;
      }
      row[columns[i] as string] = value;
    }
    return row;
  }

  /** UTF-8-encodes `text` into the scratch memory (with `extra` bytes to spare); returns its length in bytes. */
  private writeText(text: string, extra: number): number {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.reserve(text.length * 3 + extra);
    const heap = this.sqlite3.wasm.heap8u();
    return this.encoder.encodeInto(text, heap.subarray(this.scratch, this.scratch + this.scratchSize)).written;
  }

  private reserve(bytes: number): void {
    if (bytes <= this.scratchSize && this.scratch !== 0) return;
    let size = Math.max(this.scratchSize, 4096);
    while (size < bytes) size *= 2;
    if (this.scratch !== 0) this.raw.sqlite3_free(this.scratch);
    this.scratch = this.malloc(size);
    this.scratchSize = size;
  }

  private malloc(bytes: number): number {
    const p = this.raw.sqlite3_malloc(bytes);
    if (p === 0) throw new WasmSqliteError('SQLITE_NOMEM: out of memory', 7);
    return p;
  }

  private error(rc: number): WasmSqliteError {
    const code = this.sqlite3.capi.sqlite3_js_rc_str(rc) ?? `SQLITE_${rc}`;
    return new WasmSqliteError(`${code}: sqlite3 result code ${rc}: ${this.sqlite3.wasm.cstrToJs(this.raw.sqlite3_errmsg(this.db))}`, rc);
  }
}
