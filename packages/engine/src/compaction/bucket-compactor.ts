/**
 * Compaction of one bucket's op-log up to a checkpoint (reference §9): a MOVE pass (newest first)
 * then a CLEAR pass (oldest first). Every batch is its own transaction that leaves storage
 * consistent — MOVE keeps each checksum and CLEAR carries the sum it replaces, so
 * bucket_state.checksum stays equal to the op-log sum at all times — and a crash at any point is
 * recovered by simply running again (both passes are idempotent). The caller holds the version's
 * compaction lock (withCompactionLock).
 */
import type pg from 'pg';
import { CompactionError } from './compaction-errors.ts';
import { recordBucketCompacted, replaceWithClear, rewriteAsMoves, scanOpsAscending, scanPutRemoveDescending } from '../storage/pg-compaction.ts';
import { inTransaction } from '../storage/pg-transaction.ts';
import { newMoveState, planClear, planMoves, type MoveState, type PlannedMove } from './compaction-plan.ts';
import { assertVersionServed, throwIfAborted } from './compaction-storage.ts';

export interface CompactBucketOptions {
  /** Ops read per scan query (default 5000). */
  scanBatch?: number;
  /** MOVE rewrites per transaction (default 2000). */
  moveBatch?: number;
  /** Ops merged into the CLEAR per transaction (default 5000). */
  clearBatch?: number;
  /** Row identities tracked in memory by the MOVE pass (default 500k, ~100 MB); more → extra passes. */
  maxTrackedRows?: number;
  /** Checked between batches; an abort throws COMPACTION_ABORTED with storage consistent. */
  signal?: AbortSignal;
  /**
   * Highest op_id a CLEAR may cover (default: `upTo`). A CLEAR deletes ops ≤ a checkpoint that a
   * connection may still be downloading and places itself above it; a horizon older than any
   * download in progress keeps such a connection from completing with ops missing. null = no CLEAR.
   */
  clearUpTo?: bigint | null;
  /** Called after every committed batch (tests use it to kill a run mid-way). */
  onBatch?: (info: { bucket: string; phase: 'move' | 'clear'; ops: number }) => void | Promise<void>;
}

export interface BucketCompactionStats {
  bucket: string;
  /** Ops read by all scans. */
  scanned: number;
  /** PUT/REMOVE ops rewritten to MOVE. */
  moved: number;
  /** Ops removed from the op-log by CLEAR merging. */
  removed: number;
  bytesFreed: number;
  /** MOVE-pass partitions used (1 unless the bucket had more than maxTrackedRows rows). */
  partitions: number;
}

/** Compacts `bucket` of `versionId`, considering only ops with op_id ≤ `upTo` (a checkpoint). */
export async function compactBucket(pool: pg.Pool, versionId: number, bucket: string, upTo: bigint, opts: CompactBucketOptions = {}): Promise<BucketCompactionStats> {
  const stats: BucketCompactionStats = { bucket, scanned: 0, moved: 0, removed: 0, bytesFreed: 0, partitions: 1 };
  await movePass(pool, versionId, bucket, upTo, opts, stats);
  const clearUpTo = opts.clearUpTo === undefined ? upTo : opts.clearUpTo;
  if (clearUpTo !== null) await clearPass(pool, versionId, bucket, clearUpTo < upTo ? clearUpTo : upTo, opts, stats);
  return stats;
}

async function movePass(pool: pg.Pool, versionId: number, bucket: string, upTo: bigint, opts: CompactBucketOptions, stats: BucketCompactionStats): Promise<void> {
  const maxKeys = opts.maxTrackedRows ?? 500_000;
  for (let partitions = 1; ; partitions *= 4) {
    let overflowed = false;
    for (let p = 0; p < partitions; p++) {
      const state = newMoveState(maxKeys, partitions, p);
      await movePartition(pool, versionId, bucket, upTo, state, opts, stats);
      overflowed ||= state.overflowed;
    }
    stats.partitions = partitions;
    if (!overflowed) return;
  }
}

async function movePartition(
  pool: pg.Pool,
  versionId: number,
  bucket: string,
  upTo: bigint,
  state: MoveState,
  opts: CompactBucketOptions,
  stats: BucketCompactionStats,
): Promise<void> {
  const scanBatch = opts.scanBatch ?? 5000;
  const moveBatch = opts.moveBatch ?? 2000;
  let cursor = upTo + 1n;
  let pending: PlannedMove[] = [];
  for (;;) {
    throwIfAborted(opts.signal);
    const ops = await scanPutRemoveDescending(pool, versionId, bucket, cursor, scanBatch);
    stats.scanned += ops.length;
    pending = pending.concat(planMoves(ops, state));
    const done = ops.length < scanBatch;
    while (pending.length >= moveBatch || (done && pending.length > 0)) {
      const batch = pending.slice(0, moveBatch);
      pending = pending.slice(moveBatch);
      await applyMoves(pool, versionId, bucket, batch, stats);
      await opts.onBatch?.({ bucket, phase: 'move', ops: batch.length });
      throwIfAborted(opts.signal);
    }
    if (done) return;
    cursor = ops[ops.length - 1]!.opId;
  }
}

async function applyMoves(pool: pg.Pool, versionId: number, bucket: string, moves: PlannedMove[], stats: BucketCompactionStats): Promise<void> {
  const bytes = moves.reduce((n, m) => n + m.bytes, 0);
  await inTransaction(pool, async (client) => {
    const matched = await rewriteAsMoves(client, versionId, bucket, moves);
    if (matched !== moves.length) {
      throw new CompactionError('CONCURRENT_MODIFICATION', `bucket ${bucket}: ${moves.length} MOVE rewrites planned, ${matched} ops still matched`);
    }
    await recordBucketCompacted(client, versionId, bucket, 0, bytes);
    await assertVersionServed(client, versionId);
  });
  stats.moved += moves.length;
  stats.bytesFreed += bytes;
}

async function clearPass(pool: pg.Pool, versionId: number, bucket: string, upTo: bigint, opts: CompactBucketOptions, stats: BucketCompactionStats): Promise<void> {
  const clearBatch = opts.clearBatch ?? 5000;
  // Everything below the CLEAR written by the previous batch is gone: start there, not at 0, so
  // scans do not walk the dead index entries the deletes left behind.
  let from = 0n;
  for (;;) {
    throwIfAborted(opts.signal);
    const ops = await scanOpsAscending(pool, versionId, bucket, from, upTo, clearBatch);
    stats.scanned += ops.length;
    const plan = planClear(ops, clearBatch);
    if (!plan) return;
    const deleted = plan.replaced.slice(0, -1);
    await inTransaction(pool, async (client) => {
      const r = await replaceWithClear(client, versionId, bucket, deleted, { opId: plan.clearOpId, checksum: plan.checksum, targetOp: plan.targetOp });
      if (r.deleted !== deleted.length || r.cleared !== 1) {
        throw new CompactionError('CONCURRENT_MODIFICATION', `bucket ${bucket}: CLEAR of ${plan.replaced.length} ops no longer matches storage`);
      }
      await recordBucketCompacted(client, versionId, bucket, deleted.length, plan.bytes);
      await assertVersionServed(client, versionId);
    });
    stats.removed += deleted.length;
    stats.bytesFreed += plan.bytes;
    await opts.onBatch?.({ bucket, phase: 'clear', ops: plan.replaced.length });
    if (!plan.mayContinue) return;
    from = plan.clearOpId;
  }
}
