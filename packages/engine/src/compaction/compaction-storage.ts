/**
 * Small storage helpers shared by the compactor and defragmentation: the per-version compaction
 * lock, the "is this version still served" fence checked inside every batch, and scan row mapping.
 */
import type pg from 'pg';
import { CompactionError } from './compaction-errors.ts';
import type { ScanOp } from './compaction-plan.ts';

/** Advisory lock class of compaction/defragmentation runs (one run per version across processes). */
const COMPACTION_LOCK_CLASS = 0x5363; // 'Sc'

/**
 * Runs `fn` while holding the session-level compaction lock of `versionId` on a dedicated
 * connection (released when `fn` ends or the process dies). Throws COMPACTION_BUSY when held elsewhere.
 */
export async function withCompactionLock<T>(pool: pg.Pool, versionId: number, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [COMPACTION_LOCK_CLASS, versionId]);
    locked = rows[0]?.ok === true;
    if (!locked) throw new CompactionError('COMPACTION_BUSY', `Version ${versionId} is being compacted or defragmented by another run; retry when it finishes.`);
    return await fn();
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1, $2)', [COMPACTION_LOCK_CLASS, versionId]).catch(() => {});
    client.release();
  }
}

/**
 * Fence at the end of every compaction transaction: the version must still be served. Taken last
 * (after the bucket_state row) so the lock order matches the replication writer's
 * (bucket_state → sync_rules_versions) and cannot deadlock with it. FOR SHARE serialises with the
 * UPDATE that stops the version, so a batch either commits before the stop (and its rows are then
 * deleted with the version) or sees the stop and rolls back.
 */
export async function assertVersionServed(client: pg.ClientBase, versionId: number): Promise<void> {
  const { rows } = await client.query<{ state: string }>('SELECT state FROM syncline.sync_rules_versions WHERE id = $1 FOR SHARE', [versionId]);
  const state = rows[0]?.state;
  if (state !== 'ACTIVE' && state !== 'ERRORED') {
    throw new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} is ${state ?? 'gone'}; compaction of it stopped.`);
  }
}

/** Runs `fn` in a transaction on its own connection. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const r = await fn(client);
    await client.query('COMMIT');
    return r;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

export interface ScanRow {
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

export const SCAN_COLUMNS = 'op_id, op, table_name, row_id, source_table, source_key, checksum, coalesce(length(data), 0) AS bytes, target_op';

export function toScanOp(r: ScanRow): ScanOp {
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

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CompactionError('COMPACTION_ABORTED', 'Compaction was stopped between two batches; storage is consistent and the next run continues.');
}
