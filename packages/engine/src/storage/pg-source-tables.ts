/** Source-table mapping and snapshot progress of a version in Postgres storage. */
import type pg from 'pg';
import { sourceKeyHash } from './source-key-hash.ts';
import type { SourceTableInfo } from './storage-types.ts';

interface SourceTableRow {
  id: number;
  version_id: number;
  relation_oid: number;
  schema_name: string;
  table_name: string;
  replica_id_columns: SourceTableInfo['replicaIdColumns'];
  replica_identity: SourceTableInfo['replicaIdentity'];
  snapshot_done: boolean;
  snapshot_count: string;
  snapshot_estimated_count: string | null;
  snapshot_last_key: string | null;
}

function toInfo(r: SourceTableRow): SourceTableInfo {
  return {
    id: r.id,
    versionId: r.version_id,
    relationOid: r.relation_oid,
    schemaName: r.schema_name,
    tableName: r.table_name,
    replicaIdColumns: r.replica_id_columns,
    replicaIdentity: r.replica_identity,
    snapshotDone: r.snapshot_done,
    snapshotCount: Number(r.snapshot_count),
    snapshotEstimatedCount: r.snapshot_estimated_count === null ? null : Number(r.snapshot_estimated_count),
    snapshotLastKey: r.snapshot_last_key,
  };
}

export async function listSourceTables(db: pg.Pool | pg.ClientBase, versionId: number): Promise<SourceTableInfo[]> {
  const { rows } = await db.query<SourceTableRow>(
    'SELECT * FROM syncline.source_tables WHERE version_id = $1 AND NOT dropped ORDER BY id',
    [versionId],
  );
  return rows.map(toInfo);
}

