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
import { bucketHasState } from '../storage/pg-compaction.ts';
import { appendLiveRowCopies } from '../storage/pg-defragment.ts';
import { getVersion } from '../storage/pg-versions.ts';
import { compactBucket, type BucketCompactionStats, type CompactBucketOptions } from './bucket-compactor.ts';
import { CompactionError } from './compaction-errors.ts';
import { throwIfAborted, withCompactionLock } from './compaction-storage.ts';

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
    if (!(await bucketHasState(pool, versionId, bucket))) throw new CompactionError('BUCKET_NOT_FOUND', `Bucket ${bucket} has no ops in version ${versionId}.`);
    // After a complete MOVE pass up to c0, the PUTs ≤ c0 are exactly the rows live at c0.
    const before = await compactBucket(pool, versionId, bucket, c0, opts);
    let cursor = -1n;
    let rowsEmitted = 0;
    let checkpoint: string | null = null;
    let lastEmitted = 0n;
    for (;;) {
      throwIfAborted(opts.signal);
      const r = await appendLiveRowCopies(pool, versionId, bucket, c0, cursor, opts.emitBatch ?? 2000, () => notServed(versionId));
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
  const v = await getVersion(pool, versionId);
  if (!v || (v.state !== 'ACTIVE' && v.state !== 'ERRORED') || v.lastCheckpoint === null) {
    throw new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} is not served (${v?.state ?? 'missing'}); only the serving version can be defragmented.`);
  }
  return v.lastCheckpoint;
}

function notServed(versionId: number): CompactionError {
  return new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} stopped being served during defragmentation.`);
}
