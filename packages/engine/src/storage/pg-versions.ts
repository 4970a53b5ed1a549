/** Sync-rules versions in Postgres storage: deploy, lookup, state transitions, data cleanup. */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { DeploySource, SyncRulesVersion, VersionState } from './storage-types.ts';
import { inTransaction } from './pg-transaction.ts';

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
  deploy_source: DeploySource | null;
  deploy_path: string | null;
  content_hash: string | null;
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
    deploySource: r.deploy_source,
    deployPath: r.deploy_path,
    contentHash: r.content_hash,
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

/** sha256 hex of sync-rules content (what `content_hash` stores). */
export function contentHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

export interface DeployProvenance {
  source: DeploySource;
  /** The file path, for source 'file'. */
  path?: string | null;
}

/**
 * Stores a new PROCESSING version (any older PROCESSING one is stopped). The replicator picks it
 * up, snapshots it in parallel with the active version, and activates it when consistent.
 */
export async function deployVersion(
  pool: pg.Pool,
  content: string,
  comment: string | null,
  provenance: DeployProvenance = { source: 'api' },
): Promise<SyncRulesVersion> {
  return inDeployTransaction(pool, (client) => insertVersion(client, content, comment, provenance));
}

export interface FileDeployResult {
  /** The version created from the file, or null when the file is unchanged since it was last deployed. */
  deployed: SyncRulesVersion | null;
  /** The newest version earlier deployed from a file (before this call). */
  lastFromFile: SyncRulesVersion | null;
  /** The newest PROCESSING/ACTIVE/ERRORED version after this call. */
  latest: SyncRulesVersion | null;
}

/**
 * Deploys the SYNC_RULES_PATH content only when it differs from what was last deployed from the
 * file (by content hash), so a restart never reverts rules deployed since through the API or the
 * dashboard. When the file changed to exactly what the latest version already holds, nothing is
 * deployed and that version is recorded as matching the file. Runs under the same table lock as
 * every deploy: processes starting together deploy a changed file at most once.
 */
export async function deployFileIfChanged(pool: pg.Pool, content: string, path: string): Promise<FileDeployResult> {
  const hash = contentHash(content);
  return inDeployTransaction(pool, async (client) => {
    const lastFile = await client.query<VersionRow>(
      `SELECT * FROM syncline.sync_rules_versions WHERE deploy_path IS NOT NULL ORDER BY id DESC LIMIT 1`,
    );
    const lastFromFile = lastFile.rows[0] ? toVersion(lastFile.rows[0]) : null;
    const latest = await getLatestDeployed(client);
    if (lastFromFile && (lastFromFile.contentHash ?? contentHash(lastFromFile.content)) === hash) return { deployed: null, lastFromFile, latest };
    if (latest && latest.content === content) {
      await client.query('UPDATE syncline.sync_rules_versions SET deploy_path = $2 WHERE id = $1', [latest.id, path]);
      return { deployed: null, lastFromFile, latest: { ...latest, deployPath: path } };
    }
    const deployed = await insertVersion(client, content, `deployed from ${path} at startup`, { source: 'file', path });
    return { deployed, lastFromFile, latest: deployed };
  });
}

function inDeployTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    // Self-conflicting: deploys (API, dashboard, file at startup, auto-redeploy) are serialised.
    await client.query('LOCK TABLE syncline.sync_rules_versions IN SHARE ROW EXCLUSIVE MODE');
    return fn(client);
  });
}

async function insertVersion(client: pg.PoolClient, content: string, comment: string | null, p: DeployProvenance): Promise<SyncRulesVersion> {
  await client.query(`UPDATE syncline.sync_rules_versions SET state = 'STOPPED', stopped_at = now() WHERE state = 'PROCESSING'`);
  const { rows } = await client.query<VersionRow>(
    `INSERT INTO syncline.sync_rules_versions (state, content, comment, slot_name, deploy_source, deploy_path, content_hash)
     VALUES ('PROCESSING', $1, $2, 'pending', $3, $4, $5) RETURNING *`,
    [content, comment, p.source, p.path ?? null, contentHash(content)],
  );
  const id = rows[0]!.id;
  const slot = `syncline_${id}_${randomBytes(2).toString('hex')}`;
  const updated = await client.query<VersionRow>('UPDATE syncline.sync_rules_versions SET slot_name = $2 WHERE id = $1 RETURNING *', [id, slot]);
  return toVersion(updated.rows[0]!);
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

export interface DeleteVersionOptions {
  /** Rows per DELETE (default 10,000). */
  batch?: number;
  /** Pause after each full batch (ms, default 0): throttles a background cleanup. */
  pauseMs?: number;
  /** Stops between batches (what was deleted stays deleted; the rest is deleted by the next call). */
  signal?: AbortSignal;
}

/**
 * Deletes every stored row of a version in bounded batches (op-log, state, parameters, tables);
 * returns the number of rows deleted.
 */
export async function deleteVersionData(db: Queryable, id: number, opts: DeleteVersionOptions = {}): Promise<number> {
  const batch = opts.batch ?? 10_000;
  let deleted = 0;
  for (const table of ['bucket_data', 'current_data', 'bucket_parameters', 'bucket_state']) {
    for (;;) {
      if (opts.signal?.aborted) return deleted;
      const r = await db.query(
        `DELETE FROM syncline.${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM syncline.${table} WHERE version_id = $1 LIMIT $2))`,
        [id, batch],
      );
      deleted += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < batch) break;
      if (opts.pauseMs) await pause(opts.pauseMs, opts.signal);
    }
  }
  if (opts.signal?.aborted) return deleted;
  await db.query('DELETE FROM syncline.source_tables WHERE version_id = $1', [id]);
  await db.query('DELETE FROM syncline.replication_stats WHERE version_id = $1', [id]);
  return deleted;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
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
export async function getSubkeySalt(db: Queryable, versionId: number): Promise<string | null> {
  const { rows } = await db.query<{ subkey_salt: string | null }>('SELECT subkey_salt FROM syncline.sync_rules_versions WHERE id = $1', [versionId]);
  if (!rows[0]) throw new Error(`sync-rules version ${versionId} does not exist`);
  return rows[0].subkey_salt;
}
