/**
 * Defragmentation (reference §9): a bucket whose oldest op is a still-live PUT cannot shrink, as
 * one old row blocks the CLEAR of everything after it. Instead of touching source rows, this
 * re-emits the bucket's live rows storage-side as fresh PUTs (same identity, data and checksum,
 * new op_ids), so the old PUTs become superseded and the next compaction clears the whole prefix.
 *
 * Why appending storage-side is safe next to the replicator:
 * - every batch first locks `op_id_counter` (as the writer's UPDATE does), so every op with a lower
 *   id is committed and the live rows read afterwards are current; a writer change that comes later
 *   gets a higher op_id and supersedes the copy, so a copy can never resurrect older data;
 * - lock order is the writer's: op_id_counter → bucket_state → sync_rules_versions (FOR UPDATE, as
 *   in advanceCheckpoint), so the two cannot deadlock and checkpoint updates are serialised;
 * - the checkpoint is advanced to the copies (keeping last_checkpoint_lsn, so write checkpoints
 *   are unaffected) only when no replicated op is past the checkpoint, i.e. the writer is not in
 *   the middle of a large source transaction flushed in parts; otherwise the copies are recorded
 *   in keepalive_op and the writer's next checkpoint covers them (advanceCheckpoint folds it in);
 * - re-PUT rows carry identical data, so a client sees the same rows at every checkpoint, and the
 *   bucket checksum moves by exactly the copies' checksums (bucket_state updated in the same tx).
 */
import type pg from 'pg';
import { CHECKPOINT_CHANNEL } from '../storage/checkpoint-notify.ts';
import { compactBucket, type BucketCompactionStats, type CompactBucketOptions } from './bucket-compactor.ts';
import { CompactionError } from './compaction-errors.ts';
import { U32 } from './compaction-plan.ts';
import { inTransaction, throwIfAborted, withCompactionLock } from './compaction-storage.ts';

export interface DefragmentOptions extends CompactBucketOptions {
  /** Live rows re-emitted per transaction (default 2000). */
  emitBatch?: number;
}

export interface DefragmentResult {
  versionId: number;
  bucket: string;
  /** Live rows re-emitted as new PUTs. */
  rowsEmitted: number;
  /** Checkpoint the copies became visible at (null: the replicator's next checkpoint covers them). */
  checkpoint: string | null;
  /** Compaction before (MOVE pass reduces the op-log so live rows are known) and after the copies. */
  before: BucketCompactionStats;
  after: BucketCompactionStats | null;
}

/** Re-emits the live rows of `bucket` in the given (served) version, then compacts it. */
export async function defragmentBucket(pool: pg.Pool, versionId: number, bucket: string, opts: DefragmentOptions = {}): Promise<DefragmentResult> {
  return withCompactionLock(pool, versionId, async () => {
    const c0 = await servedCheckpoint(pool, versionId);
    const exists = await pool.query('SELECT 1 FROM syncline.bucket_state WHERE version_id = $1 AND bucket = $2', [versionId, bucket]);
    if (exists.rowCount === 0) throw new CompactionError('BUCKET_NOT_FOUND', `Bucket ${bucket} has no ops in version ${versionId}.`);
    // After a complete MOVE pass up to c0, the PUTs ≤ c0 are exactly the rows live at c0.
    const before = await compactBucket(pool, versionId, bucket, c0, opts);
    let cursor = -1n;
    let rowsEmitted = 0;
    let checkpoint: string | null = null;
    let lastEmitted = 0n;
    for (;;) {
      throwIfAborted(opts.signal);
      const r = await emitBatch(pool, versionId, bucket, c0, cursor, opts.emitBatch ?? 2000);
      if (r.count === 0) break;
      rowsEmitted += r.count;
      cursor = r.cursor;
      lastEmitted = r.lastOp;
      checkpoint = r.checkpoint;
    }
    let after: BucketCompactionStats | null = null;
    if (rowsEmitted > 0) {
      const c1 = await servedCheckpoint(pool, versionId);
      if (c1 >= lastEmitted) after = await compactBucket(pool, versionId, bucket, c1, opts);
    }
    return { versionId, bucket, rowsEmitted, checkpoint, before, after };
  });
}

