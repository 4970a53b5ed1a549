/**
 * One compaction run over the serving version: picks buckets (the given ones, or those whose ops
 * per live row is high), compacts each up to the version's checkpoint under the version's
 * compaction lock, then compacts the parameter index up to a safe horizon.
 */
import type pg from 'pg';
import { compactBucket, type BucketCompactionStats, type CompactBucketOptions } from './bucket-compactor.ts';
import { CompactionError } from './compaction-errors.ts';
import { withCompactionLock } from './compaction-storage.ts';
import { compactParameterIndex, type ParameterCompactionStats } from './parameter-compactor.ts';

export interface CompactionRunOptions extends CompactBucketOptions {
  /** Compact exactly these buckets (of the serving version); default: pick by fragmentation. */
  buckets?: string[];
  /** Version to compact (default: the serving one). */
  versionId?: number;
  /** Picking: at least this many ops (default 100) … */
  minOps?: number;
  /** … and op_count > minRatio × live rows (default 2). */
  minRatio?: number;
  /** Buckets compacted per run at most (default 10,000). */
  maxBuckets?: number;
  /** Skip a picked bucket when it returns false (e.g. unchanged since its last compaction). */
  shouldCompact?: (bucket: string, lastOp: bigint) => boolean;
  /** Parameter-index horizon; null skips the parameter index (default: the checkpoint). */
  parameterHorizon?: bigint | null;
}

export interface CompactionRunReport {
  versionId: number;
  checkpoint: string;
  buckets: BucketCompactionStats[];
  /** Bucket → last_op at the time it was compacted (for "unchanged since" skipping). */
  lastOps: Map<string, bigint>;
  parameters: ParameterCompactionStats | null;
  durationMs: number;
}

/** Runs one compaction of the serving (or given) version. Throws COMPACTION_BUSY if one is running. */
export async function runCompaction(pool: pg.Pool, opts: CompactionRunOptions = {}): Promise<CompactionRunReport> {
  const started = Date.now();
  const { rows } = await pool.query<{ id: number; last_checkpoint: string | null }>(
    opts.versionId === undefined
      ? `SELECT id, last_checkpoint FROM syncline.sync_rules_versions WHERE state IN ('ACTIVE', 'ERRORED') ORDER BY id DESC LIMIT 1`
      : `SELECT id, last_checkpoint FROM syncline.sync_rules_versions WHERE id = $1 AND state IN ('ACTIVE', 'ERRORED')`,
    opts.versionId === undefined ? [] : [opts.versionId],
  );
  const v = rows[0];
  if (!v || v.last_checkpoint === null) throw new CompactionError('NO_ACTIVE_VERSION', 'No served sync-rules version with a checkpoint: nothing to compact yet.');
  const versionId = v.id;
  const upTo = BigInt(v.last_checkpoint);
  return withCompactionLock(pool, versionId, async () => {
    const picked = await pickBuckets(pool, versionId, opts);
    const report: CompactionRunReport = { versionId, checkpoint: upTo.toString(), buckets: [], lastOps: new Map(), parameters: null, durationMs: 0 };
    for (const { bucket, lastOp } of picked) {
      if (opts.shouldCompact && !opts.shouldCompact(bucket, lastOp)) continue;
      report.buckets.push(await compactBucket(pool, versionId, bucket, upTo, opts));
      report.lastOps.set(bucket, lastOp);
    }
    const horizon = opts.parameterHorizon === undefined ? upTo : opts.parameterHorizon;
    if (horizon !== null) {
      report.parameters = await compactParameterIndex(pool, versionId, horizon < upTo ? horizon : upTo, { signal: opts.signal });
    }
    report.durationMs = Date.now() - started;
    return report;
  });
}

async function pickBuckets(pool: pg.Pool, versionId: number, opts: CompactionRunOptions): Promise<Array<{ bucket: string; lastOp: bigint }>> {
  if (opts.buckets) {
    const { rows } = await pool.query<{ bucket: string; last_op: string }>(
      'SELECT bucket, last_op FROM syncline.bucket_state WHERE version_id = $1 AND bucket = ANY($2) ORDER BY bucket',
      [versionId, opts.buckets],
    );
    return rows.map((r) => ({ bucket: r.bucket, lastOp: BigInt(r.last_op) }));
  }
  const { rows } = await pool.query<{ bucket: string; last_op: string }>(
    `SELECT bucket, last_op FROM syncline.bucket_state
      WHERE version_id = $1 AND op_count >= $2 AND op_count > $3 * greatest(live_rows, 1)
      ORDER BY op_count - live_rows DESC LIMIT $4`,
    [versionId, opts.minOps ?? 100, opts.minRatio ?? 2, opts.maxBuckets ?? 10_000],
  );
  return rows.map((r) => ({ bucket: r.bucket, lastOp: BigInt(r.last_op) }));
}
