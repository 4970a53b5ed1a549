/** Sync-rules versions in Postgres storage: deploy, lookup, state transitions, data cleanup. */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { SyncRulesVersion, VersionState } from './storage-types.ts';

type Queryable = pg.Pool | pg.ClientBase;

interface VersionRow {
  id: number;
  state: VersionState;
  content: string;
  comment: string | null;
  slot_name: string;
  snapshot_done: boolean;
  no_checkpoint_before: string | null;
  last_checkpoint: string | null;
  last_checkpoint_lsn: string | null;
  last_fatal_error: string | null;
  created_at: Date;
  activated_at: Date | null;
  stopped_at: Date | null;
}

function toVersion(r: VersionRow): SyncRulesVersion {
  return {
    id: r.id,
    state: r.state,
    content: r.content,
    comment: r.comment,
    slotName: r.slot_name,
    snapshotDone: r.snapshot_done,
    noCheckpointBefore: r.no_checkpoint_before,
    lastCheckpoint: r.last_checkpoint === null ? null : BigInt(r.last_checkpoint),
    lastCheckpointLsn: r.last_checkpoint_lsn,
    lastFatalError: r.last_fatal_error,
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    stoppedAt: r.stopped_at,
  };
}

export async function getVersion(db: Queryable, id: number): Promise<SyncRulesVersion | null> {
  const { rows } = await db.query<VersionRow>('SELECT * FROM syncline.sync_rules_versions WHERE id = $1', [id]);
  return rows[0] ? toVersion(rows[0]) : null;
}

export async function listVersions(db: Queryable, limit = 100): Promise<SyncRulesVersion[]> {
  const { rows } = await db.query<VersionRow>('SELECT * FROM syncline.sync_rules_versions ORDER BY id DESC LIMIT $1', [limit]);
  return rows.map(toVersion);
}

/** The version API processes serve: the ACTIVE (or ERRORED, still serving) one with the highest id. */
export async function getServingVersion(db: Queryable): Promise<SyncRulesVersion | null> {
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM syncline.sync_rules_versions WHERE state IN ('ACTIVE', 'ERRORED') ORDER BY id DESC LIMIT 1`,
  );
  return rows[0] ? toVersion(rows[0]) : null;
}

export async function getVersionsInState(db: Queryable, states: VersionState[]): Promise<SyncRulesVersion[]> {
  const { rows } = await db.query<VersionRow>('SELECT * FROM syncline.sync_rules_versions WHERE state = ANY($1) ORDER BY id', [states]);
  return rows.map(toVersion);
}

/** The newest PROCESSING version, else the serving one: what a new deploy is compared with. */
export async function getLatestDeployed(db: Queryable): Promise<SyncRulesVersion | null> {
  const { rows } = await db.query<VersionRow>(
    `SELECT * FROM syncline.sync_rules_versions WHERE state IN ('PROCESSING', 'ACTIVE', 'ERRORED') ORDER BY id DESC LIMIT 1`,
  );
  return rows[0] ? toVersion(rows[0]) : null;
}

/**
 * Stores a new PROCESSING version (any older PROCESSING one is stopped). The replicator picks it
 * up, snapshots it in parallel with the active version, and activates it when consistent.
 */
export async function deployVersion(pool: pg.Pool, content: string, comment: string | null): Promise<SyncRulesVersion> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE syncline.sync_rules_versions IN SHARE ROW EXCLUSIVE MODE');
    await client.query(
      `UPDATE syncline.sync_rules_versions SET state = 'STOPPED', stopped_at = now() WHERE state = 'PROCESSING'`,
    );
    const { rows } = await client.query<VersionRow>(
      `INSERT INTO syncline.sync_rules_versions (state, content, comment, slot_name)
       VALUES ('PROCESSING', $1, $2, 'pending') RETURNING *`,
      [content, comment],
    );
    const id = rows[0]!.id;
    const slot = `syncline_${id}_${randomBytes(2).toString('hex')}`;
    const updated = await client.query<VersionRow>(
      'UPDATE syncline.sync_rules_versions SET slot_name = $2 WHERE id = $1 RETURNING *',
      [id, slot],
    );
    await client.query('COMMIT');
    return toVersion(updated.rows[0]!);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

export async function setVersionState(db: Queryable, id: number, state: VersionState, error?: string): Promise<void> {
  await db.query(
    `UPDATE syncline.sync_rules_versions SET state = $2, last_fatal_error = coalesce($3, last_fatal_error),
            stopped_at = CASE WHEN $2 IN ('STOPPED', 'TERMINATED') AND stopped_at IS NULL THEN now() ELSE stopped_at END
      WHERE id = $1`,
    [id, state, error ?? null],
  );
}

export async function setFatalError(db: Queryable, id: number, error: string | null): Promise<void> {
  await db.query('UPDATE syncline.sync_rules_versions SET last_fatal_error = $2 WHERE id = $1', [id, error]);
}

/** Deletes every stored row of a version in bounded batches (op-log, state, parameters, tables). */
export async function deleteVersionData(db: Queryable, id: number, batch = 10_000): Promise<void> {
  const tables: Array<[string, string]> = [
    ['bucket_data', 'ctid'],
    ['current_data', 'ctid'],
    ['bucket_parameters', 'ctid'],
    ['bucket_state', 'ctid'],
  ];
  for (const [table] of tables) {
    for (;;) {
      const r = await db.query(
        `DELETE FROM syncline.${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM syncline.${table} WHERE version_id = $1 LIMIT $2))`,
        [id, batch],
      );
      if ((r.rowCount ?? 0) < batch) break;
    }
  }
  await db.query('DELETE FROM syncline.source_tables WHERE version_id = $1', [id]);
  await db.query('DELETE FROM syncline.replication_stats WHERE version_id = $1', [id]);
}

/** Resets a version that must re-snapshot from scratch (its slot was created anew). */
export async function resetVersionForSnapshot(db: Queryable, id: number): Promise<void> {
  await deleteVersionData(db, id);
  await db.query(
    `UPDATE syncline.sync_rules_versions SET snapshot_done = false, no_checkpoint_before = NULL, keepalive_op = NULL,
            last_checkpoint = NULL, last_checkpoint_lsn = NULL WHERE id = $1`,
    [id],
  );
}

/**
 * The secret of a version's wire subkeys (opaque-subkey.ts). Kept out of SyncRulesVersion so it is
 * never serialised with version objects (admin API, dashboard).
 */
export async function getSubkeySalt(db: Queryable, versionId: number): Promise<string> {
  const { rows } = await db.query<{ subkey_salt: string }>('SELECT subkey_salt FROM syncline.sync_rules_versions WHERE id = $1', [versionId]);
  if (!rows[0]) throw new Error(`sync-rules version ${versionId} does not exist`);
  return rows[0].subkey_salt;
}
