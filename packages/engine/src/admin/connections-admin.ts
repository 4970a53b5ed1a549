/**
 * Live sync streams of every API process (syncline.connections), filtered by user, and disconnect
 * requests: the owning process sees `disconnect_requested` at its next flush (every ~5 s) and
 * aborts the stream.
 */
import { ServiceError } from '@syncline/protocol';
import { listStoredConnections, requestConnectionDisconnect } from '../storage/pg-connections.ts';
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

export async function listConnections(
  deps: AdminDeps,
  opts: { userId?: string | null; limit?: number } = {},
): Promise<{ connections: ConnectionRow[]; total: number }> {
  const limit = Math.min(Math.max(opts.limit ?? 200, 1), 1000);
  const { connections, total } = await listStoredConnections(deps.storage, opts.userId?.trim() || null, limit);
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
