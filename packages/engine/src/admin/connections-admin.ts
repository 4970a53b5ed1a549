/**
 * Live sync streams of every API process (syncline.connections), filtered by user, and disconnect
 * requests: the owning process sees `disconnect_requested` at its next flush (every ~5 s) and
 * aborts the stream.
 */
import { ServiceError } from '@syncline/protocol';
import { listStoredConnections, requestConnectionDisconnect, type StoredConnection } from '../storage/pg-connections.ts';
import type { AdminDeps } from './admin-deps.ts';

/** A stored connection as the admin API returns it (times as ISO strings). */
export type ConnectionRow = Omit<StoredConnection, 'connectedAt' | 'lastSeenAt'> & { connectedAt: string; lastSeenAt: string };

export async function listConnections(
  deps: AdminDeps,
  opts: { userId?: string | null; processId?: string | null; limit?: number } = {},
): Promise<{ connections: ConnectionRow[]; total: number }> {
  const limit = Math.min(Math.max(opts.limit ?? 200, 1), 1000);
  const { connections, total } = await listStoredConnections(deps.storage, { userId: opts.userId?.trim() || null, processId: opts.processId?.trim() || null }, limit);
  return {
    total,
    connections: connections.map((c) => ({ ...c, connectedAt: c.connectedAt.toISOString(), lastSeenAt: c.lastSeenAt.toISOString() })),
  };
}

/** Asks the owning API process to end the stream (it does so within its flush interval, ~5 s). */
export async function requestDisconnect(deps: AdminDeps, id: string): Promise<{ id: string; requested: true }> {
  if ((await requestConnectionDisconnect(deps.storage, { id })) === 0) throw new ServiceError('NOT_FOUND', `No open connection ${id} (it may have closed already).`);
  return { id, requested: true };
}

/** Disconnects every stream of one user; returns how many were asked to close. */
export async function requestDisconnectUser(deps: AdminDeps, userId: string): Promise<{ userId: string; requested: number }> {
  return { userId, requested: await requestConnectionDisconnect(deps.storage, { userId }) };
}
