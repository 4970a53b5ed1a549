/**
 * Compaction's use of storage: the per-version compaction lock and the "is this version still
 * served" fence checked inside every batch, with compaction's typed errors. The SQL is in
 * storage/pg-compaction.ts.
 */
import type pg from 'pg';
import { lockVersionStateShared, withCompactionLock as withStorageCompactionLock } from '../storage/pg-compaction.ts';
import { CompactionError } from './compaction-errors.ts';

/**
 * Runs `fn` while holding the session-level compaction lock of `versionId` (one run per version
 * across processes; released when `fn` ends or the process dies). Throws COMPACTION_BUSY when held elsewhere.
 */
export function withCompactionLock<T>(pool: pg.Pool, versionId: number, fn: () => Promise<T>): Promise<T> {
  return withStorageCompactionLock(
    pool,
    versionId,
    fn,
    () => new CompactionError('COMPACTION_BUSY', `Version ${versionId} is being compacted or defragmented by another run; retry when it finishes.`),
  );
}

/**
 * Fence at the end of every compaction transaction: the version must still be served, so a batch
 * either commits before the version is stopped (and its rows are then deleted with the version)
 * or sees the stop and rolls back.
 */
export async function assertVersionServed(client: pg.ClientBase, versionId: number): Promise<void> {
  const state = await lockVersionStateShared(client, versionId);
  if (state !== 'ACTIVE' && state !== 'ERRORED') {
    throw new CompactionError('VERSION_NOT_ACTIVE', `Version ${versionId} is ${state ?? 'gone'}; compaction of it stopped.`);
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CompactionError('COMPACTION_ABORTED', 'Compaction was stopped between two batches; storage is consistent and the next run continues.');
}
