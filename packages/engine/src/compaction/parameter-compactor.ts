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
import { deleteSupersededParameters, nextParameterRange } from '../storage/pg-compaction.ts';
import { inTransaction } from '../storage/pg-transaction.ts';
import { assertVersionServed, throwIfAborted } from './compaction-storage.ts';

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
    const range = await nextParameterRange(pool, versionId, lo, horizon, batch);
    if (!range) return stats;
    stats.scanned += range.count;
    const deleted = await inTransaction(pool, async (client) => {
      const n = await deleteSupersededParameters(client, versionId, lo, range.hi, horizon);
      await assertVersionServed(client, versionId);
      return n;
    });
    stats.deleted += deleted;
    lo = range.hi;
  }
}
