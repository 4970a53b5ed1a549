/**
 * Registers every open sync stream in the storage database so the dashboard sees connections of
 * all API processes; flushes counters every few seconds, honours disconnect requests, and removes
 * rows of processes that stopped heartbeating.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  deleteConnection,
  deleteProcessConnections,
  deleteStaleConnections,
  flushConnectionCounters,
  insertConnections,
  type ConnectionCounters,
} from '@syncline/engine';

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

interface PendingInsert {
  id: string;
  info: ConnectionInfo;
  resolve(): void;
  reject(e: unknown): void;
}

/** Rows per INSERT statement when registrations are batched. */
const MAX_INSERT_ROWS = 500;

export class ConnectionRegistry {
  readonly processId = randomUUID();
  private readonly open = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | null = null;
  private pendingInserts: PendingInsert[] = [];
  private inserting = false;
  private insertScheduled = false;

  constructor(
    private readonly db: pg.Pool,
    private readonly logger: Logger,
    private readonly flushMs = 5_000,
  ) {}

  get size(): number {
    return this.open.size;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush().catch((e) => this.logger.warn({ err: e }, 'connection flush failed')), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.open.values()) t.abort.abort();
    await deleteProcessConnections(this.db, this.processId).catch(() => {});
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
    const inserted = new Promise<void>((resolve, reject) => this.pendingInserts.push({ id, info, resolve, reject }));
    inserted.catch(() => {});
    this.open.set(id, { info, bucketCount: 0, opsSent: 0, bytesSent: 0, lastCheckpoint: null, abort, inserted });
    this.scheduleInsert();
    return { id, inserted };
  }

  private scheduleInsert(): void {
    if (this.inserting || this.insertScheduled || this.pendingInserts.length === 0) return;
    this.insertScheduled = true;
    setImmediate(() => {
      this.insertScheduled = false;
      void this.insertPending();
    });
  }

  private async insertPending(): Promise<void> {
    if (this.inserting) return;
    this.inserting = true;
    try {
      while (this.pendingInserts.length > 0) {
        const batch = this.pendingInserts.splice(0, MAX_INSERT_ROWS);
        try {
          await insertConnections(
            this.db,
            this.processId,
            batch.map((p) => ({ id: p.id, ...p.info })),
          );
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.inserting = false;
    }
  }

  update(id: string, p: { bucketCount?: number; opsSent?: number; bytesSent?: number; lastCheckpoint?: bigint }): void {
    const t = this.open.get(id);
    if (!t) return;
    if (p.bucketCount !== undefined) t.bucketCount = p.bucketCount;
    if (p.opsSent !== undefined) t.opsSent = p.opsSent;
    if (p.bytesSent !== undefined) t.bytesSent = p.bytesSent;
    if (p.lastCheckpoint !== undefined) t.lastCheckpoint = p.lastCheckpoint;
  }

  async unregister(id: string): Promise<void> {
    const t = this.open.get(id);
    this.open.delete(id);
    // A row still being inserted is deleted after its insert (never left behind).
    if (t) await t.inserted.catch(() => {});
    await deleteConnection(this.db, id).catch(() => {});
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
