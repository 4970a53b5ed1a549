/**
 * Operator view of the parameter index (PostgreSQL storage): which source rows produced the
 * current entries of some lookups at a checkpoint, so "why (not) this row" can name the joined
 * rows (JOIN / IN-subquery side) behind a user's buckets. Admin only; never sent to clients.
 */
import type pg from 'pg';

export interface ParameterSource {
  lookup: string;
  schema: string;
  table: string;
  /** JSON array of the row's key column values (text), as stored. */
  sourceKey: string;
  /** JSON array of the bucket parameter rows this source row contributes under the lookup. */
  bucketParameters: string;
}

/**
 * The live entries (latest per source row, not tombstoned) of `lookups` at `checkpoint`, with the
 * source table they came from; at most `limit` rows in all (lookup, table, key order).
 */
export async function listParameterSources(pool: pg.Pool, versionId: number, lookups: string[], checkpoint: bigint, limit: number): Promise<ParameterSource[]> {
  if (lookups.length === 0) return [];
  const { rows } = await pool.query<{ lookup: string; schema_name: string; table_name: string; source_key: string; bucket_parameters: string }>(
    `SELECT p.lookup, s.schema_name, s.table_name, p.source_key, p.bucket_parameters FROM (
       SELECT DISTINCT ON (lookup, source_table, source_key) lookup, source_table, source_key, bucket_parameters
         FROM syncline.bucket_parameters
        WHERE version_id = $1 AND lookup = ANY($2) AND id <= $3
        ORDER BY lookup, source_table, source_key, id DESC) p
       JOIN syncline.source_tables s ON s.id = p.source_table
      WHERE p.bucket_parameters <> '[]'
      ORDER BY p.lookup, s.table_name, p.source_key
      LIMIT $4`,
    [versionId, lookups, checkpoint.toString(), limit],
  );
  return rows.map((r) => ({ lookup: r.lookup, schema: r.schema_name, table: r.table_name, sourceKey: r.source_key, bucketParameters: r.bucket_parameters }));
}
