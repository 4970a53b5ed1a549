/**
 * Registers every open sync stream in the storage database so the dashboard sees connections of
 * all API processes; flushes counters every few seconds, honours disconnect requests, and removes
 * rows of processes that stopped heartbeating.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';

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
  dirty: boolean;
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
    await this.db.query('DELETE FROM syncline.connections WHERE process_id = $1', [this.processId]).catch(() => {});
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
    this.open.set(id, { info, bucketCount: 0, opsSent: 0, bytesSent: 0, lastCheckpoint: null, dirty: false, abort, inserted });
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
          await this.db.query(
            `INSERT INTO syncline.connections (id, process_id, version_id, user_id, client_id, user_agent, transport)
             SELECT u.id, $1, u.v, u.u, u.c, u.a, u.t FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(id, v, u, c, a, t)`,
            [
              this.processId,
              batch.map((p) => p.id),
              batch.map((p) => p.info.versionId),
              batch.map((p) => p.info.userId),
              batch.map((p) => p.info.clientId),
              batch.map((p) => p.info.userAgent?.slice(0, 300) ?? null),
              batch.map((p) => p.info.transport),
            ],
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
    t.dirty = true;
  }

  async unregister(id: string): Promise<void> {
    const t = this.open.get(id);
    this.open.delete(id);
    // A row still being inserted is deleted after its insert (never left behind).
    if (t) await t.inserted.catch(() => {});
    await this.db.query('DELETE FROM syncline.connections WHERE id = $1', [id]).catch(() => {});
  }

  /** Writes counters of changed connections, heartbeats all, and applies disconnect requests. */
  async flush(): Promise<void> {
    const ids: string[] = [];
    const buckets: number[] = [];
    const ops: number[] = [];
    const bytes: number[] = [];
    const checkpoints: (string | null)[] = [];
    for (const [id, t] of this.open) {
      ids.push(id);
      buckets.push(t.bucketCount);
      ops.push(t.opsSent);
      bytes.push(t.bytesSent);
      checkpoints.push(t.lastCheckpoint?.toString() ?? null);
      t.dirty = false;
    }
    if (ids.length > 0) {
      const { rows } = await this.db.query<{ id: string }>(
        `UPDATE syncline.connections c SET bucket_count = u.b, ops_sent = u.o, bytes_sent = u.y, last_checkpoint = u.cp, last_seen_at = now()
           FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, b, o, y, cp)
          WHERE c.id = u.id RETURNING c.id, c.disconnect_requested`,
        [ids, buckets, ops, bytes, checkpoints],
      );
      for (const r of rows as Array<{ id: string; disconnect_requested: boolean }>) {
        if (r.disconnect_requested) this.open.get(r.id)?.abort.abort();
      }
    }
    await this.db.query(`DELETE FROM syncline.connections WHERE last_seen_at < now() - interval '1 minute'`);
  }
}
