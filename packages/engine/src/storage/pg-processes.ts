/**
 * The process registry (syncline.processes) and its history (syncline.process_samples), PostgreSQL
 * storage: heartbeats with resource figures, samples pruned as they are written, listing for the
 * Cluster page, and removal of processes that stopped heartbeating long ago.
 */
import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

/** What a process reports about itself. `starting` until it can serve, `draining` after SIGTERM. */
export type ProcessState = 'starting' | 'ready' | 'draining' | 'stopped';

export interface ProcessIdentity {
  id: string;
  name: string;
  runner: string;
  version: string;
  pid: number;
  host: string;
}

export interface ProcessHeartbeat {
  state: ProcessState;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuPercent: number;
  activeVersions: readonly number[];
  standbyVersions: readonly number[];
  /** Versions whose op-log this process may still read (its API's serving version, open streams'). */
  servingVersions: readonly number[];
  replicationLagMs: number | null;
}

export interface StoredProcess extends ProcessIdentity, ProcessHeartbeat {
  startedAt: Date;
  heartbeatAt: Date;
  /** Seconds since the last heartbeat, by the database clock (no clock skew between hosts). */
  secondsSinceHeartbeat: number;
}

export interface StoredProcessSample {
  processId: string;
  processName: string;
  sampledAt: Date;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuPercent: number;
  replicationLagMs: number | null;
}

/** Inserts or refreshes the process's row (first call registers it; started_at is kept). */
export async function upsertProcessHeartbeat(db: Queryable, p: ProcessIdentity, h: ProcessHeartbeat): Promise<void> {
  await db.query(
    `INSERT INTO syncline.processes (id, name, runner, version, pid, host, state, connections, rss_bytes, heap_used_bytes, cpu_percent,
                                     active_versions, standby_versions, replication_lag_ms, serving_versions)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::int[], $13::int[], $14, $15::int[])
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), state = EXCLUDED.state, connections = EXCLUDED.connections,
       rss_bytes = EXCLUDED.rss_bytes, heap_used_bytes = EXCLUDED.heap_used_bytes, cpu_percent = EXCLUDED.cpu_percent,
       active_versions = EXCLUDED.active_versions, standby_versions = EXCLUDED.standby_versions, replication_lag_ms = EXCLUDED.replication_lag_ms,
       serving_versions = EXCLUDED.serving_versions`,
    [
      p.id,
      p.name,
      p.runner,
      p.version,
      p.pid,
      p.host,
      h.state,
      h.connections,
      Math.round(h.rssBytes),
      Math.round(h.heapUsedBytes),
      h.cpuPercent,
      [...h.activeVersions],
      [...h.standbyVersions],
      h.replicationLagMs === null ? null : Math.round(h.replicationLagMs),
      [...h.servingVersions],
    ],
  );
}

/** Sets the state of the process's row (draining on SIGTERM, stopped on a clean exit); no-op when absent. */
export async function setProcessState(db: Queryable, id: string, state: ProcessState): Promise<void> {
  await db.query(
    `UPDATE syncline.processes SET state = $2, heartbeat_at = now(),
            connections = CASE WHEN $2 = 'stopped' THEN 0 ELSE connections END,
            active_versions = CASE WHEN $2 = 'stopped' THEN '{}'::int[] ELSE active_versions END,
            standby_versions = CASE WHEN $2 = 'stopped' THEN '{}'::int[] ELSE standby_versions END,
            serving_versions = CASE WHEN $2 = 'stopped' THEN '{}'::int[] ELSE serving_versions END
      WHERE id = $1`,
    [id, state],
  );
}

/**
 * Appends one history sample of the process and prunes samples older than `retentionHours`
 * (of every process: whichever process writes prunes, so history stays bounded after a process is gone).
 */
