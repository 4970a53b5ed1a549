/**
 * Writes replicated changes of one sync-rules version to Postgres storage: op-log, parameter
 * index, per-row state and per-bucket checksum state, all in one storage transaction per flush,
 * plus the checkpoint advance (with NOTIFY) when the flush ends at a source commit.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { evaluateRowChange, type PendingOp, type PendingParameterRow, type RawRow, type RowEvaluator, type RowState } from '../replication/row-ops.ts';
import { advanceCheckpoint, type CheckpointAdvance } from './pg-checkpoint.ts';
import { copyRows } from './pg-copy.ts';
import { sourceKeyHash } from './source-key-hash.ts';

/** One source-row change, in source order. row = null means delete. */
export interface SourceChange {
  sourceTable: number;
  evaluator: RowEvaluator;
  key: string;
  row: RawRow | null;
  /** Complete old row (REPLICA IDENTITY FULL) used to fill unchanged TOAST columns. */
  oldImage?: Record<string, string | null> | null;
}

export interface FlushStats {
  changes: number;
  ops: number;
  parameterRows: number;
  lastOpId: bigint | null;
  /**
   * Updates that carried unchanged TOAST values for rows without a stored image: nothing was
   * written for them; the caller re-reads them from the source by key.
   */
  incomplete: Array<{ sourceTable: number; key: string }>;
  /**
   * Deletes (including the delete half of a key-changing update) whose key matched no stored row,
   * per source table id. Expected while a table catches up after its snapshot; otherwise a sign
   * that the key pgoutput sends does not identify stored rows (the caller logs and counts them).
   */
  unmatchedDeletes: Map<number, number>;
  checkpoint: { opId: bigint; lsn: string } | null;
  activated: boolean;
}

/** Evaluated (not yet stored) ops, parameter rows and row states of one batch. */
export interface PreparedBatch {
  ops: Map<string, PendingOp>;
  params: Map<string, PendingParameterRow>;
  liveDelta: Map<string, number>;
  touched: Map<string, { sourceTable: number; key: string }>;
  states: Map<string, RowState | null>;
  /** Rows that already had stored state before this batch (updated in place; the rest are appended). */
  existing: Set<string>;
  incomplete: Array<{ sourceTable: number; key: string }>;
  unmatchedDeletes: Map<number, number>;
}

export interface FlushOptions {
  /**
   * Every row is new to storage (a table snapshot chunk: its source table id is new and the chunk
   * lies past the persisted resume key), so no previous state is loaded and rows are appended.
   */
  fresh?: boolean;
  /** Result of prepareFresh() for exactly these changes. */
  prepared?: PreparedBatch;
  /** Re-reads rows by key from the source when an update could not be applied (unchanged TOAST, no image). */
  reread?: (keys: Array<{ sourceTable: number; key: string }>) => Promise<SourceChange[]>;
}

/** Row images are kept only for rows this large: smaller rows cannot have out-of-line TOAST values. */
export const ROW_IMAGE_MIN_CHARS = 1000;

export interface CommitInfo {
  lsn: string;
  /** Source transactions covered by this flush (for counters). */
  transactions: number;
  /** Oldest source commit time covered, for lag (ms since epoch). */
  oldestCommitTime?: number;
}

export class PgReplicationWriter {
  /** Highest op_id this writer has persisted (for checkpoints). */
  private lastOpId: bigint | null = null;
  /** Runs inside every flush transaction just before COMMIT and throws to roll it back (replication fencing). */
  fence: ((client: pg.PoolClient) => Promise<void>) | null = null;

  constructor(
    readonly pool: pg.Pool,
    readonly versionId: number,
    private readonly logger: Logger,
    /** The version's wire-subkey secret (getSubkeySalt); REMOVE checksums hash the opaque subkey. */
    private readonly subkeySalt: string | null,
  ) {}

