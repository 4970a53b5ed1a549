/**
 * The registry of open sync streams of every API process (syncline.connections, PostgreSQL
 * storage): batched registration, counter flushes with heartbeat, disconnect requests, cleanup.
 */
import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

export interface NewConnection {
  id: string;
  versionId: number | null;
  userId: string;
  clientId: string | null;
  userAgent: string | null;
  transport: string;
}

export interface ConnectionCounters {
  id: string;
  bucketCount: number;
  opsSent: number;
  bytesSent: number;
  lastCheckpoint: bigint | null;
}

export interface StoredConnection {
  id: string;
  processId: string;
  /** PROCESS_NAME of the serving process (null when its registry row is gone). */
  processName: string | null;
  versionId: number | null;
  userId: string;
  clientId: string | null;
  userAgent: string | null;
  transport: string;
  connectedAt: Date;
  lastSeenAt: Date;
  bucketCount: number;
  opsSent: number;
  bytesSent: number;
  lastCheckpoint: string | null;
  disconnectRequested: boolean;
}

/** Inserts the rows of newly opened streams of one process in one statement. */
export async function insertConnections(db: Queryable, processId: string, rows: readonly NewConnection[]): Promise<void> {
  await db.query(
    `INSERT INTO syncline.connections (id, process_id, version_id, user_id, client_id, user_agent, transport)
     SELECT u.id, $1, u.v, u.u, u.c, u.a, u.t FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(id, v, u, c, a, t)`,
    [
      processId,
      rows.map((r) => r.id),
      rows.map((r) => r.versionId),
      rows.map((r) => r.userId),
      rows.map((r) => r.clientId),
      rows.map((r) => r.userAgent?.slice(0, 300) ?? null),
      rows.map((r) => r.transport),
    ],
  );
}

/** Writes counters and heartbeats the given streams; returns the ids an operator asked to disconnect. */
export async function flushConnectionCounters(db: Queryable, counters: readonly ConnectionCounters[]): Promise<string[]> {
  if (counters.length === 0) return [];
  const { rows } = await db.query<{ id: string; disconnect_requested: boolean }>(
    `UPDATE syncline.connections c SET bucket_count = u.b, ops_sent = u.o, bytes_sent = u.y, last_checkpoint = u.cp, last_seen_at = now()
       FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, b, o, y, cp)
      WHERE c.id = u.id RETURNING c.id, c.disconnect_requested`,
    [
      counters.map((c) => c.id),
      counters.map((c) => c.bucketCount),
      counters.map((c) => c.opsSent),
      counters.map((c) => c.bytesSent),
      counters.map((c) => c.lastCheckpoint?.toString() ?? null),
    ],
  );
  return rows.filter((r) => r.disconnect_requested).map((r) => r.id);
}

/** Removes the rows of ended streams in one statement (callers chunk large id lists). */
export async function deleteConnections(db: Queryable, ids: readonly string[]): Promise<void> {
  await db.query('DELETE FROM syncline.connections WHERE id = ANY($1::text[])', [ids]);
}

export async function deleteProcessConnections(db: Queryable, processId: string): Promise<void> {
  await db.query('DELETE FROM syncline.connections WHERE process_id = $1', [processId]);
}

/** Removes rows of processes that stopped heartbeating for `staleSeconds`. */
export async function deleteStaleConnections(db: Queryable, staleSeconds: number): Promise<void> {
  await db.query(`DELETE FROM syncline.connections WHERE last_seen_at < now() - make_interval(secs => $1)`, [staleSeconds]);
}

/**
 * Newest connections first, optionally of one user and/or one process, with the serving process's
 * name (null when its process row is gone), and the total count.
 */
export async function listStoredConnections(
  db: Queryable,
  filter: { userId: string | null; processId: string | null },
  limit: number,
): Promise<{ connections: StoredConnection[]; total: number }> {
  const { userId, processId } = filter;
  const [list, count] = await Promise.all([
    db.query<{
      id: string;
      process_id: string;
      process_name: string | null;
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
    }>(
      `SELECT c.id, c.process_id, p.name AS process_name, c.version_id, c.user_id, c.client_id, c.user_agent, c.transport, c.connected_at, c.last_seen_at,
              c.bucket_count, c.ops_sent::text, c.bytes_sent::text, c.last_checkpoint::text, c.disconnect_requested
         FROM syncline.connections c LEFT JOIN syncline.processes p ON p.id = c.process_id
        WHERE ($1::text IS NULL OR c.user_id = $1) AND ($3::text IS NULL OR c.process_id = $3)
        ORDER BY c.connected_at DESC, c.id LIMIT $2`,
      [userId, limit, processId],
    ),
    db.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM syncline.connections WHERE ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR process_id = $2)',
      [userId, processId],
    ),
  ]);
  return {
    total: Number(count.rows[0]?.n ?? 0),
    connections: list.rows.map((r) => ({
      id: r.id,
      processId: r.process_id,
      processName: r.process_name,
      versionId: r.version_id,
      userId: r.user_id,
      clientId: r.client_id,
      userAgent: r.user_agent,
      transport: r.transport,
      connectedAt: r.connected_at,
      lastSeenAt: r.last_seen_at,
      bucketCount: r.bucket_count,
      opsSent: Number(r.ops_sent),
      bytesSent: Number(r.bytes_sent),
      lastCheckpoint: r.last_checkpoint,
      disconnectRequested: r.disconnect_requested,
    })),
  };
}

/** Marks one stream (by id) or all streams of a user for disconnection; returns how many rows matched. */
export async function requestConnectionDisconnect(db: Queryable, by: { id: string } | { userId: string }): Promise<number> {
  const r =
    'id' in by
      ? await db.query('UPDATE syncline.connections SET disconnect_requested = true WHERE id = $1', [by.id])
      : await db.query('UPDATE syncline.connections SET disconnect_requested = true WHERE user_id = $1', [by.userId]);
  return r.rowCount ?? 0;
}
