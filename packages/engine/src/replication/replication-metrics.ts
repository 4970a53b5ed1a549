/** In-process replication counters, read by the metrics endpoint and the dashboard. */
export class ReplicationMetrics {
  rowsReplicated = 0;
  opsWritten = 0;
  transactions = 0;
  flushes = 0;
  flushMillis = 0;
  snapshotRows = 0;
  /**
   * Deletes (or the delete half of key-changing updates) whose key matched no stored row. A few are
   * expected right after a table snapshot (rows deleted before the snapshot read them); a steady
   * rise means the replica identity key does not identify stored rows.
   */
  unmatchedDeletes = 0;
  /** Updates/deletes whose key could not be built from what pgoutput sent (skipped). */
  unkeyedChanges = 0;
  /** Source commit time (ms since epoch) of the last transaction seen. */
  lastSourceCommitTime: number | null = null;
  /** Wall-clock time of the last storage flush that advanced a checkpoint. */
  lastCheckpointAt: number | null = null;

  recordFlush(ops: number, transactions: number, millis: number): void {
    this.opsWritten += ops;
    this.transactions += transactions;
    this.flushes++;
    this.flushMillis += millis;
    if (transactions > 0) this.lastCheckpointAt = Date.now();
  }
}
