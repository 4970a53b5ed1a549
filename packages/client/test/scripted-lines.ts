/** Builders for hand-made protocol lines (fixtures of the protocol, reference server §1.5). */
import { opChecksumPut, opChecksumRemove, sumChecksums, toSignedInt32 } from '@syncline/protocol';

export interface FixtureOp {
  op_id: string;
  op: 'PUT' | 'REMOVE' | 'MOVE' | 'CLEAR';
  object_type?: string;
  object_id?: string;
  subkey?: string;
  data?: string | null;
  checksum: number;
}

let subkeyCounter = 0;

export function putOp(opId: number | bigint, type: string, id: string, row: Record<string, unknown> | string, subkey = `sk-${type}-${id}`): FixtureOp {
  const data = typeof row === 'string' ? row : JSON.stringify({ id, ...row });
  return { op_id: String(opId), op: 'PUT', object_type: type, object_id: id, subkey, data, checksum: opChecksumPut(type, id, data) };
}

export function removeOp(opId: number | bigint, type: string, id: string, subkey = `sk-${type}-${id}`): FixtureOp {
  return { op_id: String(opId), op: 'REMOVE', object_type: type, object_id: id, subkey, data: null, checksum: opChecksumRemove(subkey) };
}

export function uniqueSubkey(): string {
  return `sk-${++subkeyCounter}`;
}

export function checksumOf(ops: readonly FixtureOp[]): number {
  return toSignedInt32(sumChecksums(ops.map((o) => o.checksum)));
}

export interface FixtureBucket {
  bucket: string;
  ops: FixtureOp[];
  priority?: number;
  /** Subscription reasons (default `[{default: 0}]`). */
  subscriptions?: ({ default: number } | { sub: number })[];
}

export interface FixtureStream {
  name: string;
  is_default?: boolean;
  errors?: { subscription: number | 'default'; message: string }[];
}

export function bucketEntry(b: FixtureBucket, checksum = checksumOf(b.ops)): Record<string, unknown> {
  return { bucket: b.bucket, checksum, count: b.ops.length, priority: b.priority ?? 3, subscriptions: b.subscriptions ?? [{ default: 0 }] };
}

export const lines = {
  checkpoint(lastOpId: number | bigint, buckets: readonly FixtureBucket[], writeCheckpoint?: string, checksums: Record<string, number> = {}): string {
    return JSON.stringify({
      checkpoint: {
        last_op_id: String(lastOpId),
        ...(writeCheckpoint === undefined ? {} : { write_checkpoint: writeCheckpoint }),
        buckets: buckets.map((b) => bucketEntry(b, checksums[b.bucket])),
        streams: [],
      },
    });
  },
  /** A checkpoint with `streams` (Sync Streams servers). */
  streamsCheckpoint(lastOpId: number | bigint, buckets: readonly FixtureBucket[], streams: readonly FixtureStream[]): string {
    return JSON.stringify({
      checkpoint: {
        last_op_id: String(lastOpId),
        buckets: buckets.map((b) => bucketEntry(b)),
        streams: streams.map((s) => ({ name: s.name, is_default: s.is_default ?? false, errors: s.errors ?? [] })),
      },
    });
  },
  diff(lastOpId: number | bigint, updated: readonly FixtureBucket[], removed: string[] = [], writeCheckpoint?: string): string {
    return JSON.stringify({
      checkpoint_diff: {
        last_op_id: String(lastOpId),
        ...(writeCheckpoint === undefined ? {} : { write_checkpoint: writeCheckpoint }),
        updated_buckets: updated.map((b) => bucketEntry(b)),
        removed_buckets: removed,
      },
    });
  },
  data(bucket: string, ops: readonly FixtureOp[], after = '0'): string {
    return JSON.stringify({ data: { bucket, after, next_after: ops[ops.length - 1]?.op_id ?? after, has_more: false, data: ops } });
  },
  complete(lastOpId: number | bigint): string {
    return JSON.stringify({ checkpoint_complete: { last_op_id: String(lastOpId) } });
  },
  partial(lastOpId: number | bigint, priority: number): string {
    return JSON.stringify({ partial_checkpoint_complete: { last_op_id: String(lastOpId), priority } });
  },
  tokenExpiresIn(seconds: number): string {
    return JSON.stringify({ token_expires_in: seconds });
  },
};
