/**
 * Replication health per version (state, snapshot progress, LSN, lag seconds, WAL retained by the
 * slot, last error, counters) and persisted samples for the console's charts.
 */
import type pg from 'pg';
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
  /**
   * WAL the source may still write before this slot is invalidated (`safe_wal_size`, bytes);
   * null when `max_slot_wal_keep_size` is unlimited or the slot is gone.
   */
  safeWalBytes: number | null;
  /** The source's `max_slot_wal_keep_size` in bytes; null when unlimited (-1). */
  walBudgetBytes: number | null;
  /** How close the slot is to invalidation, or whether it was invalidated (see {@link slotRisk}). */
  slotRisk: SlotRisk;
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

/**
 * `ok`; `warning`: the slot retains more than half of the WAL budget; `critical`: more than 80 %,
 * or Postgres already marks the WAL `unreserved` (the next checkpoint may invalidate the slot);
 * `lost`: the slot was invalidated (or is gone after its version had finished its snapshot) and
 * the version must re-snapshot; `unknown`: no slot information (source unreachable).
 */
export type SlotRisk = 'ok' | 'warning' | 'critical' | 'lost' | 'unknown';

/** One replication slot's WAL figures as read from the source (`pg_replication_slots`). */
export interface SlotWalHealth {
  slotName: string;
  active: boolean;
  walStatus: string | null;
  /** pg_current_wal_lsn() - confirmed_flush_lsn (bytes not yet acknowledged). */
  lagBytes: number | null;
  /** pg_current_wal_lsn() - restart_lsn (bytes the slot keeps on disk). */
  retainedBytes: number | null;
  safeWalBytes: number | null;
  walBudgetBytes: number | null;
}

interface SlotRow {
  slot_name: string;
  active: boolean;
  wal_status: string | null;
  lag_bytes: string | null;
  retained_bytes: string | null;
  safe_wal_size: string | null;
  budget_bytes: string | null;
}

const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));

/**
 * WAL figures of the given slots (all `syncline_%` slots when `slotNames` is omitted). The budget
 * is `max_slot_wal_keep_size` (MB in pg_settings; -1 = unlimited). Never throws: an unreachable
 * source yields an empty list, reported as risk `unknown`.
 */
export async function readSlotWalHealth(source: pg.Pool, slotNames?: string[]): Promise<SlotWalHealth[]> {
  const { rows } = await source
    .query<SlotRow>(
      `SELECT slot_name, active, wal_status,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag_bytes,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained_bytes,
              safe_wal_size::text AS safe_wal_size,
              (SELECT CASE WHEN setting::bigint < 0 THEN NULL ELSE setting::bigint * 1024 * 1024 END
                 FROM pg_settings WHERE name = 'max_slot_wal_keep_size')::text AS budget_bytes
         FROM pg_replication_slots
        WHERE ${slotNames ? 'slot_name = ANY($1)' : `slot_name LIKE 'syncline\\_%'`}`,
      slotNames ? [slotNames] : [],
    )
    .catch(() => ({ rows: [] as SlotRow[] }));
  return rows.map((r) => ({
    slotName: r.slot_name,
    active: r.active,
    walStatus: r.wal_status,
    lagBytes: num(r.lag_bytes),
    retainedBytes: num(r.retained_bytes),
    safeWalBytes: num(r.safe_wal_size),
    walBudgetBytes: num(r.budget_bytes),
  }));
}

/** Pure classification of a slot's invalidation risk (thresholds documented on {@link SlotRisk}). */
export function slotRisk(slot: SlotWalHealth | undefined, version: { state: VersionState; snapshotDone: boolean; lastFatalError: string | null }): SlotRisk {
  const lostError = version.lastFatalError !== null && /slot .* is (lost|missing)/i.test(version.lastFatalError);
  if (slot?.walStatus === 'lost' || (version.state === 'ERRORED' && lostError)) return 'lost';
  if (!slot) return version.snapshotDone && lostError ? 'lost' : 'unknown';
  if (slot.walStatus === 'unreserved') return 'critical';
  if (slot.walBudgetBytes && slot.retainedBytes !== null) {
    const used = slot.retainedBytes / slot.walBudgetBytes;
    if (used > 0.8) return 'critical';
    if (used > 0.5) return 'warning';
  }
  return 'ok';
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
    readSlotWalHealth(deps.source, versions.map((v) => v.slotName)),
    deps.storage.query<{ n: number; ops: string }>('SELECT count(*)::int AS n, coalesce(sum(ops_sent), 0)::text AS ops FROM syncline.connections'),
  ]);
  const lastAt = await deps.storage.query<{ id: number; last_checkpoint_at: Date | null }>(
    'SELECT id, last_checkpoint_at FROM syncline.sync_rules_versions WHERE id = ANY($1)',
    [ids],
  );
  return {
    connections: conns.rows[0]?.n ?? 0,
    opsSynced: Number(conns.rows[0]?.ops ?? 0),
    versions: versions.map((v) => {
      const s = stats.rows.find((r) => r.version_id === v.id);
      const t = tables.rows.find((r) => r.version_id === v.id);
      const slot = slots.find((r) => r.slotName === v.slotName);
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
        lagBytes: slot?.lagBytes ?? null,
        walRetainedBytes: slot?.retainedBytes ?? null,
        slotActive: slot?.active ?? null,
        walStatus: slot?.walStatus ?? null,
        safeWalBytes: slot?.safeWalBytes ?? null,
        walBudgetBytes: slot?.walBudgetBytes ?? null,
        slotRisk: slotRisk(slot, v),
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
