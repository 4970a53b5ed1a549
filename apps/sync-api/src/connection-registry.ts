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
}

export class ConnectionRegistry {
  readonly processId = randomUUID();
  private readonly open = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | null = null;

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
    const id = randomUUID();
    this.open.set(id, { info, bucketCount: 0, opsSent: 0, bytesSent: 0, lastCheckpoint: null, dirty: false, abort });
    await this.db.query(
      `INSERT INTO syncline.connections (id, process_id, version_id, user_id, client_id, user_agent, transport) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, this.processId, info.versionId, info.userId, info.clientId, info.userAgent?.slice(0, 300) ?? null, info.transport],
    );
    return id;
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
    this.open.delete(id);
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
