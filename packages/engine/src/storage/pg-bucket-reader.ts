/**
 * Read side of Postgres storage used by sync streams: checkpoints, per-bucket checksums (from the
 * incrementally maintained bucket_state, corrected for ops past the checkpoint), op pages,
 * parameter lookups, and what changed between two checkpoints.
 */
import type pg from 'pg';
import { storedOpSubkey } from '../replication/opaque-subkey.ts';
import { getSubkeySalt } from './pg-versions.ts';
import { OP_NAMES, type BucketChecksum, type Checkpoint, type OpCode, type StoredOp } from './storage-types.ts';

const U32 = 4294967296;

export class PgBucketReader {
  /** Wire-subkey secret per version, read once (it never changes). */
  private readonly subkeySalts = new Map<number, Promise<string | null>>();

  constructor(readonly pool: pg.Pool) {}

  private subkeySalt(versionId: number): Promise<string | null> {
    let salt = this.subkeySalts.get(versionId);
    if (!salt) {
      salt = getSubkeySalt(this.pool, versionId);
      this.subkeySalts.set(versionId, salt);
      salt.catch(() => this.subkeySalts.delete(versionId));
    }
    return salt;
  }

  async getCheckpoint(versionId: number): Promise<Checkpoint | null> {
    const { rows } = await this.pool.query<{ last_checkpoint: string | null; last_checkpoint_lsn: string | null }>(
      'SELECT last_checkpoint, last_checkpoint_lsn FROM syncline.sync_rules_versions WHERE id = $1',
      [versionId],
    );
    const r = rows[0];
    if (!r || r.last_checkpoint === null || r.last_checkpoint_lsn === null) return null;
    return { versionId, opId: BigInt(r.last_checkpoint), lsn: r.last_checkpoint_lsn };
  }

  /**
   * Checksums and op counts at `checkpoint` for the given buckets (missing buckets → 0/0).
   *
   * One statement, so one snapshot: bucket_state and the ops past the checkpoint that are taken off
   * it (a large source transaction flushed in parts, or a checkpoint this reader is behind) are
   * read together, and the subtraction is bounded by the last op bucket_state reflects. Reading
   * them in two statements let a flush that committed in between take ops off a total that did
   * not include them — a wrong checksum the shared cache then announced to every connection.
   */
  async getChecksums(versionId: number, buckets: string[], checkpoint: bigint): Promise<Map<string, BucketChecksum>> {
    const out = new Map<string, BucketChecksum>();
    if (buckets.length === 0) return out;
    // The op-log is only looked at for buckets with ops past the checkpoint (a CASE branch runs its
    // subquery only when taken), so the common case stays one index lookup per bucket.
    const { rows } = await this.pool.query<{ bucket: string; checksum: string; op_count: string; ahead: [string, string] | null }>(
      `SELECT s.bucket, s.checksum::text, s.op_count::text,
              CASE WHEN s.last_op > $3 THEN (
                SELECT ARRAY[coalesce(sum(d.checksum), 0), count(*)]::text[] FROM syncline.bucket_data d
                 WHERE d.version_id = s.version_id AND d.bucket = s.bucket AND d.op_id > $3 AND d.op_id <= s.last_op)
              END AS ahead
         FROM syncline.bucket_state s
        WHERE s.version_id = $1 AND s.bucket = ANY($2)`,
      [versionId, buckets, checkpoint.toString()],
    );
    for (const r of rows) {
      let checksum = Number(r.checksum);
      let count = Number(r.op_count);
      if (r.ahead) {
        checksum = (((checksum - Number(BigInt(r.ahead[0]) % BigInt(U32))) % U32) + U32) % U32;
        count -= Number(r.ahead[1]);
      }
      out.set(r.bucket, { bucket: r.bucket, checksum, count });
    }
    for (const b of buckets) if (!out.has(b)) out.set(b, { bucket: b, checksum: 0, count: 0 });
    return out;
  }