export async function createSourceTable(db: pg.Pool | pg.ClientBase, t: NewSourceTable): Promise<SourceTableInfo> {
  const { rows } = await db.query<SourceTableRow>(
    `INSERT INTO syncline.source_tables (version_id, relation_oid, schema_name, table_name, replica_id_columns, replica_identity, snapshot_estimated_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [t.versionId, t.relationOid, t.schemaName, t.tableName, JSON.stringify(t.replicaIdColumns), t.replicaIdentity, t.snapshotEstimatedCount],
  );
  return toInfo(rows[0]!);
}

export type NewSourceTable = Omit<SourceTableInfo, 'id' | 'snapshotDone' | 'snapshotCount' | 'snapshotLastKey'>;

/**
 * Retires mappings (replaced by a new mapping of the same table, or no longer synced) and creates
 * their replacement, in one storage transaction: the retired mappings are marked dropped with their
 * row removal pending, so a crash at any later point still finds both the rows to remove and the
 * table to (re-)snapshot. Returns the new mapping, if any.
 */
export async function replaceSourceTables(pool: pg.Pool, retiredIds: number[], replacement: NewSourceTable | null): Promise<SourceTableInfo | null> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    if (retiredIds.length > 0) {
      await client.query('UPDATE syncline.source_tables SET dropped = true, removal_pending = true WHERE id = ANY($1::int[])', [retiredIds]);
    }
    const created = replacement ? await createSourceTable(client, replacement) : null;
    await client.query('COMMIT');
    return created;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Retired mappings whose rows are not all removed yet (see replaceSourceTables). */
export async function listSourceTablesPendingRemoval(db: pg.Pool | pg.ClientBase, versionId: number): Promise<SourceTableInfo[]> {
  const { rows } = await db.query<SourceTableRow>(
    'SELECT * FROM syncline.source_tables WHERE version_id = $1 AND removal_pending ORDER BY id',
    [versionId],
  );
  return rows.map(toInfo);
}

/** Up to `limit` stored row keys of one source table (rows still present in buckets). */
export async function listStoredRowKeys(db: pg.Pool | pg.ClientBase, versionId: number, sourceTable: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ source_key: string }>(
    'SELECT source_key FROM syncline.current_data WHERE version_id = $1 AND source_table = $2 LIMIT $3',
    [versionId, sourceTable, limit],
  );
  return rows.map((r) => r.source_key);
}

/** Marks a retired mapping's rows as removed (call in the transaction that removed the last ones). */
export async function finishSourceTableRemoval(db: pg.Pool | pg.ClientBase, id: number): Promise<void> {
  await db.query('UPDATE syncline.source_tables SET removal_pending = false WHERE id = $1 AND removal_pending', [id]);
}

/**
 * Saves a snapshot chunk's resume position. With `doneAtLsn` (the source WAL position read after
 * the last chunk was read) the table is marked done and the version's `no_checkpoint_before` is
 * raised to it in the same transaction, so no crash can leave a finished table whose rows a
 * checkpoint before that position would expose.
 */
export async function saveSnapshotProgress(
  db: pg.ClientBase,
  id: number,
  lastKey: string | null,
  added: number,
  doneAtLsn: string | null,
): Promise<void> {
  const { rows } = await db.query<{ version_id: number }>(
    `UPDATE syncline.source_tables SET snapshot_last_key = $2, snapshot_count = snapshot_count + $3, snapshot_done = $4 WHERE id = $1 RETURNING version_id`,
    [id, lastKey, added, doneAtLsn !== null],
  );
  if (doneAtLsn !== null && rows[0]) await raiseNoCheckpointBefore(db, rows[0].version_id, doneAtLsn);
}

/** Raises `no_checkpoint_before` to at least `lsn` (normalised). */
export async function raiseNoCheckpointBefore(db: pg.Pool | pg.ClientBase, versionId: number, lsn: string): Promise<void> {
  await db.query(
    `UPDATE syncline.sync_rules_versions SET no_checkpoint_before = greatest(coalesce(no_checkpoint_before, ''), $2) WHERE id = $1`,
    [versionId, lsn],
  );
}

export async function markSnapshotDone(db: pg.Pool | pg.ClientBase, versionId: number, lsn: string): Promise<void> {
  await db.query(
    `UPDATE syncline.sync_rules_versions SET snapshot_done = true, no_checkpoint_before = greatest(coalesce(no_checkpoint_before, ''), $2) WHERE id = $1`,
    [versionId, lsn],
  );
}

/** Id of the live (not dropped) mapping of a source relation in a version, or null. */
export async function findLiveSourceTableId(db: pg.Pool | pg.ClientBase, versionId: number, relationOid: number): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    'SELECT id FROM syncline.source_tables WHERE version_id = $1 AND relation_oid = $2 AND NOT dropped ORDER BY id DESC LIMIT 1',
    [versionId, relationOid],
  );
  return rows[0]?.id ?? null;
}

/** What replication stored for one source row: its bucket memberships and parameter lookups (null: no such row). */
export async function getStoredRowState(
  db: pg.Pool | pg.ClientBase,
  versionId: number,
  sourceTable: number,
  sourceKey: string,
): Promise<{ buckets: Array<[string, string, string]>; lookups: string[] } | null> {
  const { rows } = await db.query<{ buckets: Array<[string, string, string]>; lookups: string[] }>(
    'SELECT buckets::jsonb AS buckets, lookups::jsonb AS lookups FROM syncline.current_data WHERE version_id = $1 AND source_table = $2 AND key_hash = $3',
    [versionId, sourceTable, sourceKeyHash(sourceKey)],
  );
  return rows[0] ?? null;
}

/** Highest op id (bucket op or parameter row) a version has written, or null. */
export async function lastWrittenOpId(db: pg.Pool | pg.ClientBase, versionId: number): Promise<bigint | null> {
  const { rows } = await db.query<{ m: string | null }>(
    `SELECT greatest((SELECT max(last_op) FROM syncline.bucket_state WHERE version_id = $1),
                     (SELECT max(id) FROM syncline.bucket_parameters WHERE version_id = $1))::text AS m`,
    [versionId],
  );
  return rows[0]?.m ? BigInt(rows[0].m) : null;
}
