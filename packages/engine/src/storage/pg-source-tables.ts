/** Source-table mapping and snapshot progress of a version in Postgres storage. */
import type pg from 'pg';
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

export async function createSourceTable(
  db: pg.Pool | pg.ClientBase,
  t: Omit<SourceTableInfo, 'id' | 'snapshotDone' | 'snapshotCount' | 'snapshotLastKey'>,
): Promise<SourceTableInfo> {
  const { rows } = await db.query<SourceTableRow>(
    `INSERT INTO syncline.source_tables (version_id, relation_oid, schema_name, table_name, replica_id_columns, replica_identity, snapshot_estimated_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [t.versionId, t.relationOid, t.schemaName, t.tableName, JSON.stringify(t.replicaIdColumns), t.replicaIdentity, t.snapshotEstimatedCount],
  );
  return toInfo(rows[0]!);
}

export async function markSourceTableDropped(db: pg.Pool | pg.ClientBase, id: number): Promise<void> {
  await db.query('UPDATE syncline.source_tables SET dropped = true WHERE id = $1', [id]);
}

export async function saveSnapshotProgress(db: pg.ClientBase, id: number, lastKey: string | null, added: number, done: boolean): Promise<void> {
  await db.query(
    `UPDATE syncline.source_tables SET snapshot_last_key = $2, snapshot_count = snapshot_count + $3, snapshot_done = $4 WHERE id = $1`,
    [id, lastKey, added, done],
  );
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