  /**
   * Persists a batch of changes; when `commit` is given, also advances the checkpoint to its LSN
   * if the version is consistent. Everything happens in one storage transaction.
   */
  async flush(
    changes: SourceChange[],
    commit?: CommitInfo,
    extra?: (client: pg.PoolClient) => Promise<void>,
    options: FlushOptions = {},
  ): Promise<FlushStats> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Flushes that acknowledge nothing (snapshot chunks, parts of a large source transaction) need
      // not wait for their WAL flush: if Postgres crashes they are lost together with their resume
      // position and are redone. The next flush that ends at a commit (and is acknowledged to the
      // source) commits synchronously, which makes every earlier write durable first.
      if (!commit) await client.query('SET LOCAL synchronous_commit TO off');
      // Everything that may be slow comes first: loading row states, re-reading rows from the source
      // (same transaction: the checkpoint below must not cover a change that was skipped), row
      // states, the caller's extra writes and counters.
      const batch = await this.prepareBatch(client, changes, options);
      if (batch) await this.saveStates(client, batch.batch.touched, batch.batch.states, batch.batch.existing);
      if (extra) await extra(client);
      if (commit) {
        await client.query(
          `INSERT INTO syncline.replication_stats (version_id, rows_replicated, ops_written, transactions, last_commit_at, lag_seconds, updated_at)
           VALUES ($1, $2, $3, $4, now(), $5, now())
           ON CONFLICT (version_id) DO UPDATE SET rows_replicated = replication_stats.rows_replicated + excluded.rows_replicated,
             ops_written = replication_stats.ops_written + excluded.ops_written,
             transactions = replication_stats.transactions + excluded.transactions,
             last_commit_at = CASE WHEN excluded.transactions > 0 THEN now() ELSE replication_stats.last_commit_at END,
             lag_seconds = excluded.lag_seconds, updated_at = now()`,
          [
            this.versionId,
            changes.length,
            batch?.batch.ops.size ?? 0,
            commit.transactions,
            commit.oldestCommitTime ? Math.max(0, Math.round((Date.now() - commit.oldestCommitTime) / 1000)) : 0,
          ],
        );
      }
      // Last: op ids. The single-row counter is shared by every writer (all versions, defragment)
      // and its lock is held until COMMIT, so only the op writes and the checkpoint follow it.
      const lastOpId = batch ? await this.writeOps(client, batch.batch) : this.lastOpId;
      let checkpoint: FlushStats['checkpoint'] = null;
      let activated = false;
      if (commit) {
        const r = await this.advanceCheckpoint(client, commit.lsn);
        checkpoint = r.checkpoint;
        activated = r.activated;
      }
      // The fence locks the version row (FOR UPDATE), like the checkpoint advance: after the counter
      // and bucket_state, in the lock order every writer and defragmentation share.
      if (this.fence) await this.fence(client);
      await client.query('COMMIT');
      return {
        changes: batch?.changes ?? 0,
        ops: batch?.batch.ops.size ?? 0,
        parameterRows: batch?.batch.params.size ?? 0,
        lastOpId,
        incomplete: batch?.batch.incomplete ?? [],
        unmatchedDeletes: batch?.batch.unmatchedDeletes ?? new Map(),
        checkpoint,
        activated,
      };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /**
   * Evaluates a batch of rows that are all new to storage (see FlushOptions.fresh) without touching
   * the database, so a caller can prepare the next snapshot chunk while the previous one is written.
   */
  prepareFresh(changes: SourceChange[]): PreparedBatch {
    return this.evaluateBatch(changes, new Map());
  }

  /**
   * Evaluates `changes` against their stored states (none when `fresh`); rows that could not be
   * evaluated (unchanged TOAST values, no image) are re-read from the source and evaluated on top.
   * Touches no op id. Null when there is nothing to write.
   */
  private async prepareBatch(
    client: pg.PoolClient,
    changes: SourceChange[],
    options: FlushOptions,
  ): Promise<{ batch: PreparedBatch; changes: number } | null> {
    if (changes.length === 0) return null;
    const batch = options.prepared ?? this.evaluateBatch(changes, options.fresh === true ? new Map() : await this.loadStates(client, changes));
    let count = changes.length;
    if (batch.incomplete.length > 0 && options.reread) {
      const again = await options.reread(batch.incomplete);
      batch.incomplete = [];
      // Re-read rows that no longer exist become deletes of rows never stored: not counted as unmatched.
      this.evaluateInto(batch, again, false);
      count += again.length;
    }
    return { batch, changes: count };
  }

  private evaluateBatch(changes: SourceChange[], states: Map<string, RowState | null>): PreparedBatch {
    const batch: PreparedBatch = {
      ops: new Map(),
      params: new Map(),
      liveDelta: new Map(),
      touched: new Map(),
      states,
      existing: new Set(states.keys()),
      incomplete: [],
      unmatchedDeletes: new Map(),
    };
    this.evaluateInto(batch, changes);
    return batch;
  }

