/**
 * Pure planning for bucket compaction (reference §9): which ops of a batch become MOVE, and how the
 * leading run of non-PUT ops collapses into one CLEAR. No I/O; the storage shell feeds it batches.
 */
import { addChecksums } from '@syncline/protocol';
import { OP, type ScanOp } from '../storage/storage-types.ts';

export type { ScanOp };

const { PUT, REMOVE } = OP;

/** Row identity inside a bucket: output table, row id and source row. */
export function rowKey(op: Pick<ScanOp, 'tableName' | 'rowId' | 'sourceTable' | 'sourceKey'>): string {
  return `${op.tableName ?? ''}\u0000${op.rowId ?? ''}\u0000${op.sourceTable ?? ''}\u0000${op.sourceKey ?? ''}`;
}

/** FNV-1a hash of a row key, used to split the MOVE pass into partitions under a memory cap. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface MoveState {
  /** rowKey → op_id of the newest PUT/REMOVE seen so far (the scan runs newest first). */
  newest: Map<string, bigint>;
  /** Keys are tracked only when keyHash(key) % partitions === partition. */
  partitions: number;
  partition: number;
  /** Cap on `newest.size`; once reached, unseen keys are skipped and `overflowed` is set. */
  maxKeys: number;
  overflowed: boolean;
}

export function newMoveState(maxKeys: number, partitions = 1, partition = 0): MoveState {
  return { newest: new Map(), partitions, partition, maxKeys, overflowed: false };
}

export interface PlannedMove {
  opId: bigint;
  targetOp: bigint;
  /** Bytes freed (the PUT's data). */
  bytes: number;
}

/**
 * MOVE pass over one batch of ops in descending op_id order (continuing `state` from the previous,
 * newer batch): every PUT/REMOVE older than a PUT/REMOVE of the same row becomes a MOVE whose
 * target is the op that superseded it. Checksums are untouched, so bucket sums never change.
 */
export function planMoves(opsDescending: readonly ScanOp[], state: MoveState): PlannedMove[] {
  const out: PlannedMove[] = [];
  for (const op of opsDescending) {
    if (op.op !== PUT && op.op !== REMOVE) continue;
    const key = rowKey(op);
    if (state.partitions > 1 && keyHash(key) % state.partitions !== state.partition) continue;
    const newer = state.newest.get(key);
    if (newer !== undefined) {
      out.push({ opId: op.opId, targetOp: newer, bytes: op.bytes });
      // Keep the newest op as target: anything older is superseded by it too.
      continue;
    }
    if (state.newest.size >= state.maxKeys) {
      state.overflowed = true;
      continue;
    }
    state.newest.set(key, op.opId);
  }
  return out;
}

export interface PlannedClear {
  /** Ops replaced (all but the last are deleted; the last becomes the CLEAR). */
  replaced: bigint[];
  /** op_id of the CLEAR: the highest op_id of the run. */
  clearOpId: bigint;
  /** Wrapped sum of the replaced ops' checksums. */
  checksum: number;
  /** Highest target_op among the replaced ops (null when none had one). */
  targetOp: bigint | null;
  bytes: number;
  /** True when the whole batch was part of the run (the run may continue past it). */
  mayContinue: boolean;
}

/**
 * CLEAR pass over the oldest ops of a bucket in ascending order: the leading run of
 * MOVE/REMOVE/CLEAR ops (everything below the oldest PUT) collapses into one CLEAR at the run's
 * highest op_id. Null when the run has fewer than two ops (nothing to gain).
 */
export function planClear(opsAscending: readonly ScanOp[], batchLimit: number): PlannedClear | null {
  const replaced: bigint[] = [];
  let checksum = 0;
  let targetOp: bigint | null = null;
  let bytes = 0;
  let i = 0;
  for (; i < opsAscending.length && i < batchLimit; i++) {
    const op = opsAscending[i]!;
    if (op.op === PUT) break;
    replaced.push(op.opId);
    checksum = addChecksums(checksum, op.checksum);
    if (op.targetOp !== null && (targetOp === null || op.targetOp > targetOp)) targetOp = op.targetOp;
    bytes += op.bytes;
  }
  if (replaced.length < 2) return null;
  return {
    replaced,
    clearOpId: replaced[replaced.length - 1]!,
    checksum,
    targetOp,
    bytes,
    mayContinue: i >= batchLimit,
  };
}