async function servedCheckpoint(pool: pg.Pool, versionId: number): Promise<bigint> {
  const { rows } = await pool.query<{ state: string; last_checkpoint: string | null }>(
    'SELECT state, last_checkpoint FROM syncline.sync_rules_versions WHERE id = $1',
    [versionId],
  );
  const v = rows[0];
  if (!v || (v.state !== 'ACTIVE' && v.state !== 'ERRORED') || v.last_checkpoint === null) {
    throw new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} is not served (${v?.state ?? 'missing'}); only the serving version can be defragmented.`);
  }
  return BigInt(v.last_checkpoint);
}

async function emitBatch(
  pool: pg.Pool,
  versionId: number,
  bucket: string,
  c0: bigint,
  cursor: bigint,
  limit: number,
): Promise<{ count: number; cursor: bigint; lastOp: bigint; checkpoint: string | null }> {
  return inTransaction(pool, async (client) => {
    const counter = await client.query<{ last: string }>('SELECT last FROM syncline.op_id_counter WHERE id = 1 FOR UPDATE');
    const base = BigInt(counter.rows[0]!.last) + 1n;
    const pendingQ = await client.query<{ ops: string | null; params: string | null }>(
      `SELECT (SELECT max(last_op) FROM syncline.bucket_state WHERE version_id = $1)::text AS ops,
              (SELECT max(id) FROM syncline.bucket_parameters WHERE version_id = $1)::text AS params`,
      [versionId],
    );
    const newestReplicated = [pendingQ.rows[0]?.ops, pendingQ.rows[0]?.params].reduce((m, v) => (v && BigInt(v) > m ? BigInt(v) : m), 0n);
    // Live rows at c0 not replaced since (by the replicator, or by an earlier batch of this run).
    const ins = await client.query<{ cursor: string | null; n: string; s: string | null; bytes: string | null }>(
      `WITH c AS (
         SELECT d.op_id, d.source_table, d.source_key, d.table_name, d.row_id, d.checksum, d.data
           FROM syncline.bucket_data d
          WHERE d.version_id = $1 AND d.bucket = $2 AND d.op_id > $3 AND d.op_id <= $4 AND d.op = 1
            AND NOT EXISTS (
              SELECT 1 FROM syncline.bucket_data n
               WHERE n.version_id = $1 AND n.bucket = $2 AND n.op_id > $4 AND n.op IN (1, 2)
                 AND n.table_name = d.table_name AND n.row_id = d.row_id
                 AND n.source_table = d.source_table AND n.source_key = d.source_key)
          ORDER BY d.op_id LIMIT $5),
       ins AS (
         INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
         SELECT $1, $2, $6::bigint + row_number() OVER (ORDER BY c.op_id) - 1, 1, c.source_table, c.source_key, c.table_name, c.row_id, c.checksum, c.data
           FROM c
         RETURNING checksum, coalesce(length(data), 0) AS len)
       SELECT (SELECT max(op_id) FROM c)::text AS cursor, count(*)::text AS n, sum(checksum)::text AS s, sum(len)::text AS bytes FROM ins`,
      [versionId, bucket, cursor.toString(), c0.toString(), limit, base.toString()],
    );
    const row = ins.rows[0]!;
    const count = Number(row.n);
    if (count === 0) return { count: 0, cursor, lastOp: 0n, checkpoint: null };
    const lastOp = base + BigInt(count) - 1n;
    await client.query('UPDATE syncline.op_id_counter SET last = $1 WHERE id = 1', [lastOp.toString()]);
    await client.query(
      `UPDATE syncline.bucket_state SET last_op = $3, checksum = (checksum + $4) % 4294967296, op_count = op_count + $5, bytes = bytes + $6
        WHERE version_id = $1 AND bucket = $2`,
      [versionId, bucket, lastOp.toString(), Number(BigInt(row.s ?? '0') % BigInt(U32)), count, Number(row.bytes ?? 0)],
    );
    const checkpoint = await publishCopies(client, versionId, lastOp, newestReplicated);
    return { count, cursor: BigInt(row.cursor!), lastOp, checkpoint };
  });
}

/** Makes the copies visible: a checkpoint now when that is consistent, else via keepalive_op. */
async function publishCopies(client: pg.PoolClient, versionId: number, lastOp: bigint, newestReplicated: bigint): Promise<string | null> {
  const { rows } = await client.query<{ state: string; last_checkpoint: string | null; last_checkpoint_lsn: string | null; keepalive_op: string | null }>(
    'SELECT state, last_checkpoint, last_checkpoint_lsn, keepalive_op FROM syncline.sync_rules_versions WHERE id = $1 FOR UPDATE',
    [versionId],
  );
  const v = rows[0];
  if (!v || (v.state !== 'ACTIVE' && v.state !== 'ERRORED') || v.last_checkpoint === null) {
    throw new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} stopped being served during defragmentation.`);
  }
  const safe = v.keepalive_op === null && newestReplicated <= BigInt(v.last_checkpoint);
  if (!safe) {
    await client.query(
      'UPDATE syncline.sync_rules_versions SET keepalive_op = greatest(coalesce(keepalive_op, 0), $2::bigint) WHERE id = $1',
      [versionId, lastOp.toString()],
    );
    return null;
  }
  await client.query('UPDATE syncline.sync_rules_versions SET last_checkpoint = $2, last_checkpoint_at = now() WHERE id = $1', [versionId, lastOp.toString()]);
  await client.query('SELECT pg_notify($1, $2)', [
    CHECKPOINT_CHANNEL,
    JSON.stringify({ version: versionId, op_id: lastOp.toString(), lsn: v.last_checkpoint_lsn, activated: false }),
  ]);
  return lastOp.toString();
}
