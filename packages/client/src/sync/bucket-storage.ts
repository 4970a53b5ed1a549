/**
 * Download-side storage over SQL: stores data lines per bucket (reduced, see
 * `op-log-reduction.ts`), deletes buckets, validates checkpoint checksums and applies validated
 * checkpoints to the user tables atomically — only when the upload queue is empty and the latest
 * write checkpoint has come back (priority 0 excepted). Reference client §2.5–2.8.
 */
import { addChecksums } from '@syncline/protocol';
import type { DatabaseInternals } from '../db/syncline-database.ts';
import type { SqliteAdapter, SqliteValue } from '../db/sqlite-adapter.ts';
import { chunked, flatParams, valuesPlaceholders } from '../db/multi-row-sql.ts';
import { FULL_SYNC_PRIORITY, KV } from '../schema/internal-schema.ts';
import { DATA_PREFIX, quoteIdent } from '../schema/schema-ddl.ts';
import { reduceDataLine, rowKey, storedSubkey, type OplogEntry, type StoredOp } from './op-log-reduction.ts';
import { bucketStamp, keyHash, StoredKeyFilter, type IntSet } from './stored-key-filter.ts';
import type { BucketChecksum, Checkpoint } from './sync-lines.ts';

export interface BucketPosition {
  name: string;
  after: bigint;
}

export interface ChecksumFailure {
  bucket: string;
  expected: number;
  actual: number;
}

export type ApplyResult =
  | { status: 'applied'; changedTables: string[] }
  | { status: 'pending' }
  | { status: 'checksum_failed'; failures: ChecksumFailure[] };

export interface BucketCounters {
  atLast: number;
  sinceLast: number;
}

