/**
 * Source changes replication could not apply as sent: deletes whose key matched no stored row, and
 * changes whose key could not be built from pgoutput's tuples. None is dropped silently:
 * each is counted in the replication metrics (exposed on /metrics) and logged, at most one line
 * per table and kind every LOG_INTERVAL_MS with the count since the previous line. Key values are
 * never logged (they are source data).
 */
import type { Logger } from 'pino';
import type { ReplicationErrorCode } from './replication-errors.ts';
import type { ReplicationMetrics } from './replication-metrics.ts';

export const LOG_INTERVAL_MS = 10_000;

type Kind = 'unmatched-delete' | 'unkeyed-change';

const MESSAGES: Record<Kind, string> = {
  'unmatched-delete':
    'deletes matched no stored row. Expected for rows deleted while their table was being snapshotted; otherwise the replica identity key does not identify stored rows (check the table\'s REPLICA IDENTITY) and clients may keep deleted rows',
  'unkeyed-change':
    'changes arrived without the values of their key columns and were skipped (the WAL does not carry the replica identity key); give the table a primary key or REPLICA IDENTITY FULL',
};

export class ChangeAnomalies {
  private readonly pending = new Map<string, { count: number; lastLog: number }>();

  constructor(
    private readonly metrics: ReplicationMetrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  unmatchedDeletes(table: string, count: number): void {
    if (count <= 0) return;
    this.metrics.unmatchedDeletes += count;
    this.note('unmatched-delete', table, count);
  }

  unkeyedChange(table: string, op: 'insert' | 'update' | 'delete'): void {
    this.metrics.unkeyedChanges++;
    this.note('unkeyed-change', `${table} (${op})`, 1);
  }

  private note(kind: Kind, table: string, count: number): void {
    const k = `${kind}\u0000${table}`;
    const now = this.now();
    const p = this.pending.get(k) ?? { count: 0, lastLog: -Infinity };
    p.count += count;
    this.pending.set(k, p);
    if (now - p.lastLog < LOG_INTERVAL_MS) return;
    const code: ReplicationErrorCode = kind === 'unmatched-delete' ? 'UNMATCHED_DELETE' : 'CHANGE_WITHOUT_KEY';
    this.logger.warn({ code, table, count: p.count }, `${p.count} ${MESSAGES[kind]}`);
    p.count = 0;
    p.lastLog = now;
  }
}
