/**
 * One compaction run over the serving version: picks buckets (the given ones, or those whose ops
 * per live row is high), compacts each up to the version's checkpoint under the version's
 * compaction lock, then compacts the parameter index up to a safe horizon.
 */
import type pg from 'pg';
import { compactBucket, type BucketCompactionStats, type CompactBucketOptions } from './bucket-compactor.ts';
import { CompactionError } from './compaction-errors.ts';
import { listCompactionCandidates } from '../storage/pg-compaction.ts';
import { getServingVersion, getVersion } from '../storage/pg-versions.ts';
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
  const v = opts.versionId === undefined ? await getServingVersion(pool) : await getVersion(pool, opts.versionId);
  if (!v || (v.state !== 'ACTIVE' && v.state !== 'ERRORED') || v.lastCheckpoint === null) {
    throw new CompactionError('NO_ACTIVE_VERSION', 'No served sync-rules version with a checkpoint: nothing to compact yet.');
  }
  const versionId = v.id;
  const upTo = v.lastCheckpoint;
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

function pickBuckets(pool: pg.Pool, versionId: number, opts: CompactionRunOptions): Promise<Array<{ bucket: string; lastOp: bigint }>> {
  return listCompactionCandidates(
    pool,
    versionId,
    opts.buckets ? { buckets: opts.buckets } : { minOps: opts.minOps ?? 100, minRatio: opts.minRatio ?? 2, limit: opts.maxBuckets ?? 10_000 },
  );
}