  /** Adds `changes` to `batch`, in order, on top of the row states it already holds. */
  private evaluateInto(batch: PreparedBatch, changes: SourceChange[], countUnmatched = true): void {
    const { ops, params, liveDelta, touched, states, incomplete, unmatchedDeletes } = batch;
    // Latest op per (bucket, row, source row) wins inside one flush: no checkpoint can fall between them.
    for (const c of changes) {
      const sk = `${c.sourceTable}\u0000${c.key}`;
      let previous = states.get(sk) ?? undefined;
      if (countUnmatched && c.row === null && !previous) unmatchedDeletes.set(c.sourceTable, (unmatchedDeletes.get(c.sourceTable) ?? 0) + 1);
      if (c.oldImage && previous) previous = { ...previous, data: c.oldImage };
      else if (c.oldImage && !previous) previous = { data: c.oldImage, buckets: [], lookups: [] };
      const r = evaluateRowChange(c.evaluator, c.sourceTable, c.key, previous ?? undefined, c.row, this.subkeySalt);
      if (r.incomplete) incomplete.push({ sourceTable: c.sourceTable, key: c.key });
      for (const op of r.ops) {
        const k = `${op.bucket}\u0000${op.table}\u0000${op.rowId}\u0000${sk}`;
        ops.delete(k);
        ops.set(k, op);
      }
      for (const p of r.parameters) {
        const k = `${p.lookup}\u0000${sk}`;
        params.delete(k);
        params.set(k, p);
      }
      for (const [b, d] of r.liveDelta) liveDelta.set(b, (liveDelta.get(b) ?? 0) + d);
      states.set(sk, r.state);
      touched.set(sk, { sourceTable: c.sourceTable, key: c.key });
    }
  }

  /** Allocates op ids for the batch (taking the counter row lock) and writes ops and parameter rows. */
  private async writeOps(client: pg.PoolClient, b: PreparedBatch): Promise<bigint | null> {
    const { ops, params, liveDelta } = b;
    const total = ops.size + params.size;
    if (total === 0) return this.lastOpId;
    const { rows } = await client.query<{ last: string }>('UPDATE syncline.op_id_counter SET last = last + $1 WHERE id = 1 RETURNING last', [total]);
    const last = BigInt(rows[0]!.last);
    const base = last - BigInt(total) + 1n;
    await this.insertOps(client, [...ops.values()], base, liveDelta);
    await this.insertParameters(client, [...params.values()], base + BigInt(ops.size));
    this.lastOpId = last;
    return last;
  }

  private async loadStates(client: pg.PoolClient, changes: SourceChange[]): Promise<Map<string, RowState | null>> {
    const seen = new Set<string>();
    const tables: number[] = [];
    const hashes: string[] = [];
    for (const c of changes) {
      const sk = `${c.sourceTable}\u0000${c.key}`;
      if (seen.has(sk)) continue;
      seen.add(sk);
      tables.push(c.sourceTable);
      hashes.push(sourceKeyHash(c.key));
    }
    const { rows } = await client.query<{ source_table: number; source_key: string; data: string | null; buckets: string; lookups: string }>(
      `SELECT c.source_table, c.source_key, c.data, c.buckets, c.lookups
         FROM unnest($2::int[], $3::bytea[]) AS k(t, h)
         JOIN syncline.current_data c ON c.version_id = $1 AND c.source_table = k.t AND c.key_hash = k.h`,
      [this.versionId, tables, hashes],
    );
    const out = new Map<string, RowState | null>();
    for (const r of rows) {
      out.set(`${r.source_table}\u0000${r.source_key}`, {
        data: r.data === null ? null : (JSON.parse(r.data) as Record<string, string | null>),
        buckets: JSON.parse(r.buckets) as RowState['buckets'],
        lookups: JSON.parse(r.lookups) as string[],
      });
    }
    return out;
  }

