/**
 * Fencing of replication writers. A process that takes a version's advisory lock also takes a new
 * lease epoch (a counter on the version row). Every writer transaction checks, just before it
 * commits, that its epoch is still the current one while locking the version row: a process that
 * lost its lock session cannot commit once another process has taken over, and a takeover waits
 * for a flush already past the check, so the new job reads everything the old one committed.
 */
import type pg from 'pg';
import { ReplicationError } from '../replication/replication-errors.ts';

type Queryable = pg.Pool | pg.ClientBase;

/** Starts a new lease on the version (call after taking its advisory lock); returns the epoch. */
export async function takeReplicationLease(db: Queryable, versionId: number): Promise<number> {
  const { rows } = await db.query<{ lease_epoch: number }>(
    'UPDATE syncline.sync_rules_versions SET lease_epoch = lease_epoch + 1 WHERE id = $1 RETURNING lease_epoch',
    [versionId],
  );
  if (!rows[0]) throw new Error(`sync rules version ${versionId} does not exist`);
  return rows[0].lease_epoch;
}

/**
 * Inside a writer's storage transaction: throws LEASE_LOST (the caller rolls back) unless `epoch`
 * is the version's current lease. Locks the version row until the transaction ends.
 */
export async function assertReplicationLease(client: pg.ClientBase, versionId: number, epoch: number): Promise<void> {
  const { rows } = await client.query<{ lease_epoch: number }>(
    'SELECT lease_epoch FROM syncline.sync_rules_versions WHERE id = $1 FOR UPDATE',
    [versionId],
  );
  const current = rows[0]?.lease_epoch;
  if (current !== epoch) {
    throw new ReplicationError(
      'LEASE_LOST',
      `Replication of version ${versionId} was taken over by another process (lease ${current ?? 'gone'}, ours ${epoch}); this writer stops without committing.`,
    );
  }
}
