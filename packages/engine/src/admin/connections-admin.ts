/**
 * Live sync streams of every API process (syncline.connections), filtered by user, and disconnect
 * requests: the owning process sees `disconnect_requested` at its next flush (every ~5 s) and
 * aborts the stream.
 */
import { ServiceError } from '@syncline/protocol';
import type { AdminDeps } from './admin-deps.ts';

export interface ConnectionRow {
  id: string;
  processId: string;
  versionId: number | null;
  userId: string;
  clientId: string | null;
  userAgent: string | null;
  transport: string;
  connectedAt: string;
  lastSeenAt: string;
  bucketCount: number;
  opsSent: number;
  bytesSent: number;
  lastCheckpoint: string | null;
  disconnectRequested: boolean;
}

interface Row {
  id: string;
  process_id: string;
  version_id: number | null;
  user_id: string;
  client_id: string | null;
  user_agent: string | null;
  transport: string;
  connected_at: Date;
  last_seen_at: Date;
  bucket_count: number;
  ops_sent: string;
  bytes_sent: string;
  last_checkpoint: string | null;
  disconnect_requested: boolean;
}

export async function listConnections(
  deps: AdminDeps,
  opts: { userId?: string | null; limit?: number } = {},
): Promise<{ connections: ConnectionRow[]; total: number }> {
  const limit = Math.min(Math.max(opts.limit ?? 200, 1), 1000);
  const user = opts.userId?.trim() || null;
  const [list, count] = await Promise.all([
    deps.storage.query<Row>(
      `SELECT id, process_id, version_id, user_id, client_id, user_agent, transport, connected_at, last_seen_at,
              bucket_count, ops_sent::text, bytes_sent::text, last_checkpoint::text, disconnect_requested
         FROM syncline.connections WHERE ($1::text IS NULL OR user_id = $1)
        ORDER BY connected_at DESC, id LIMIT $2`,
      [user, limit],
    ),
    deps.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.connections WHERE ($1::text IS NULL OR user_id = $1)', [user]),
  ]);
  return {
    total: Number(count.rows[0]?.n ?? 0),
    connections: list.rows.map((r) => ({
      id: r.id,
      processId: r.process_id,
      versionId: r.version_id,
      userId: r.user_id,
      clientId: r.client_id,
      userAgent: r.user_agent,
      transport: r.transport,
      connectedAt: r.connected_at.toISOString(),
      lastSeenAt: r.last_seen_at.toISOString(),
      bucketCount: r.bucket_count,
      opsSent: Number(r.ops_sent),
      bytesSent: Number(r.bytes_sent),
      lastCheckpoint: r.last_checkpoint,
      disconnectRequested: r.disconnect_requested,
    })),
  };
}

/** Asks the owning API process to end the stream (it does so within its flush interval, ~5 s). */
export async function requestDisconnect(deps: AdminDeps, id: string): Promise<{ id: string; requested: true }> {
  const r = await deps.storage.query('UPDATE syncline.connections SET disconnect_requested = true WHERE id = $1', [id]);
  if (!r.rowCount) throw new ServiceError('NOT_FOUND', `No open connection ${id} (it may have closed already).`);
  return { id, requested: true };
}

/** Disconnects every stream of one user; returns how many were asked to close. */
export async function requestDisconnectUser(deps: AdminDeps, userId: string): Promise<{ userId: string; requested: number }> {
  const r = await deps.storage.query('UPDATE syncline.connections SET disconnect_requested = true WHERE user_id = $1', [userId]);
  return { userId, requested: r.rowCount ?? 0 };
}
