/**
 * Storage side of op-log compaction and defragmentation (PostgreSQL): the per-version compaction
 * lock, the "still served" fence, bucket op scans, the MOVE/CLEAR rewrites and the bucket_state
 * bookkeeping that keeps `checksum` equal to the op-log sum. The compaction package decides what to
 * rewrite (pure planning) and which statements share a transaction; every statement is here.
 */
import type pg from 'pg';
import { OP, type ScanOp } from './storage-types.ts';

type Queryable = pg.Pool | pg.ClientBase;

/** Advisory lock class of compaction/defragmentation runs (one run per version across processes). */
const COMPACTION_LOCK_CLASS = 0x5363; // 'Sc'

/**
 * Runs `fn` while holding the session-level compaction lock of `versionId` on a dedicated
 * connection (released when `fn` ends or the process dies). Throws `busy()` when held elsewhere.
 */
export async function withCompactionLock<T>(pool: pg.Pool, versionId: number, fn: () => Promise<T>, busy: () => Error): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [COMPACTION_LOCK_CLASS, versionId]);
    locked = rows[0]?.ok === true;
    if (!locked) throw busy();
    return await fn();
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1, $2)', [COMPACTION_LOCK_CLASS, versionId]).catch(() => {});
    client.release();
  }
}

/**
 * State of a version, locked FOR SHARE until the end of the transaction (null: no such version).
 * Used as the fence at the end of every compaction transaction: taken last (after the bucket_state
 * row) so the lock order matches the replication writer's (bucket_state → sync_rules_versions), and
 * FOR SHARE serialises with the UPDATE that stops the version.
 */
export async function lockVersionStateShared(client: pg.ClientBase, versionId: number): Promise<string | null> {
  const { rows } = await client.query<{ state: string }>('SELECT state FROM syncline.sync_rules_versions WHERE id = $1 FOR SHARE', [versionId]);
  return rows[0]?.state ?? null;
}

interface ScanRow {
  op_id: string;
  op: number;
  table_name: string | null;
  row_id: string | null;
  source_table: number | null;
  source_key: string | null;
  checksum: string;
  bytes: number;
  target_op: string | null;
}

const SCAN_COLUMNS = 'op_id, op, table_name, row_id, source_table, source_key, checksum, coalesce(length(data), 0) AS bytes, target_op';

function toScanOp(r: ScanRow): ScanOp {
  return {
    opId: BigInt(r.op_id),
    op: r.op,
    tableName: r.table_name,
    rowId: r.row_id,
    sourceTable: r.source_table,
    sourceKey: r.source_key,
    checksum: Number(r.checksum),
    bytes: r.bytes,
    targetOp: r.target_op === null ? null : BigInt(r.target_op),
  };
}

/** PUT/REMOVE ops of a bucket below `beforeOpId`, newest first (the MOVE pass's scan). */
export async function scanPutRemoveDescending(db: Queryable, versionId: number, bucket: string, beforeOpId: bigint, limit: number): Promise<ScanOp[]> {
  const { rows } = await db.query<ScanRow>(
    `SELECT ${SCAN_COLUMNS} FROM syncline.bucket_data
      WHERE version_id = $1 AND bucket = $2 AND op_id < $3 AND op IN (${OP.PUT}, ${OP.REMOVE})
      ORDER BY op_id DESC LIMIT $4`,
    [versionId, bucket, beforeOpId.toString(), limit],
  );
  return rows.map(toScanOp);
}

/** All ops of a bucket with `fromOpId` ≤ op_id ≤ `upTo`, oldest first (the CLEAR pass's scan). */
export async function scanOpsAscending(db: Queryable, versionId: number, bucket: string, fromOpId: bigint, upTo: bigint, limit: number): Promise<ScanOp[]> {
  const { rows } = await db.query<ScanRow>(
    `SELECT ${SCAN_COLUMNS} FROM syncline.bucket_data
      WHERE version_id = $1 AND bucket = $2 AND op_id >= $3 AND op_id <= $4
      ORDER BY op_id LIMIT $5`,
    [versionId, bucket, fromOpId.toString(), upTo.toString(), limit],
  );
  return rows.map(toScanOp);
}

/** Rewrites PUT/REMOVE ops as MOVEs to their targets (data dropped); returns how many still matched. */
export async function rewriteAsMoves(client: pg.ClientBase, versionId: number, bucket: string, moves: ReadonlyArray<{ opId: bigint; targetOp: bigint }>): Promise<number> {
  const r = await client.query(
    `UPDATE syncline.bucket_data d SET op = ${OP.MOVE}, table_name = NULL, row_id = NULL, source_table = NULL, source_key = NULL,
            data = NULL, subkey = NULL, target_op = u.t
       FROM unnest($3::bigint[], $4::bigint[]) AS u(id, t)
      WHERE d.version_id = $1 AND d.bucket = $2 AND d.op_id = u.id AND d.op IN (${OP.PUT}, ${OP.REMOVE})`,
    [versionId, bucket, moves.map((m) => m.opId.toString()), moves.map((m) => m.targetOp.toString())],
  );
  return r.rowCount ?? 0;
}