  /**
   * Up to `limit` ops across buckets with op_id in (after, checkpoint], bucket by bucket in the
   * given order (one index range scan per bucket). `resumeFrom` is the index of the first bucket
   * that may still have ops (positions.length when every bucket was read to the checkpoint).
   */
  async getOps(
    versionId: number,
    positions: Array<{ bucket: string; after: bigint }>,
    checkpoint: bigint,
    limit: number,
  ): Promise<{ results: Array<{ bucket: string; ops: StoredOp[]; hasMore: boolean }>; resumeFrom: number }> {
    const results: Array<{ bucket: string; ops: StoredOp[]; hasMore: boolean }> = [];
    const salt = await this.subkeySalt(versionId);
    let remaining = limit;
    for (let i = 0; i < positions.length; i += 100) {
      const slice = positions.slice(i, i + 100);
      // Rows as arrays: node-postgres then builds no object per row (a 1M-op download: sync API
      // CPU 12.4–13.3 → 11.2–11.7 s). Joining the integer columns into one text in SQL took ~0.5 s
      // more off the API but added ~1 s to Postgres, the part that does not scale out (BENCHMARKS.md).
      // The subkey is read as stored when the writer hashed it; the source key is only read (and
      // hashed here) for ops without one.
      const { rows } = await this.pool.query<
        [ord: string, opId: string, op: OpCode, table: string | null, rowId: string | null, subkey: string | null, sourceTable: number | null, sourceKey: string | null, checksum: string, data: string | null, targetOp: string | null]
      >({
        text: `SELECT b.ord, d.op_id, d.op, d.table_name, d.row_id, d.subkey,
                  CASE WHEN d.subkey IS NULL THEN d.source_table END, CASE WHEN d.subkey IS NULL THEN d.source_key END,
                  d.checksum, d.data, d.target_op
           FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS b(bucket, after, ord)
           CROSS JOIN LATERAL (
             SELECT * FROM syncline.bucket_data d
              WHERE d.version_id = $1 AND d.bucket = b.bucket AND d.op_id > b.after AND d.op_id <= $4
              ORDER BY d.op_id LIMIT $5) d
          ORDER BY b.ord, d.op_id LIMIT $5`,
        values: [versionId, slice.map((p) => p.bucket), slice.map((p) => p.after.toString()), checkpoint.toString(), remaining + 1],
        rowMode: 'array',
      });
      let current: { bucket: string; ops: StoredOp[]; hasMore: boolean } | null = null;
      let currentIndex = -1;
      for (const [ord, opId, op, table, rowId, storedSubkey, sourceTable, sourceKey, checksum, data, targetOp] of rows) {
        const index = i + Number(ord) - 1;
        if (remaining === 0) {
          // One row past the limit: the bucket it belongs to is where the next read resumes.
          if (current && index === currentIndex) current.hasMore = true;
          return { results, resumeFrom: index };
        }
        if (!current || index !== currentIndex) {
          current = { bucket: positions[index]!.bucket, ops: [], hasMore: false };
          currentIndex = index;
          results.push(current);
        }
        current.ops.push({
          opId: BigInt(opId),
          op: OP_NAMES[op],
          table,
          rowId,
          // Never the source key itself: an opaque hash (DESIGN §6).
          subkey: storedOpSubkey(salt, storedSubkey, sourceTable, sourceKey),
          checksum: Number(checksum),
          data,
          targetOp: targetOp === null ? null : BigInt(targetOp),
        });
        remaining--;
      }
      if (remaining === 0) return { results, resumeFrom: Math.min(i + 100, positions.length) };
    }
    return { results, resumeFrom: positions.length };
  }

  /** Write checkpoints of these user keys released at a checkpoint with this LSN (absent: none). */
  async getReleasedWriteCheckpoints(userKeys: string[], checkpointLsn: string): Promise<Map<string, bigint>> {
    const { rows } = await this.pool.query<{ user_key: string; write_checkpoint: string }>(
      'SELECT user_key, write_checkpoint FROM syncline.write_checkpoints WHERE user_key = ANY($1) AND lsn <= $2',
      [userKeys, checkpointLsn],
    );
    return new Map(rows.map((r) => [r.user_key, BigInt(r.write_checkpoint)]));
  }

  /**
   * Buckets with any op after `sinceOp`, with their current totals (exact at any checkpoint ≥
   * `lastOp`); null when more than `max` (caller invalidates all).
   */
  async getChangedBuckets(versionId: number, sinceOp: bigint, max = 10_000): Promise<Array<BucketChecksum & { lastOp: bigint }> | null> {
    const { rows } = await this.pool.query<{ bucket: string; checksum: string; op_count: string; last_op: string }>(
      'SELECT bucket, checksum, op_count, last_op FROM syncline.bucket_state WHERE version_id = $1 AND last_op > $2 LIMIT $3',
      [versionId, sinceOp.toString(), max + 1],
    );
    if (rows.length > max) return null;
    return rows.map((r) => ({ bucket: r.bucket, checksum: Number(r.checksum), count: Number(r.op_count), lastOp: BigInt(r.last_op) }));
  }

  /** Parameter lookups written in (sinceOp, toOp]; null when more than `max`. */
  async getChangedLookups(versionId: number, sinceOp: bigint, toOp: bigint, max = 10_000): Promise<string[] | null> {
    const { rows } = await this.pool.query<{ lookup: string }>(
      `SELECT DISTINCT lookup FROM syncline.bucket_parameters WHERE version_id = $1 AND id > $2 AND id <= $3 LIMIT $4`,
      [versionId, sinceOp.toString(), toOp.toString(), max + 1],
    );
    return rows.length > max ? null : rows.map((r) => r.lookup);
  }

  /**
   * Current parameter rows per lookup key at `checkpoint` (tombstones dropped). With `limit`, at
   * most `limit` rows in total are read, so a caller enforcing a cap reads `cap + 1` and never loads
   * everything a hostile or oversized lookup matches.
   */
  async getParameterSets(versionId: number, lookups: string[], checkpoint: bigint, limit?: number): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(lookups.map((l) => [l, []]));
    if (lookups.length === 0) return out;
    const { rows } = await this.pool.query<{ lookup: string; bucket_parameters: string }>(
      `SELECT lookup, bucket_parameters FROM (
         SELECT DISTINCT ON (lookup, source_table, source_key) lookup, bucket_parameters
           FROM syncline.bucket_parameters
          WHERE version_id = $1 AND lookup = ANY($2) AND id <= $3
          ORDER BY lookup, source_table, source_key, id DESC) p
        WHERE bucket_parameters <> '[]'
        LIMIT $4`,
      [versionId, lookups, checkpoint.toString(), limit ?? null],
    );
    for (const r of rows) out.get(r.lookup)!.push(r.bucket_parameters);
    return out;
  }
}
