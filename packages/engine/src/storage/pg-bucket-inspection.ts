/**
 * Operator views of stored buckets (PostgreSQL storage): bucket_state totals by name or page, and
 * a bucket's ops page by page with their source identity (admin only; never sent to clients).
 */
import type pg from 'pg';
import { OP, type OpCode, type OpName } from './storage-types.ts';

type Queryable = pg.Pool | pg.ClientBase;

export interface BucketStateSummary {
  bucket: string;
  opCount: number;
  liveRows: number;
  checksum: number;
  bytes: number;
  lastOp: string;
}

interface StateRow {
  bucket: string;
  checksum: string;
  op_count: string;
  live_rows: string;
  bytes: string;
  last_op: string;
}

const STATE_COLUMNS = 'bucket, checksum::text, op_count::text, live_rows::text, bytes::text, last_op::text';

function toSummary(r: StateRow): BucketStateSummary {
  return { bucket: r.bucket, opCount: Number(r.op_count), liveRows: Number(r.live_rows), checksum: Number(r.checksum), bytes: Number(r.bytes), lastOp: r.last_op };
}

/** bucket_state of the named buckets (buckets without ops are absent). */
export async function getBucketStates(db: Queryable, versionId: number, buckets: readonly string[]): Promise<Map<string, BucketStateSummary>> {
  if (buckets.length === 0) return new Map();
  const { rows } = await db.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM syncline.bucket_state WHERE version_id = $1 AND bucket = ANY($2)`, [versionId, buckets]);
  return new Map(rows.map((r) => [r.bucket, toSummary(r)]));
}

/** Buckets in name order after `after`, optionally with a name prefix (keyset pagination on the primary key). */
export async function listBucketStates(db: Queryable, versionId: number, opts: { after: string; prefix: string; limit: number }): Promise<BucketStateSummary[]> {
  const { rows } = await db.query<StateRow>(
    `SELECT ${STATE_COLUMNS} FROM syncline.bucket_state
      WHERE version_id = $1 AND bucket > $2 AND ($3 = '' OR starts_with(bucket, $3))
      ORDER BY bucket LIMIT $4`,
    [versionId, opts.after, opts.prefix, opts.limit],
  );
  return rows.map(toSummary);
}

export interface InspectedOp {
  opId: string;
  op: OpCode;
  table: string | null;
  rowId: string | null;
  sourceTable: number | null;
  sourceKey: string | null;
  /** The subkey stored with the op (see `storedOpSubkey`). */
  subkey: string | null;
  checksum: number;
  data: string | null;
  targetOp: string | null;
}

/** Ops of a bucket with op_id > `afterOpId` in op_id order, optionally of one op type and row id. */
export async function listBucketOpsAfter(
  db: Queryable,
  versionId: number,
  opts: { bucket: string; afterOpId: string; limit: number; op: OpName | null; rowId: string | null },
): Promise<InspectedOp[]> {
  const { rows } = await db.query<{
    op_id: string;
    op: OpCode;
    table_name: string | null;
    row_id: string | null;
    source_table: number | null;
    source_key: string | null;
    subkey: string | null;
    checksum: string;
    data: string | null;
    target_op: string | null;
  }>(
    `SELECT op_id::text, op, table_name, row_id, source_table, source_key, subkey::text, checksum::text, data, target_op::text
       FROM syncline.bucket_data d
      WHERE d.version_id = $1 AND d.bucket = $2 AND d.op_id > $3
        AND ($4::smallint IS NULL OR d.op = $4) AND ($5::text IS NULL OR d.row_id = $5)
      ORDER BY d.op_id LIMIT $6`,
    [versionId, opts.bucket, opts.afterOpId, opts.op ? OP[opts.op] : null, opts.rowId, opts.limit],
  );
  return rows.map((r) => ({
    opId: r.op_id,
    op: r.op,
    table: r.table_name,
    rowId: r.row_id,
    sourceTable: r.source_table,
    sourceKey: r.source_key,
    subkey: r.subkey,
    checksum: Number(r.checksum),
    data: r.data,
    targetOp: r.target_op,
  }));
}
