/**
 * Registers every open sync stream in the storage database so the dashboard sees connections of
 * all API processes; flushes counters every few seconds, honours disconnect requests, and removes
 * rows of processes that stopped heartbeating.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  deleteConnections,
  deleteProcessConnections,
  deleteStaleConnections,
  flushConnectionCounters,
  insertConnections,
  type ConnectionCounters,
  type NewConnection,
} from '@syncline/engine';
import { StatementBatcher } from './statement-batcher.ts';

export interface ConnectionInfo {
  userId: string;
  clientId: string | null;
  userAgent: string | null;
  transport: 'http' | 'websocket';
  versionId: number | null;
}

interface Tracked {
  info: ConnectionInfo;
  bucketCount: number;
  opsSent: number;
  bytesSent: number;
  lastCheckpoint: bigint | null;
  abort: AbortController;
  /** Settles when the row is in the table (or its insert failed). */
  inserted: Promise<void>;
}

/** Rows per INSERT or DELETE statement when registrations and unregistrations are batched. */
const MAX_BATCH_ROWS = 500;

export class ConnectionRegistry {
  readonly processId = randomUUID();
  private readonly open = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | null = null;
  private readonly inserts: StatementBatcher<NewConnection>;
  private readonly deletes: StatementBatcher<string>;

  constructor(
    private readonly db: pg.Pool,
    private readonly logger: Logger,
    private readonly flushMs = 5_000,
  ) {
    this.inserts = new StatementBatcher((rows) => insertConnections(this.db, this.processId, rows), MAX_BATCH_ROWS);
    // A failed delete is not retried: the row goes with the process's rows at stop(), or as stale
    // (no heartbeat) at another process's flush.
    this.deletes = new StatementBatcher(
      (ids) => deleteConnections(this.db, ids).catch((e: unknown) => this.logger.debug({ err: e, rows: ids.length }, 'connection rows delete failed')),
      MAX_BATCH_ROWS,
    );
  }

  get size(): number {
    return this.open.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush().catch((e) => this.logger.warn({ err: e }, 'connection flush failed')), this.flushMs);
    this.timer.unref();
  }

  /** Ends every stream and removes every row of this process, including rows whose INSERT is still running. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.open.values()) t.abort.abort();
    await this.inserts.idle();
    await deleteProcessConnections(this.db, this.processId).catch((e: unknown) => this.logger.debug({ err: e }, 'process connection rows delete failed'));
  }

  /** Ends every open stream (drain): each one finishes its current line and closes cleanly. */
  abortAll(): number {
    for (const t of this.open.values()) t.abort.abort();
    return this.open.size;
  }

  async register(info: ConnectionInfo, abort: AbortController): Promise<string> {
    const { id, inserted } = this.registerBatched(info, abort);
    await inserted;
    return id;
  }

  /**
   * Tracks the connection now and inserts its row in the background: registrations that arrive
   * while an insert runs (a connection storm) share one multi-row INSERT, so N connections cost
   * a handful of statements instead of N round trips. The caller awaits `inserted` (in parallel
   * with its own work) before treating the connection as open.
   */
  registerBatched(info: ConnectionInfo, abort: AbortController): { id: string; inserted: Promise<void> } {
    const id = randomUUID();
    const inserted = this.inserts.add({ id, ...info });
    inserted.catch(() => {});
    this.open.set(id, { info, bucketCount: 0, opsSent: 0, bytesSent: 0, lastCheckpoint: null, abort, inserted });
    return { id, inserted };
  }

  update(id: string, p: { bucketCount?: number; opsSent?: number; bytesSent?: number; lastCheckpoint?: bigint }): void {
    const t = this.open.get(id);
    if (!t) return;
    if (p.bucketCount !== undefined) t.bucketCount = p.bucketCount;
    if (p.opsSent !== undefined) t.opsSent = p.opsSent;
    if (p.bytesSent !== undefined) t.bytesSent = p.bytesSent;
    if (p.lastCheckpoint !== undefined) t.lastCheckpoint = p.lastCheckpoint;
  }

  /**
   * Stops tracking the stream and resolves once its row is gone (or its delete failed, logged at
   * debug). Unregistrations that arrive together (a drain, a rolling restart) or while a delete
   * runs share one DELETE, like registrations share one INSERT.
   */
  async unregister(id: string): Promise<void> {
    const t = this.open.get(id);
    this.open.delete(id);
    // A row still being inserted is deleted after its insert (never left behind).
    if (t) await t.inserted.catch(() => {});
    await this.deletes.add(id);
  }

  /** Writes the counters of all open connections (a heartbeat), applies disconnect requests, drops stale rows. */
  async flush(): Promise<void> {
    const counters: ConnectionCounters[] = [];
    for (const [id, t] of this.open) {
      counters.push({ id, bucketCount: t.bucketCount, opsSent: t.opsSent, bytesSent: t.bytesSent, lastCheckpoint: t.lastCheckpoint });
    }
    for (const id of await flushConnectionCounters(this.db, counters)) this.open.get(id)?.abort.abort();
    await deleteStaleConnections(this.db, 60);
  }
}
