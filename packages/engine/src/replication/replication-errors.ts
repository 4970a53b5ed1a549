/** Typed replication failures with stable codes and a message that says what to do. */
export type ReplicationErrorCode =
  /** The publication is missing and could not be created (no privilege). Fix: run the SQL in the message. */
  | 'PUBLICATION_MISSING'
  /** The publication does not publish all four operations. Fix: ALTER PUBLICATION as in the message. */
  | 'PUBLICATION_INCOMPLETE'
  /** wal_level is not logical. Fix: set wal_level=logical and restart the source. */
  | 'WAL_LEVEL_NOT_LOGICAL'
  /** The version's replication slot vanished or lost WAL after its snapshot. A new version re-snapshots. */
  | 'SLOT_LOST'
  /** A table has no primary key / replica identity usable to identify rows. Fix: add a PK or REPLICA IDENTITY FULL. */
  | 'TABLE_WITHOUT_IDENTITY'
  /**
   * This process lost the version's replication lock (its lock session ended) or another process
   * took the version over; the job stops without committing. Nothing to fix unless it repeats:
   * then check the network/connection limits between the replicator and the storage database.
   */
  | 'LEASE_LOST'
  /** Logged (not thrown): deletes whose key matched no stored row. Normal right after a table snapshot; otherwise check the table's REPLICA IDENTITY. */
  | 'UNMATCHED_DELETE'
  /** Logged (not thrown): changes arriving without their key values were skipped. Fix: add a PK or REPLICA IDENTITY FULL. */
  | 'CHANGE_WITHOUT_KEY';

export class ReplicationError extends Error {
  constructor(
    readonly code: ReplicationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReplicationError';
  }
}
