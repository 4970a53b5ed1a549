/**
 * Buffer of decoded row changes between two storage writes of the WAL stream, aware of source
 * transaction boundaries. Pure: no I/O.
 *
 * A drained chunk of pgoutput messages often ends inside a transaction (always, under constant
 * multi-row load). The buffer remembers where the last complete transaction ends, so the consumer
 * can write everything up to that commit with a checkpoint at its LSN and keep the open
 * transaction's changes for the next write: checkpoints advance with every chunk that saw a
 * commit, however the chunk ends. Only a transaction too large to buffer is written in parts
 * (takeAll); from then on no checkpoint is possible until it commits, because storage already
 * holds some of its changes.
 */
import { normalizeLsn } from './lsn.ts';

export interface CommittedBatch<T> {
  changes: T[];
  /** Checkpoint position: every source transaction committed at or before it is in `changes` or already stored. */
  lsn: string;
  /** Source transactions covered. */
  transactions: number;
  /** Oldest source commit time covered (ms since epoch). */
  oldestCommitTime: number | undefined;
}

export class CommitBuffer<T> {
  private changes: T[] = [];
  /** Leading entries of `changes` that belong to committed transactions. */
  private committed = 0;
  private open = false;
  /** Part of the open transaction is already stored (takeAll inside it). */
  private openTxStored = false;
  private commitLsn: string | null = null;
  private keepaliveLsn: string | null = null;
  private transactions = 0;
  private oldestCommitTime: number | undefined;

  get size(): number {
    return this.changes.length;
  }

  get inTransaction(): boolean {
    return this.open;
  }

  /** Nothing buffered, no open transaction and no position waiting for a checkpoint. */
  get idle(): boolean {
    return !this.open && this.changes.length === 0 && this.commitLsn === null && this.keepaliveLsn === null;
  }

  begin(): void {
    this.open = true;
  }

  push(change: T): void {
    this.changes.push(change);
  }

  commit(endLsn: string, commitTime: number): void {
    this.open = false;
    this.openTxStored = false;
    this.committed = this.changes.length;
    this.transactions++;
    this.oldestCommitTime ??= commitTime;
    this.commitLsn = maxLsn(this.commitLsn, endLsn);
  }

  /**
   * The open transaction ends without anything to replicate in it (Syncline's own storage writes
   * when storage is the source database): no checkpoint and no transaction count for it.
   */
  skipTransaction(): void {
    this.open = false;
  }

  /** A heartbeat message outside any transaction: the stream is consistent at its position. */
  keepalive(lsn: string): void {
    if (!this.open) this.keepaliveLsn = maxLsn(this.keepaliveLsn, lsn);
  }

  /**
   * Removes and returns the changes of all complete transactions with the LSN to checkpoint at;
   * the open transaction's changes stay buffered. Null when there is no new consistent position
   * (no commit or heartbeat since the last checkpoint, or the open transaction is partly stored).
   */
  takeCommitted(): CommittedBatch<T> | null {
    const lsn = this.keepaliveLsn === null ? this.commitLsn : maxLsn(this.commitLsn, this.keepaliveLsn);
    if (!lsn || this.openTxStored) return null;
    const changes = this.committed === this.changes.length ? this.changes : this.changes.slice(0, this.committed);
    this.changes = this.committed === this.changes.length ? [] : this.changes.slice(this.committed);
    const batch: CommittedBatch<T> = { changes, lsn, transactions: this.transactions, oldestCommitTime: this.oldestCommitTime };
    this.committed = 0;
    this.commitLsn = null;
    this.keepaliveLsn = null;
    this.transactions = 0;
    this.oldestCommitTime = undefined;
    return batch;
  }

  /** Removes and returns every buffered change, to be stored without a checkpoint. */
  takeAll(): T[] {
    const changes = this.changes;
    if (this.open && changes.length > this.committed) this.openTxStored = true;
    this.changes = [];
    this.committed = 0;
    return changes;
  }
}

function maxLsn(a: string | null, b: string): string {
  const nb = normalizeLsn(b);
  return a !== null && a >= nb ? a : nb;
}