export async function insertProcessSample(db: Queryable, p: { id: string; name: string }, h: ProcessHeartbeat, retentionHours = 24): Promise<void> {
  await db.query(
    `INSERT INTO syncline.process_samples (process_id, process_name, connections, rss_bytes, heap_used_bytes, cpu_percent, replication_lag_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [p.id, p.name, h.connections, Math.round(h.rssBytes), Math.round(h.heapUsedBytes), h.cpuPercent, h.replicationLagMs === null ? null : Math.round(h.replicationLagMs)],
  );
  await db.query(`DELETE FROM syncline.process_samples WHERE sampled_at < now() - make_interval(hours => $1)`, [retentionHours]);
}

/** Deletes rows of processes whose last heartbeat is older than `afterSeconds` (gone or stopped long ago). */
export async function deleteGoneProcesses(db: Queryable, afterSeconds: number): Promise<number> {
  const r = await db.query(`DELETE FROM syncline.processes WHERE heartbeat_at < now() - make_interval(secs => $1)`, [afterSeconds]);
  return r.rowCount ?? 0;
}

/** Every registered process, oldest first. */
export async function listStoredProcesses(db: Queryable): Promise<StoredProcess[]> {
  const { rows } = await db.query<{
    id: string;
    name: string;
    runner: string;
    version: string;
    pid: number;
    host: string;
    started_at: Date;
    heartbeat_at: Date;
    since: number;
    state: ProcessState;
    connections: number;
    rss_bytes: string;
    heap_used_bytes: string;
    cpu_percent: number;
    active_versions: number[];
    standby_versions: number[];
    serving_versions: number[] | null;
    replication_lag_ms: number | null;
  }>(
    `SELECT id, name, runner, version, pid, host, started_at, heartbeat_at, extract(epoch FROM now() - heartbeat_at)::float8 AS since,
            state, connections, rss_bytes::text, heap_used_bytes::text, cpu_percent, active_versions, standby_versions, serving_versions, replication_lag_ms
       FROM syncline.processes ORDER BY started_at, name`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    runner: r.runner,
    version: r.version,
    pid: r.pid,
    host: r.host,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    secondsSinceHeartbeat: Math.max(0, r.since),
    state: r.state,
    connections: r.connections,
    rssBytes: Number(r.rss_bytes),
    heapUsedBytes: Number(r.heap_used_bytes),
    cpuPercent: r.cpu_percent,
    activeVersions: r.active_versions,
    standbyVersions: r.standby_versions,
    servingVersions: r.serving_versions ?? [],
    replicationLagMs: r.replication_lag_ms,
  }));
}

/**
 * Live processes that may still read the op-log of stopped version `versionId`: they list it as
 * served, have not heartbeated since it stopped (their list predates the stop), or do not report
 * the list (older code). A process whose heartbeat is older than `staleSeconds` is gone (killed or
 * cut off from storage) and not counted; a cleanly stopped one neither. Also how long ago the
 * version stopped (by the database clock).
 */
export async function processesReadingVersion(db: Queryable, versionId: number, staleSeconds: number): Promise<{ readers: string[]; stoppedForSeconds: number }> {
  const { rows } = await db.query<{ readers: string[]; stopped_for: number | null }>(
    `SELECT extract(epoch FROM now() - v.stopped_at)::float8 AS stopped_for,
            ARRAY(SELECT p.name FROM syncline.processes p
                   WHERE p.state <> 'stopped' AND p.heartbeat_at > now() - make_interval(secs => $2)
                     AND (p.serving_versions IS NULL OR $1 = ANY(p.serving_versions) OR v.stopped_at IS NULL OR p.heartbeat_at <= v.stopped_at)
                   ORDER BY p.name) AS readers
       FROM syncline.sync_rules_versions v WHERE v.id = $1`,
    [versionId, staleSeconds],
  );
  return { readers: rows[0]?.readers ?? [], stoppedForSeconds: rows[0]?.stopped_for ?? 0 };
}

/** Samples of the last `minutes`, oldest first, at most `limit` rows (the newest ones when more). */
export async function listProcessSamples(db: Queryable, minutes: number, limit = 50_000): Promise<StoredProcessSample[]> {
  const { rows } = await db.query<{
    process_id: string;
    process_name: string;
    sampled_at: Date;
    connections: number;
    rss_bytes: string;
    heap_used_bytes: string;
    cpu_percent: number;
    replication_lag_ms: number | null;
  }>(
    `SELECT * FROM (
       SELECT process_id, process_name, sampled_at, connections, rss_bytes::text, heap_used_bytes::text, cpu_percent, replication_lag_ms
         FROM syncline.process_samples WHERE sampled_at > now() - make_interval(mins => $1)
        ORDER BY sampled_at DESC LIMIT $2) s
      ORDER BY sampled_at`,
    [minutes, limit],
  );
  return rows.map((r) => ({
    processId: r.process_id,
    processName: r.process_name,
    sampledAt: r.sampled_at,
    connections: r.connections,
    rssBytes: Number(r.rss_bytes),
    heapUsedBytes: Number(r.heap_used_bytes),
    cpuPercent: r.cpu_percent,
    replicationLagMs: r.replication_lag_ms,
  }));
}
