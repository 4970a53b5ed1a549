/**
 * The replication advisory lock's connection: a dedicated storage connection per version that
 * holds (or, for a standby, waits on) the version's session-level advisory lock, and records when
 * it is lost so the job it guards stops.
 */
import type pg from 'pg';

/** Advisory lock class of replication jobs ('SY'); the object id is the version id. */
export const LOCK_CLASS = 0x5359;

/** A dedicated storage connection holding one version's session-level advisory lock. */
export interface LockSession {
  client: pg.Client;
  /** Backend pid of the lock session (what pg_locks shows as the holder). */
  pid: number;
  /** Set when the connection reported an error or ended (also before a job watched it). */
  lost: { reason: string; err?: unknown } | null;
  /** Called on each loss event (error, end) once a job watches the lock. */
  onLost: ((reason: string, err?: unknown) => void) | null;
}

/** A standby's blocked `pg_advisory_lock` call for one version. */
export interface LockWait {
  client: pg.Client;
  cancelled: boolean;
  done: Promise<void>;
}

/** Lock-check and try-lock queries give up after this long (a dead connection is then noticed). */
const LOCK_QUERY_TIMEOUT_MS = 10_000;

/**
 * Records the loss of a lock connection (error or end) from the moment it is created, and tells
 * the watching job when there is one (`pid` is set once the lock is granted).
 */
export function trackLockSession(client: pg.Client): LockSession {
  const session: LockSession = { client, pid: 0, lost: null, onLost: null };
  const lose = (reason: string, err?: unknown) => {
    session.lost ??= { reason, err };
    session.onLost?.(reason, err);
  };
  client.on('error', (e: Error) => lose('lock session error', e));
  client.on('end', () => lose('lock session ended'));
  return session;
}

/**
 * A query on a lock connection that gives up after LOCK_QUERY_TIMEOUT_MS (pg's Client honours a
 * per-query `query_timeout`; its types omit it). The connection itself has no timeout, because the
 * standby's `pg_advisory_lock` blocks for as long as another process holds the lock.
 */
export function timedQuery(text: string, values: unknown[]): pg.QueryConfig {
  const config = { text, values, query_timeout: LOCK_QUERY_TIMEOUT_MS };
  return config;
}
