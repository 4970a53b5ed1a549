/**
 * Read-only audits of a version's op-log for verification (PostgreSQL storage): bucket_state
 * against the op-log it summarises.
 */
import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

export async function countBuckets(db: Queryable, versionId: number): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.bucket_state WHERE version_id = $1', [versionId]);
  return Number(rows[0]?.n ?? 0);
}

export interface BucketStateAudit {
  bucket: string;
  /** bucket_state's incrementally maintained checksum and op count. */
  stateChecksum: number;
  stateOpCount: number;
  /** The same recomputed from the op-log (sum not wrapped). */
  opLogSum: bigint;
  opLogCount: number;
}

/**
 * bucket_state rows with the sum and count recomputed from the op-log, in one statement (one
 * snapshot, so both are read consistently): the named buckets, or the next `limit` after `after`.
 */
export async function auditBucketStates(db: Queryable, versionId: number, pick: { buckets: string[] } | { after: string; limit: number }): Promise<BucketStateAudit[]> {
  const names = 'buckets' in pick ? pick.buckets : null;
  const { rows } = await db.query<{ bucket: string; checksum: string; op_count: string; sum: string; cnt: string }>(
    `SELECT s.bucket, s.checksum::text, s.op_count::text, d.sum::text, d.cnt::text
       FROM syncline.bucket_state s
       CROSS JOIN LATERAL (SELECT coalesce(sum(d.checksum), 0) AS sum, count(*) AS cnt
                             FROM syncline.bucket_data d WHERE d.version_id = s.version_id AND d.bucket = s.bucket) d
      WHERE s.version_id = $1 AND ($2::text[] IS NULL OR s.bucket = ANY($2)) AND ($2::text[] IS NOT NULL OR s.bucket > $3)
      ORDER BY s.bucket LIMIT $4`,
    [versionId, names, 'after' in pick ? pick.after : '', 'limit' in pick ? pick.limit : names!.length],
  );
  return rows.map((r) => ({ bucket: r.bucket, stateChecksum: Number(r.checksum), stateOpCount: Number(r.op_count), opLogSum: BigInt(r.sum), opLogCount: Number(r.cnt) }));
}