/**
 * Replaces a run of non-PUT ops by one CLEAR: deletes `deleted` and turns `clear.opId` into a CLEAR
 * carrying their checksum sum. Returns the rows affected so the caller can detect a concurrent change.
 */
export async function replaceWithClear(
  client: pg.ClientBase,
  versionId: number,
  bucket: string,
  deleted: readonly bigint[],
  clear: { opId: bigint; checksum: number; targetOp: bigint | null },
): Promise<{ deleted: number; cleared: number }> {
  const d = await client.query(
    `DELETE FROM syncline.bucket_data WHERE version_id = $1 AND bucket = $2 AND op_id = ANY($3::bigint[]) AND op <> ${OP.PUT}`,
    [versionId, bucket, deleted.map(String)],
  );
  const u = await client.query(
    `UPDATE syncline.bucket_data SET op = ${OP.CLEAR}, checksum = $4, target_op = $5, table_name = NULL, row_id = NULL,
            source_table = NULL, source_key = NULL, data = NULL, subkey = NULL
      WHERE version_id = $1 AND bucket = $2 AND op_id = $3 AND op <> ${OP.PUT}`,
    [versionId, bucket, clear.opId.toString(), clear.checksum, clear.targetOp?.toString() ?? null],
  );
  return { deleted: d.rowCount ?? 0, cleared: u.rowCount ?? 0 };
}

/** bucket_state after compaction removed `ops` ops and `bytes` of data (the checksum is unchanged). */
export async function recordBucketCompacted(client: pg.ClientBase, versionId: number, bucket: string, ops: number, bytes: number): Promise<void> {
  await client.query(
    `UPDATE syncline.bucket_state SET op_count = op_count - $3, bytes = greatest(0, bytes - $4), compacted_at = now()
      WHERE version_id = $1 AND bucket = $2`,
    [versionId, bucket, ops, bytes],
  );
}

/** Buckets with their last op: the named ones, or those with ≥ minOps ops and op_count > minRatio × live rows (most fragmented first). */
export async function listCompactionCandidates(
  db: Queryable,
  versionId: number,
  pick: { buckets: string[] } | { minOps: number; minRatio: number; limit: number },
): Promise<Array<{ bucket: string; lastOp: bigint }>> {
  const { rows } =
    'buckets' in pick
      ? await db.query<{ bucket: string; last_op: string }>(
          'SELECT bucket, last_op FROM syncline.bucket_state WHERE version_id = $1 AND bucket = ANY($2) ORDER BY bucket',
          [versionId, pick.buckets],
        )
      : await db.query<{ bucket: string; last_op: string }>(
          `SELECT bucket, last_op FROM syncline.bucket_state
            WHERE version_id = $1 AND op_count >= $2 AND op_count > $3 * greatest(live_rows, 1)
            ORDER BY op_count - live_rows DESC LIMIT $4`,
          [versionId, pick.minOps, pick.minRatio, pick.limit],
        );
  return rows.map((r) => ({ bucket: r.bucket, lastOp: BigInt(r.last_op) }));
}

export async function bucketHasState(db: Queryable, versionId: number, bucket: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM syncline.bucket_state WHERE version_id = $1 AND bucket = $2', [versionId, bucket]);
  return (r.rowCount ?? 0) > 0;
}

/**
 * Deletes, for parameter rows with lo < id ≤ hi, every row superseded by a newer row of the same
 * (lookup, source row) with id ≤ horizon, and '[]' tombstones. Returns the rows deleted.
 */
export async function deleteSupersededParameters(client: pg.ClientBase, versionId: number, lo: bigint, hi: bigint, horizon: bigint): Promise<number> {
  const r = await client.query(
    `DELETE FROM syncline.bucket_parameters p
      WHERE p.version_id = $1 AND p.id > $2 AND p.id <= $3
        AND (p.bucket_parameters = '[]' OR EXISTS (
              SELECT 1 FROM syncline.bucket_parameters n
               WHERE n.version_id = p.version_id AND n.lookup = p.lookup AND n.id > p.id AND n.id <= $4
                 AND n.source_table = p.source_table AND n.source_key = p.source_key))`,
    [versionId, lo.toString(), hi.toString(), horizon.toString()],
  );
  return r.rowCount ?? 0;
}

/** The next id range of parameter rows above `lo` and ≤ `horizon`: its highest id and size (null when none). */
export async function nextParameterRange(db: Queryable, versionId: number, lo: bigint, horizon: bigint, limit: number): Promise<{ hi: bigint; count: number } | null> {
  const { rows } = await db.query<{ hi: string | null; n: string }>(
    `SELECT max(id)::text AS hi, count(*)::text AS n FROM (
       SELECT id FROM syncline.bucket_parameters WHERE version_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4) r`,
    [versionId, lo.toString(), horizon.toString(), limit],
  );
  const hi = rows[0]?.hi;
  return hi ? { hi: BigInt(hi), count: Number(rows[0]!.n) } : null;
}
