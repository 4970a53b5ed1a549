/** In-process replication counters, read by the metrics endpoint and the dashboard. */
export class ReplicationMetrics {
  rowsReplicated = 0;
  opsWritten = 0;
  transactions = 0;
  flushes = 0;
  flushMillis = 0;
  snapshotRows = 0;
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
