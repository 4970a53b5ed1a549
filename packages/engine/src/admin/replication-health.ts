/**
 * Replication health per version (state, snapshot progress, LSN, lag seconds, WAL retained by the
 * slot, last error, counters) and persisted samples for the console's charts.
 */
import { getVersionsInState } from '../storage/pg-versions.ts';
import type { VersionState } from '../storage/storage-types.ts';
import { idText, type AdminDeps } from './admin-deps.ts';

export interface VersionHealth {
  versionId: number;
  state: VersionState;
  slotName: string;
  snapshotDone: boolean;
  snapshot: { tablesTotal: number; tablesDone: number; rowsCopied: number; rowsEstimated: number | null };
  lastCheckpoint: string | null;
  lastCheckpointLsn: string | null;
  lastCheckpointAt: string | null;
  lastFatalError: string | null;
  lagSeconds: number | null;
  /** Source WAL not yet confirmed by the slot (bytes). */
  lagBytes: number | null;
  /** WAL the slot keeps on the source (bytes since restart_lsn). */
  walRetainedBytes: number | null;
  slotActive: boolean | null;
  walStatus: string | null;
  rowsReplicated: number;
  opsWritten: number;
  transactions: number;
  lastCommitAt: string | null;
}

export interface HealthSample {
  at: string;
  versionId: number | null;
  rowsReplicated: number;
  opsWritten: number;
  transactions: number;
  opsSynced: number;
  connections: number;
  lagSeconds: number | null;
  lagBytes: number | null;
}

interface SlotRow {
  slot_name: string;
  active: boolean;
  wal_status: string | null;
  lag_bytes: string | null;
  retained_bytes: string | null;
}

export async function replicationHealth(deps: AdminDeps): Promise<{ versions: VersionHealth[]; connections: number; opsSynced: number }> {
  const versions = await getVersionsInState(deps.storage, ['PROCESSING', 'ACTIVE', 'ERRORED']);
  const ids = versions.map((v) => v.id);
  const [stats, tables, slots, conns] = await Promise.all([
    deps.storage.query<{ version_id: number; rows_replicated: string; ops_written: string; transactions: string; last_commit_at: Date | null; lag_seconds: number | null }>(
      'SELECT version_id, rows_replicated::text, ops_written::text, transactions::text, last_commit_at, lag_seconds FROM syncline.replication_stats WHERE version_id = ANY($1)',
      [ids],
    ),
    deps.storage.query<{ version_id: number; total: number; done: number; copied: string; estimated: string | null }>(
      `SELECT version_id, count(*)::int AS total, (count(*) FILTER (WHERE snapshot_done))::int AS done,
              coalesce(sum(snapshot_count), 0)::text AS copied, sum(snapshot_estimated_count)::text AS estimated
         FROM syncline.source_tables WHERE version_id = ANY($1) AND NOT dropped GROUP BY version_id`,
      [ids],
    ),
    deps.source
      .query<SlotRow>(
        `SELECT slot_name, active, wal_status,
                pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag_bytes,
                pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained_bytes
           FROM pg_replication_slots WHERE slot_name = ANY($1)`,
        [versions.map((v) => v.slotName)],
      )
      .catch(() => ({ rows: [] as SlotRow[] })),
    deps.storage.query<{ n: number; ops: string }>('SELECT count(*)::int AS n, coalesce(sum(ops_sent), 0)::text AS ops FROM syncline.connections'),
  ]);
  const lastAt = await deps.storage.query<{ id: number; last_checkpoint_at: Date | null }>(
    'SELECT id, last_checkpoint_at FROM syncline.sync_rules_versions WHERE id = ANY($1)',
    [ids],
  );
  const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return {
    connections: conns.rows[0]?.n ?? 0,
    opsSynced: Number(conns.rows[0]?.ops ?? 0),
    versions: versions.map((v) => {
      const s = stats.rows.find((r) => r.version_id === v.id);
      const t = tables.rows.find((r) => r.version_id === v.id);
      const slot = slots.rows.find((r) => r.slot_name === v.slotName);
      return {
        versionId: v.id,
        state: v.state,
        slotName: v.slotName,
        snapshotDone: v.snapshotDone,
        snapshot: { tablesTotal: t?.total ?? 0, tablesDone: t?.done ?? 0, rowsCopied: Number(t?.copied ?? 0), rowsEstimated: num(t?.estimated) },
        lastCheckpoint: idText(v.lastCheckpoint),
        lastCheckpointLsn: v.lastCheckpointLsn,
        lastCheckpointAt: lastAt.rows.find((r) => r.id === v.id)?.last_checkpoint_at?.toISOString() ?? null,
        lastFatalError: v.lastFatalError,
        lagSeconds: s?.lag_seconds ?? null,
        lagBytes: num(slot?.lag_bytes),
        walRetainedBytes: num(slot?.retained_bytes),
        slotActive: slot?.active ?? null,
        walStatus: slot?.wal_status ?? null,
        rowsReplicated: Number(s?.rows_replicated ?? 0),
        opsWritten: Number(s?.ops_written ?? 0),
        transactions: Number(s?.transactions ?? 0),
        lastCommitAt: s?.last_commit_at?.toISOString() ?? null,
      };
    }),
  };
}

/** Persists one sample of the serving version's counters (call every ~15 s); prunes after 24 h. */
export async function recordHealthSample(deps: AdminDeps): Promise<void> {
  const h = await replicationHealth(deps);
  const v = h.versions.find((x) => x.state === 'ACTIVE') ?? h.versions.find((x) => x.state === 'ERRORED') ?? h.versions[0] ?? null;
  // Several API processes may sample: at most one sample per 10 s is kept.
  await deps.storage.query(
    `INSERT INTO syncline.health_samples (version_id, rows_replicated, ops_written, transactions, ops_synced, connections, lag_seconds, lag_bytes)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8
      WHERE NOT EXISTS (SELECT 1 FROM syncline.health_samples WHERE sampled_at > now() - interval '10 seconds')`,
    [v?.versionId ?? null, v?.rowsReplicated ?? 0, v?.opsWritten ?? 0, v?.transactions ?? 0, h.opsSynced, h.connections, v?.lagSeconds ?? null, v?.lagBytes ?? null],
  );
  await deps.storage.query(`DELETE FROM syncline.health_samples WHERE sampled_at < now() - interval '24 hours'`);
}

/** Samples of the last `minutes` (default 60), oldest first. */
export async function listHealthSamples(deps: AdminDeps, minutes = 60): Promise<HealthSample[]> {
  const { rows } = await deps.storage.query<{
    sampled_at: Date;
    version_id: number | null;
    rows_replicated: string;
    ops_written: string;
    transactions: string;
    ops_synced: string;
    connections: number;
    lag_seconds: number | null;
    lag_bytes: string | null;
  }>(
    `SELECT sampled_at, version_id, rows_replicated::text, ops_written::text, transactions::text, ops_synced::text, connections, lag_seconds, lag_bytes::text
       FROM syncline.health_samples WHERE sampled_at > now() - make_interval(mins => $1) ORDER BY sampled_at LIMIT 2000`,
    [Math.min(Math.max(minutes, 1), 1440)],
  );
  return rows.map((r) => ({
    at: r.sampled_at.toISOString(),
    versionId: r.version_id,
    rowsReplicated: Number(r.rows_replicated),
    opsWritten: Number(r.ops_written),
    transactions: Number(r.transactions),
    opsSynced: Number(r.ops_synced),
    connections: r.connections,
    lagSeconds: r.lag_seconds,
    lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
  }));
}