  private async insertOps(client: pg.PoolClient, ops: PendingOp[], base: bigint, liveDelta: Map<string, number>): Promise<void> {
    if (ops.length === 0) return;
    const n = ops.length;
    const buckets = new Array<string>(n);
    const codes = new Array<number>(n);
    const tables = new Array<number>(n);
    const keys = new Array<string>(n);
    const names = new Array<string>(n);
    const ids = new Array<string>(n);
    const sums = new Array<number>(n);
    const datas = new Array<string | null>(n);
    const subkeys = new Array<string | null>(n);
    const perBucket = new Map<string, { last: bigint; checksum: number; count: number; bytes: number }>();
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      buckets[i] = op.bucket;
      codes[i] = op.op;
      tables[i] = op.sourceTable;
      keys[i] = op.sourceKey;
      names[i] = op.table;
      ids[i] = op.rowId;
      sums[i] = op.checksum;
      datas[i] = op.data;
      subkeys[i] = op.subkey;
      const s = perBucket.get(op.bucket) ?? { last: 0n, checksum: 0, count: 0, bytes: 0 };
      s.last = base + BigInt(i);
      s.checksum = (s.checksum + op.checksum) % 4294967296;
      s.count++;
      s.bytes += op.data ? op.data.length : 0;
      perBucket.set(op.bucket, s);
    }
    const versionId = this.versionId;
    await copyRows(
      client,
      'syncline.bucket_data',
      ['version_id', 'bucket', 'op_id', 'op', 'source_table', 'source_key', 'table_name', 'row_id', 'checksum', 'data', 'subkey'],
      (function* () {
        for (let i = 0; i < n; i++) yield [versionId, buckets[i]!, base + BigInt(i), codes[i]!, tables[i]!, keys[i]!, names[i]!, ids[i]!, sums[i]!, datas[i]!, subkeys[i]!];
      })(),
    );
    const bNames: string[] = [];
    const bLast: string[] = [];
    const bSum: number[] = [];
    const bCount: number[] = [];
    const bBytes: number[] = [];
    const bLive: number[] = [];
    for (const [b, s] of perBucket) {
      bNames.push(b);
      bLast.push(s.last.toString());
      bSum.push(s.checksum);
      bCount.push(s.count);
      bBytes.push(s.bytes);
      bLive.push(liveDelta.get(b) ?? 0);
    }
    await client.query(
      `INSERT INTO syncline.bucket_state AS s (version_id, bucket, last_op, checksum, op_count, bytes, live_rows)
       SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
       ON CONFLICT (version_id, bucket) DO UPDATE SET
         last_op = excluded.last_op,
         checksum = (s.checksum + excluded.checksum) % 4294967296,
         op_count = s.op_count + excluded.op_count,
         bytes = s.bytes + excluded.bytes,
         live_rows = s.live_rows + excluded.live_rows`,
      [this.versionId, bNames, bLast, bSum, bCount, bBytes, bLive],
    );
  }

  private async insertParameters(client: pg.PoolClient, params: PendingParameterRow[], base: bigint): Promise<void> {
    if (params.length === 0) return;
    await client.query(
      `INSERT INTO syncline.bucket_parameters (id, version_id, source_table, source_key, lookup, bucket_parameters)
       SELECT $2::bigint + u.ord - 1, $1, u.st, u.sk, u.lookup, u.bp
         FROM unnest($3::int[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(st, sk, lookup, bp, ord)`,
      [
        this.versionId,
        base.toString(),
        params.map((p) => p.sourceTable),
        params.map((p) => p.sourceKey),
        params.map((p) => p.lookup),
        params.map((p) => p.bucketParameters),
      ],
    );
  }

  private async saveStates(
    client: pg.PoolClient,
    touched: Map<string, { sourceTable: number; key: string }>,
    states: Map<string, RowState | null>,
    existing: Set<string>,
  ): Promise<void> {
    const versionId = this.versionId;
    const inserts: Array<[number, number, string, string, string | null, string, string]> = [];
    const upT: number[] = [];
    const upK: string[] = [];
    const upD: (string | null)[] = [];
    const upB: string[] = [];
    const upL: string[] = [];
    const delT: number[] = [];
    const delK: string[] = [];
    for (const [sk, { sourceTable, key }] of touched) {
      const s = states.get(sk);
      if (s) {
        const json = s.data === null ? null : JSON.stringify(s.data);
        const image = json !== null && json.length >= ROW_IMAGE_MIN_CHARS ? json : null;
        if (!existing.has(sk)) {
          inserts.push([versionId, sourceTable, sourceKeyHash(key), key, image, JSON.stringify(s.buckets), JSON.stringify(s.lookups)]);
          continue;
        }
        upT.push(sourceTable);
        upK.push(sourceKeyHash(key));
        upD.push(image);
        upB.push(JSON.stringify(s.buckets));
        upL.push(JSON.stringify(s.lookups));
      } else if (existing.has(sk)) {
        delT.push(sourceTable);
        delK.push(sourceKeyHash(key));
      }
    }
    // Rows without stored state are appended (one writer per version: no conflict possible);
    // rows that had state are updated in place.
    if (inserts.length) {
      await copyRows(client, 'syncline.current_data', ['version_id', 'source_table', 'key_hash', 'source_key', 'data', 'buckets', 'lookups'], inserts);
    }
    if (upT.length) {
      await client.query(
        `UPDATE syncline.current_data c SET data = u.d, buckets = u.b, lookups = u.l
           FROM unnest($2::int[], $3::bytea[], $4::text[], $5::text[], $6::text[]) AS u(t, h, d, b, l)
          WHERE c.version_id = $1 AND c.source_table = u.t AND c.key_hash = u.h`,
        [versionId, upT, upK, upD, upB, upL],
      );
    }
    if (delT.length) {
      await client.query(
        `DELETE FROM syncline.current_data c USING unnest($2::int[], $3::bytea[]) AS u(t, h)
          WHERE c.version_id = $1 AND c.source_table = u.t AND c.key_hash = u.h`,
        [versionId, delT, delK],
      );
    }
  }

  /** Advances the checkpoint to `lsn` if the version is consistent (see advanceCheckpoint). */
  advanceCheckpoint(client: pg.PoolClient, lsn: string): Promise<CheckpointAdvance> {
    return advanceCheckpoint(client, this.versionId, lsn, this.lastOpId ?? 0n);
  }

  /** Seeds the writer's op position after a restart. */
  setLastOpId(opId: bigint | null): void {
    this.lastOpId = opId;
  }
}
