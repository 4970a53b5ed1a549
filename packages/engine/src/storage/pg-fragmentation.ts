/**
 * Fragmentation report for operators and the dashboard: buckets of a version ranked by ops per
 * live row (candidates for compaction, or for defragmentation when compaction cannot shrink them)
 * and by size, from the incrementally maintained bucket_state (no op-log scan; PostgreSQL storage).
 */
import type pg from 'pg';
import { getServingVersion, getVersion } from './pg-versions.ts';

export interface BucketFragmentation {
  bucket: string;
  /** Ops stored in the op-log (after compaction: live PUTs + what could not be cleared). */
  opCount: number;
  liveRows: number;
  /** op_count / max(live_rows, 1). */
  opsPerLiveRow: number;
  /** Sum of stored row data lengths. */
  bytes: number;
  lastOp: string;
  compactedAt: string | null;
}

export interface FragmentationReport {
  versionId: number;
  checkpoint: string | null;
  totals: { buckets: number; ops: number; liveRows: number; bytes: number };
  /** Highest ops per live row first (ties: most ops). */
  byRatio: BucketFragmentation[];
  /** Largest by bytes first. */
  bySize: BucketFragmentation[];
}

interface StateRow {
  bucket: string;
  op_count: string;
  live_rows: string;
  bytes: string;
  last_op: string;
  compacted_at: Date | null;
}

const toEntry = (r: StateRow): BucketFragmentation => ({
  bucket: r.bucket,
  opCount: Number(r.op_count),
  liveRows: Number(r.live_rows),
  opsPerLiveRow: Number(r.op_count) / Math.max(Number(r.live_rows), 1),
  bytes: Number(r.bytes),
  lastOp: r.last_op,
  compactedAt: r.compacted_at?.toISOString() ?? null,
});

/**
 * Report for `versionId`, or for the serving version when omitted (null when none is served).
 * @example const r = await getFragmentationReport(storage); r?.byRatio[0]?.opsPerLiveRow
 */
export async function getFragmentationReport(pool: pg.Pool, versionId?: number, opts: { limit?: number } = {}): Promise<FragmentationReport | null> {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 1000);
  const v = versionId === undefined ? await getServingVersion(pool) : await getVersion(pool, versionId);
  if (!v) return null;
  const cols = 'bucket, op_count, live_rows, bytes, last_op, compacted_at';
  const [byRatio, bySize, totals] = await Promise.all([
    pool.query<StateRow>(
      `SELECT ${cols} FROM syncline.bucket_state WHERE version_id = $1
        ORDER BY op_count::float8 / greatest(live_rows, 1) DESC, op_count DESC LIMIT $2`,
      [v.id, limit],
    ),
    pool.query<StateRow>(`SELECT ${cols} FROM syncline.bucket_state WHERE version_id = $1 ORDER BY bytes DESC, op_count DESC LIMIT $2`, [v.id, limit]),
    pool.query<{ buckets: string; ops: string | null; live: string | null; bytes: string | null }>(
      `SELECT count(*)::text AS buckets, sum(op_count)::text AS ops, sum(live_rows)::text AS live, sum(bytes)::text AS bytes
         FROM syncline.bucket_state WHERE version_id = $1`,
      [v.id],
    ),
  ]);
  const t = totals.rows[0]!;
  return {
    versionId: v.id,
    checkpoint: v.lastCheckpoint?.toString() ?? null,
    totals: { buckets: Number(t.buckets), ops: Number(t.ops ?? 0), liveRows: Number(t.live ?? 0), bytes: Number(t.bytes ?? 0) },
    byRatio: byRatio.rows.map(toEntry),
    bySize: bySize.rows.map(toEntry),
  };
}