function json(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

/**
 * How a checkpoint's changed ops reach the data tables: `auto` walks the row index of every type
 * when the changed ops are at least half of the op log, else per type when most of its ops
 * changed, and sorts the changed ops otherwise (see `applyPlans`); the other two force one plan
 * (tests).
 */
export type ApplyPlan = 'auto' | 'walk-rows' | 'sort-changed';
/** The plan for one row type; `none`: only its `sl_updated_rows` are re-evaluated. */
type TypePlan = Exclude<ApplyPlan, 'auto'> | 'none';

export class BucketStorage {
  /** Keys stored in buckets watched since they were empty: most first-download lookups are skipped. */
  private readonly storedKeys = new StoredKeyFilter();

  constructor(
    private readonly db: DatabaseInternals,
    private readonly applyPlan: ApplyPlan = 'auto',
  ) {}

  /** `(name, after)` for every local bucket: what the next request resumes from. */
  async bucketPositions(): Promise<BucketPosition[]> {
    return this.db.read(async (a) => {
      const { rows } = await a.execute(`SELECT name, CAST(last_op AS TEXT) AS last_op FROM sl_buckets ORDER BY name`);
      return rows.map((r) => ({ name: String(r['name']), after: BigInt(String(r['last_op'])) }));
    });
  }

  async counters(): Promise<Map<string, BucketCounters>> {
    return this.db.read(async (a) => {
      const { rows } = await a.execute(`SELECT name, count_at_last, count_since_last FROM sl_buckets`);
      return new Map(rows.map((r) => [String(r['name']), { atLast: Number(r['count_at_last']), sinceLast: Number(r['count_since_last']) }]));
    });
  }

  /** Deletes buckets and their ops; their rows are re-evaluated at the next complete apply. */
  async deleteBuckets(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    this.storedKeys.clear();
    await this.db.write(async (a) => {
      const ids = `SELECT id FROM sl_buckets WHERE name IN (SELECT value FROM json_each(?))`;
      await a.execute(`INSERT OR IGNORE INTO sl_updated_rows (row_type, row_id) SELECT row_type, row_id FROM sl_oplog WHERE bucket IN (${ids})`, [json(names)]);
      await a.execute(`DELETE FROM sl_oplog WHERE bucket IN (${ids})`, [json(names)]);
      await a.execute(`DELETE FROM sl_buckets WHERE name IN (SELECT value FROM json_each(?))`, [json(names)]);
    });
  }

  /** Stores one data line for `bucket` in one transaction (ops, checksums and `last_op` together). */
  async storeData(bucket: string, ops: readonly OplogEntry[], byteLength: number): Promise<void> {
    if (ops.length === 0) return;
    await this.db.write((a) => this.storeLine(a, bucket, ops, byteLength));
  }

  /**
   * Stores consecutive data lines in one transaction, in order — the same result as one
   * {@link storeData} per line, with one commit instead of one per line.
   */
  async storeDataLines(lines: readonly { bucket: string; ops: readonly OplogEntry[]; byteLength: number }[]): Promise<void> {
    if (!lines.some((l) => l.ops.length > 0)) return;
    await this.db.write(async (a) => {
      for (const l of lines) if (l.ops.length > 0) await this.storeLine(a, l.bucket, l.ops, l.byteLength);
    });
  }

  private async storeLine(a: SqliteAdapter, bucket: string, ops: readonly OplogEntry[], byteLength: number): Promise<void> {
    await a.execute(`INSERT INTO sl_buckets (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, [bucket]);
    const b = (await a.execute(`SELECT id, last_applied_op, add_checksum, op_checksum, count_since_last FROM sl_buckets WHERE name = ?`, [bucket])).rows[0];
    if (!b) throw new Error(`bucket row for ${bucket} vanished`);
    const id = Number(b['id']);
    const known = this.storedKeys.known(id, bucketStamp(Number(b['add_checksum']), Number(b['op_checksum']), Number(b['count_since_last']))) ?? (await this.watchIfEmpty(a, id, b));
    // Stored ops for the keys this line touches, looked up by (row_type, row_id, bucket) — the
    // row-ordered index (internal-schema.ts) — with bound keys, one statement per chunk of keys;
    // in a watched bucket only keys it may hold. The op log stores the subkey; the key
    // (type/id/subkey) is rebuilt here.
    const lookups = new Map<string, [string, string, string]>();
    for (const op of ops) {
      if ((op.op === 'PUT' || op.op === 'REMOVE') && op.objectType && op.objectId !== undefined) {
        const key = rowKey(op.objectType, op.objectId, op.subkey);
        const hash = known ? keyHash(key) : 0;
        if (known && !known.has(hash)) known.add(hash);
        else lookups.set(key, [op.objectType, op.objectId, storedSubkey(op.subkey)]);
      }
    }
    const existing = new Map<string, StoredOp>();
    const rowids = new Map<string, number>();
    for (const chunk of chunked([...lookups.values()])) {
      const { rows } = await a.execute(
        `WITH k (t, i, s) AS (VALUES ${valuesPlaceholders(chunk.length, 3)}) ` +
          `SELECT o.rowid AS r, o.subkey, o.row_type, o.row_id, o.hash FROM k CROSS JOIN sl_oplog o INDEXED BY sl_oplog_by_row_bucket ` +
          `ON o.row_type = k.t AND o.row_id = k.i AND o.bucket = ? AND o.subkey = k.s`,
        [...flatParams(chunk, (l) => l), id],
      );
      for (const r of rows) {
        const [rowType, rowId, subkey] = [String(r['row_type']), String(r['row_id']), String(r['subkey'])];
        const key = rowKey(rowType, rowId, subkey);
        existing.set(key, { key, subkey, opId: 0n, rowType, rowId, data: '', hash: Number(r['hash']) });
        rowids.set(key, Number(r['r']));
      }
    }
    const r = reduceDataLine(ops, existing, Number(b['last_applied_op']) === 0);
    let add = Number(b['add_checksum']);
    let opSum = Number(b['op_checksum']);
    if (r.reset) {
      await a.execute(`INSERT OR IGNORE INTO sl_updated_rows (row_type, row_id) SELECT row_type, row_id FROM sl_oplog WHERE bucket = ?`, [id]);
      await a.execute(`DELETE FROM sl_oplog WHERE bucket = ?`, [id]);
      await a.execute(`UPDATE sl_buckets SET last_applied_op = 0 WHERE id = ?`, [id]);
      add = r.addDelta;
      opSum = r.opDelta;
    } else {
      if (r.deleteKeys.length > 0) {
        // deleteKeys are keys of stored ops, all looked up above.
        await a.execute(`DELETE FROM sl_oplog WHERE rowid IN (SELECT value FROM json_each(?))`, [json(r.deleteKeys.map((k) => rowids.get(k)))]);
      }
      add = addChecksums(add, r.addDelta);
      opSum = addChecksums(opSum, r.opDelta);
    }
    for (const chunk of chunked(r.inserts)) {
      await a.execute(
        `INSERT INTO sl_oplog (bucket, op_id, row_type, row_id, subkey, data, hash) VALUES ${valuesPlaceholders(chunk.length, 7)}`,
        flatParams(chunk, (s) => [id, s.opId, s.rowType, s.rowId, s.subkey, s.data, s.hash]),
      );
    }
    for (const chunk of chunked(r.updatedRows)) {
      await a.execute(`INSERT OR IGNORE INTO sl_updated_rows (row_type, row_id) VALUES ${valuesPlaceholders(chunk.length, 2)}`, flatParams(chunk, (u) => [u.rowType, u.rowId]));
    }
    await a.execute(
      `UPDATE sl_buckets SET last_op = ?, add_checksum = ?, op_checksum = ?, count_since_last = count_since_last + ?, downloaded_bytes = downloaded_bytes + ? WHERE id = ?`,
      [r.lastOpId ?? 0n, add, opSum, r.count, byteLength, id],
    );
    if (known) this.storedKeys.stored(id, bucketStamp(add, opSum, Number(b['count_since_last']) + r.count));
  }

  /**
   * Starts watching bucket `id` (row `b`) if it holds no ops: both checksums 0 (as every empty
   * bucket but one emptied by a CLEAR), confirmed by the op index.
   */
  private async watchIfEmpty(a: SqliteAdapter, id: number, b: Record<string, SqliteValue>): Promise<IntSet | undefined> {
    if (Number(b['add_checksum']) !== 0 || Number(b['op_checksum']) !== 0) return undefined;
    const { rows } = await a.execute(`SELECT 1 FROM sl_oplog INDEXED BY sl_oplog_by_op WHERE bucket = ? LIMIT 1`, [id]);
    return rows.length === 0 ? this.storedKeys.watch(id) : undefined;
  }

  /**
   * Validates and (gate permitting) applies `checkpoint` — all buckets when `priority` is null,
   * else those with priority ≤ `priority`. Checksum failures are reported, not deleted: the
   * caller deletes them with {@link deleteBuckets} and reconnects.
   */
  async syncLocal(checkpoint: Checkpoint, priority: number | null): Promise<ApplyResult> {
    return this.db.write(async (a, changed) => {
      const scope = [...checkpoint.buckets.values()].filter((b) => priority === null || b.priority <= priority);
      const names = scope.map((b) => b.bucket);
      const failures = await this.validate(a, scope);
      if (failures.length > 0) return { status: 'checksum_failed', failures } as const;

      await a.executeBatch(
        `INSERT INTO sl_buckets (name, last_op) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_op = excluded.last_op`,
        names.map((n) => [n, checkpoint.lastOpId]),
      );
      if (priority === null && checkpoint.writeCheckpoint !== null) {
        await a.execute(`INSERT OR REPLACE INTO sl_kv (key, value) VALUES (?, ?)`, [KV.lastSeen, checkpoint.writeCheckpoint]);
      }
      if (priority !== 0 && !(await this.gateOpen(a))) return { status: 'pending' } as const;

      const tables = await this.applyRows(a, names, priority === null);
      for (const t of tables) changed.add(t);
      await a.execute(`UPDATE sl_buckets SET last_applied_op = last_op WHERE name IN (SELECT value FROM json_each(?))`, [json(names)]);
      const now = Date.now();
      if (priority === null) {
        // count_since_last goes back to 0 below, so no watched bucket's stamp holds any more.
        this.storedKeys.clear();
        await a.execute(`DELETE FROM sl_updated_rows`);
        await a.execute(`DELETE FROM sl_sync_state`);
        await a.execute(`INSERT INTO sl_sync_state (priority, last_synced_at) VALUES (?, ?)`, [FULL_SYNC_PRIORITY, now]);
        if (checkpoint.writeCheckpoint !== null) {
          await a.execute(`INSERT OR REPLACE INTO sl_kv (key, value) VALUES (?, ?)`, [KV.lastApplied, checkpoint.writeCheckpoint]);
        }
        await a.executeBatch(
          `UPDATE sl_buckets SET count_at_last = coalesce(?, count_at_last + count_since_last), count_since_last = 0 WHERE name = ?`,
          scope.map((b) => [b.count ?? null, b.bucket]),
        );
      } else {
        await a.execute(`DELETE FROM sl_sync_state WHERE priority <= ?`, [priority]);
        await a.execute(`INSERT INTO sl_sync_state (priority, last_synced_at) VALUES (?, ?)`, [priority, now]);
      }
      return { status: 'applied', changedTables: tables } as const;
    });
  }

  /** Whether the apply gate is open: nothing queued, and the target write checkpoint was seen. */
  async isGateOpen(): Promise<boolean> {
    return this.db.read((a) => this.gateOpen(a));
  }

  private async gateOpen(a: SqliteAdapter): Promise<boolean> {
    if ((await a.execute(`SELECT 1 FROM sl_crud LIMIT 1`)).rows.length > 0) return false;
    const kv = await a.execute(`SELECT key, CAST(value AS TEXT) AS v FROM sl_kv WHERE key IN (?, ?)`, [KV.target, KV.lastSeen]);
    const value = (key: string): bigint | undefined => {
      const row = kv.rows.find((r) => r['key'] === key);
      return row ? BigInt(String(row['v'])) : undefined;
    };
    const target = value(KV.target);
    return target === undefined || target <= (value(KV.lastSeen) ?? 0n);
  }

  private async validate(a: SqliteAdapter, scope: readonly BucketChecksum[]): Promise<ChecksumFailure[]> {
    const { rows } = await a.execute(`SELECT name, add_checksum, op_checksum FROM sl_buckets WHERE name IN (SELECT value FROM json_each(?))`, [
      json(scope.map((b) => b.bucket)),
    ]);
    const actual = new Map(rows.map((r) => [String(r['name']), addChecksums(Number(r['add_checksum']), Number(r['op_checksum']))]));
    const failures: ChecksumFailure[] = [];
    for (const b of scope) {
      const got = actual.get(b.bucket) ?? 0;
      if (got !== b.checksum >>> 0) failures.push({ bucket: b.bucket, expected: b.checksum >>> 0, actual: got });
    }
    return failures;
  }

  /**
   * Publishes the winning version of every affected row; returns the schema tables touched.
   * Affected rows: ops newer than their bucket's `last_applied_op` (in scope), plus — for a
   * complete apply — `sl_updated_rows`. The visible version of a row is its op with the highest
   * op_id across buckets (across in-scope buckets for a partial apply); no op left = deleted.
   */
  private async applyRows(a: SqliteAdapter, names: readonly string[], complete: boolean): Promise<string[]> {
    const scope = json(names);
    const scopeIds = `SELECT id FROM sl_buckets WHERE name IN (SELECT value FROM json_each(?))`;
    // Driven by (bucket, op_id): only ops newer than the last apply, however large the bucket.
    const changedOps = `sl_buckets b JOIN sl_oplog o INDEXED BY sl_oplog_by_op ON o.bucket = b.id AND o.op_id > b.last_applied_op WHERE b.id IN (${scopeIds})`;
    const plans = await this.applyPlans(a, scope, changedOps, complete);
    // Winner test: no op of the same row with a higher op_id (in scope, for a partial apply).
    const newest = `NOT EXISTS (SELECT 1 FROM sl_oplog o2 WHERE o2.row_type = c.row_type AND o2.row_id = c.row_id AND o2.op_id > c.op_id${complete ? '' : ` AND o2.bucket IN (${scopeIds})`})`;
    const winnerData = `(SELECT o.data FROM sl_oplog o WHERE o.row_type = u.row_type AND o.row_id = u.row_id ORDER BY o.op_id DESC LIMIT 1)`;
    const touched: string[] = [];
    for (const [type, plan] of plans) {
      const table = this.db.schema.table(type);
      const typed = table !== undefined && !table.localOnly;
      // Synced tables get (id, data); anything else goes to sl_untyped (type, id, data).
      const target = typed ? `${quoteIdent(DATA_PREFIX + type)} (id, data)` : `sl_untyped (type, id, data)`;
      const typeColumn = typed ? '' : '?, ';
      const typeParam: SqliteValue[] = typed ? [] : [type];
      const scopeParams: SqliteValue[] = complete ? [] : [scope];
      let affected = 0;
      if (plan === 'walk-rows') {
        // Most ops changed (a first download): walk the row index, already in row order, one group
        // per row. max() makes the group's other columns those of its newest op (SQLite's bare
        // columns), which is published if it is in scope and changed: no sort of the changed ops,
        // and no winner lookup per op (that NOT EXISTS was a third of this statement's time).
        affected += (
          await a.execute(
            `INSERT OR REPLACE INTO ${target} SELECT ${typeColumn}c.row_id, c.data FROM sl_oplog c INDEXED BY sl_oplog_by_row_bucket ` +
              `WHERE c.row_type = ?${complete ? '' : ` AND c.bucket IN (${scopeIds})`} GROUP BY c.row_id ` +
              `HAVING c.bucket IN (${scopeIds}) AND max(c.op_id) > (SELECT last_applied_op FROM sl_buckets WHERE id = c.bucket)`,
            [...typeParam, type, ...scopeParams, scope],
          )
        ).rowsAffected;
      } else if (plan === 'sort-changed') {
        // Changed ops in row-id order (sorted in memory; LIMIT -1 keeps SQLite from flattening the
        // subquery so the sort happens before the winner test): the winner lookups walk the row index
        // and the inserts walk the table's primary key in order instead of jumping around B-trees
        // larger than the page cache (random UUID ids made both dominate a large download).
        affected += (
          await a.execute(
            `INSERT OR REPLACE INTO ${target} SELECT ${typeColumn}c.row_id, c.data FROM ` +
              `(SELECT o.row_type, o.row_id, o.op_id, o.data FROM ${changedOps} AND o.row_type = ? ORDER BY o.row_id LIMIT -1) c WHERE ${newest}`,
            [...typeParam, scope, type, ...scopeParams],
          )
        ).rowsAffected;
      }
      if (complete) {
        affected += (
          await a.execute(
            `INSERT OR REPLACE INTO ${target} SELECT ${typeColumn}u.row_id, ${winnerData} AS data FROM sl_updated_rows u WHERE u.row_type = ? AND data IS NOT NULL`,
            [...typeParam, type],
          )
        ).rowsAffected;
        const gone = `SELECT u.row_id FROM sl_updated_rows u WHERE u.row_type = ? AND NOT EXISTS (SELECT 1 FROM sl_oplog o WHERE o.row_type = u.row_type AND o.row_id = u.row_id)`;
        if (typed) affected += (await a.execute(`DELETE FROM ${quoteIdent(DATA_PREFIX + type)} WHERE id IN (${gone})`, [type])).rowsAffected;
        else affected += (await a.execute(`DELETE FROM sl_untyped WHERE type = ? AND id IN (${gone})`, [type, type])).rowsAffected;
      }
      if (typed && affected > 0) touched.push(type);
    }
    return touched;
  }

  /**
   * How each row type's changed ops are applied: `walk-rows` (walk the type's row index) when
   * most ops changed, `sort-changed` otherwise, `none` for a type with only `sl_updated_rows`
   * (complete applies). When the changed ops are at least half of the op log (a first download)
   * every type is walked — at most twice the changed ops in all — and the types come from the
   * row index (one seek per type) instead of a count of the changed ops by type, which read the
   * table row of every changed op (~0.5 s for 1M ops).
   */
  private async applyPlans(a: SqliteAdapter, scope: string, changedOps: string, complete: boolean): Promise<Map<string, TypePlan>> {
    const plans = new Map<string, TypePlan>();
    const changed = Number((await a.execute(`SELECT count(*) AS n FROM ${changedOps}`, [scope])).rows[0]?.['n'] ?? 0);
    if (changed > 0) {
      const total = Number((await a.execute(`SELECT count(*) AS n FROM sl_oplog`)).rows[0]?.['n'] ?? 0);
      if (this.applyPlan === 'walk-rows' || (this.applyPlan === 'auto' && 2 * changed >= total)) {
        const { rows } = await a.execute(
          `WITH RECURSIVE t (x) AS (SELECT min(row_type) FROM sl_oplog UNION ALL SELECT (SELECT min(row_type) FROM sl_oplog WHERE row_type > t.x) FROM t WHERE t.x IS NOT NULL) ` +
            `SELECT x FROM t WHERE x IS NOT NULL`,
        );
        for (const r of rows) plans.set(String(r['x']), 'walk-rows');
      } else {
        for (const r of (await a.execute(`SELECT o.row_type AS t, count(*) AS n FROM ${changedOps} GROUP BY o.row_type`, [scope])).rows) {
          const type = String(r['t']);
          plans.set(type, this.applyPlan === 'auto' && (await this.mostOpsChanged(a, type, Number(r['n']))) ? 'walk-rows' : 'sort-changed');
        }
      }
    }
    if (complete) {
      for (const r of (await a.execute(`SELECT DISTINCT row_type AS t FROM sl_updated_rows`)).rows) if (!plans.has(String(r['t']))) plans.set(String(r['t']), 'none');
    }
    return plans;
  }

  /**
   * Whether `changed` ops are at least half of all ops of `type` in the op log — counted through
   * the row index only up to twice `changed`, so the check never costs more than the apply itself.
   */
  private async mostOpsChanged(a: SqliteAdapter, type: string, changed: number): Promise<boolean> {
    const { rows } = await a.execute(`SELECT count(*) AS n FROM (SELECT 1 FROM sl_oplog INDEXED BY sl_oplog_by_row_bucket WHERE row_type = ? LIMIT ?)`, [type, 2 * changed + 1]);
    return Number(rows[0]?.['n'] ?? 0) <= 2 * changed;
  }
}
