/**
 * Parameter-index compaction (reference §8.3): for every (lookup, source row), only the newest
 * row with id ≤ the horizon matters to readers at checkpoints ≥ the horizon; older rows are
 * deleted, and so is that newest row when it is a '[]' tombstone (readers drop tombstones anyway,
 * and every older row of the key is deleted with or before it). Works in id ranges, one statement
 * (one transaction) per range, so a crash leaves a consistent index and the next run continues.
 *
 * Readers still resolving parameters at a checkpoint below the horizon could miss a row whose
 * successor they cannot see yet, so the caller passes a horizon that is a checkpoint old enough
 * that no connection still resolves below it (Compactor: a checkpoint seen a while ago).
 */
import type pg from 'pg';
import { assertVersionServed, inTransaction, throwIfAborted } from './compaction-storage.ts';

export interface ParameterCompactionStats {
  scanned: number;
  deleted: number;
}

export async function compactParameterIndex(
  pool: pg.Pool,
  versionId: number,
  horizon: bigint,
  opts: { batch?: number; signal?: AbortSignal } = {},
): Promise<ParameterCompactionStats> {
  const batch = opts.batch ?? 5000;
  const stats: ParameterCompactionStats = { scanned: 0, deleted: 0 };
  let lo = 0n;
  for (;;) {
    throwIfAborted(opts.signal);
    const { rows } = await pool.query<{ hi: string | null; n: string }>(
      `SELECT max(id)::text AS hi, count(*)::text AS n FROM (
         SELECT id FROM syncline.bucket_parameters WHERE version_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4) r`,
      [versionId, lo.toString(), horizon.toString(), batch],
    );
    const hi = rows[0]?.hi;
    if (!hi) return stats;
    stats.scanned += Number(rows[0]!.n);
    const deleted = await inTransaction(pool, async (client) => {
      const r = await client.query(
        `DELETE FROM syncline.bucket_parameters p
          WHERE p.version_id = $1 AND p.id > $2 AND p.id <= $3
            AND (p.bucket_parameters = '[]' OR EXISTS (
                  SELECT 1 FROM syncline.bucket_parameters n
                   WHERE n.version_id = p.version_id AND n.lookup = p.lookup AND n.id > p.id AND n.id <= $4
                     AND n.source_table = p.source_table AND n.source_key = p.source_key))`,
        [versionId, lo.toString(), hi, horizon.toString()],
      );
      await assertVersionServed(client, versionId);
      return r.rowCount ?? 0;
    });
    stats.deleted += deleted;
    lo = BigInt(hi);
  }
}
