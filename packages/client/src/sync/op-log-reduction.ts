/**
 * Op-log reduction (reference client §2.5, server §2): a bucket keeps only the latest live PUT per
 * row key, plus one running checksum (`add`) for everything discarded — superseded PUTs, REMOVEs,
 * MOVEs — which a CLEAR replaces with its own checksum. Then
 * `bucket checksum = add + Σ(live PUT checksums)  (mod 2^32)`
 * equals the wrapping sum of every op the server ever had in the bucket, and reducing a history in
 * one go or line by line gives the same state. This file is pure: `reduceDataLine` computes what
 * one data line changes; `bucket-storage.ts` applies it with SQL, `applyReduction` in memory.
 */
import { addChecksums } from '@syncline/protocol';

export type OpType = 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';

export interface OplogEntry {
  opId: bigint;
  op: OpType;
  /** Unsigned 32-bit checksum. */
  checksum: number;
  objectType?: string | undefined;
  objectId?: string | undefined;
  subkey?: string | undefined;
  /** Row JSON text (PUT only). */
  data?: string | undefined;
}

export interface StoredOp {
  key: string;
  /** The op's subkey as stored (`'null'` when it had none): `key` = `rowKey(rowType, rowId, subkey)`. */
  subkey: string;
  opId: bigint;
  rowType: string;
  rowId: string;
  data: string;
  hash: number;
}

export interface RowRef {
  rowType: string;
  rowId: string;
}

export interface LineReduction {
  /** A CLEAR was seen: drop every stored op of the bucket (marking their rows) before the rest. */
  reset: boolean;
  /** Keys of stored ops to delete (superseded). Meaningless (empty) when `reset`. */
  deleteKeys: string[];
  /** Live PUTs to insert, at most one per key. */
  inserts: StoredOp[];
  /** To add to the bucket's `add` checksum (or the new value when `reset`). Unsigned 32-bit. */
  addDelta: number;
  /** To add to the bucket's live-op checksum (or the new value when `reset`). Unsigned 32-bit. */
  opDelta: number;
  /** Rows to re-evaluate at the next complete apply. */
  updatedRows: RowRef[];
  lastOpId: bigint | null;
  count: number;
}

export function rowKey(objectType: string, objectId: string, subkey: string | undefined): string {
  return `${objectType}/${objectId}/${storedSubkey(subkey)}`;
}

/** The subkey part of a row key, as the op log stores it (`'null'` for an op without one). */
export function storedSubkey(subkey: string | undefined): string {
  return subkey ?? 'null';
}

/**
 * Reduces one data line for one bucket.
 * @param existing stored ops of the bucket for (at least) the keys the line touches
 * @param bucketWasEmpty nothing of this bucket was applied yet (initial download): superseding a
 *   row then cannot affect published data, so REMOVEs do not mark rows
 */
export function reduceDataLine(ops: readonly OplogEntry[], existing: ReadonlyMap<string, StoredOp>, bucketWasEmpty: boolean): LineReduction {
  let reset = false;
  let wasEmpty = bucketWasEmpty;
  const deleteKeys = new Set<string>();
  const inserts = new Map<string, StoredOp>();
  const updated = new Map<string, RowRef>();
  let add = 0;
  let opSum = 0;
  let lastOpId: bigint | null = null;
  let count = 0;
  const mark = (r: RowRef): void => {
    updated.set(`${r.rowType}/${r.rowId}`, r);
  };

  for (const op of ops) {
    count++;
    lastOpId = op.opId;
    if (op.op === 'PUT' || op.op === 'REMOVE') {
      if (!op.objectType || op.objectId === undefined) {
        // Malformed: cannot be stored or applied, but its checksum still counts.
        add = addChecksums(add, op.checksum);
        continue;
      }
      const key = rowKey(op.objectType, op.objectId, op.subkey);
      const previous = inserts.get(key) ?? (reset || deleteKeys.has(key) ? undefined : existing.get(key));
      let superseded = false;
      if (previous) {
        add = addChecksums(add, previous.hash);
        opSum = addChecksums(opSum, -previous.hash);
        if (inserts.has(key)) inserts.delete(key);
        else deleteKeys.add(key);
        superseded = !wasEmpty;
      }
      if (op.op === 'REMOVE') {
        add = addChecksums(add, op.checksum);
        if (superseded) mark({ rowType: op.objectType, rowId: op.objectId });
        continue;
      }
      inserts.set(key, { key, subkey: storedSubkey(op.subkey), opId: op.opId, rowType: op.objectType, rowId: op.objectId, data: op.data ?? '{}', hash: op.checksum >>> 0 });
      opSum = addChecksums(opSum, op.checksum);
    } else if (op.op === 'MOVE') {
      add = addChecksums(add, op.checksum);
    } else {
      // CLEAR: everything before it is gone; rows held only through this bucket must be re-evaluated.
      for (const s of inserts.values()) mark(s);
      for (const s of existing.values()) if (!reset) mark(s);
      inserts.clear();
      deleteKeys.clear();
      reset = true;
      wasEmpty = true;
      add = op.checksum >>> 0;
      opSum = 0;
    }
  }
  return { reset, deleteKeys: [...deleteKeys], inserts: [...inserts.values()], addDelta: add, opDelta: opSum, updatedRows: [...updated.values()], lastOpId, count };
}

/** In-memory bucket state (what `sl_buckets` + `sl_oplog` hold for one bucket). */
export interface BucketState {
  ops: Map<string, StoredOp>;
  add: number;
  opSum: number;
  lastOpId: bigint;
}

export function emptyBucketState(): BucketState {
  return { ops: new Map(), add: 0, opSum: 0, lastOpId: 0n };
}

/** Applies a reduction to an in-memory state (mirrors the SQL in `bucket-storage.ts`). */
export function applyReduction(state: BucketState, r: LineReduction): BucketState {
  const ops = r.reset ? new Map<string, StoredOp>() : new Map(state.ops);
  for (const k of r.deleteKeys) ops.delete(k);
  for (const s of r.inserts) ops.set(s.key, s);
  return {
    ops,
    add: r.reset ? r.addDelta : addChecksums(state.add, r.addDelta),
    opSum: r.reset ? r.opDelta : addChecksums(state.opSum, r.opDelta),
    lastOpId: r.lastOpId ?? state.lastOpId,
  };
}

/** The bucket checksum of a state: `add + opSum` (mod 2^32, unsigned). */
export function bucketChecksum(state: Pick<BucketState, 'add' | 'opSum'>): number {
  return addChecksums(state.add, state.opSum);
}
