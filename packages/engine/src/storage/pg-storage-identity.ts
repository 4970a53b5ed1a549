/**
 * Whether the storage database is the source database itself (STORAGE_DATABASE_URL pointing at
 * the source). Then every storage write is also a source change, and a `FOR ALL TABLES`
 * publication streams it back to the replicator; the WAL stream must ignore the storage schema.
 */
import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

/** The schema all storage tables live in. */
export const STORAGE_SCHEMA = 'syncline';

/**
 * True when both connections reach the same database: same cluster (system identifier) and same
 * database name. Without the privilege to read the system identifier, the source is asked for
 * this version's row and random slot name in the storage schema, which only the same database has.
 */
export async function storageIsSourceDatabase(source: Queryable, storage: Queryable, versionId: number, slotName: string): Promise<boolean> {
  const identity = `SELECT current_database() AS db, (SELECT system_identifier::text FROM pg_control_system()) AS sys`;
  try {
    const [a, b] = await Promise.all([
      source.query<{ db: string; sys: string }>(identity),
      storage.query<{ db: string; sys: string }>(identity),
    ]);
    return a.rows[0]!.db === b.rows[0]!.db && a.rows[0]!.sys === b.rows[0]!.sys;
  } catch {
    const { rows } = await source.query<{ found: boolean }>(
      `SELECT to_regclass('${STORAGE_SCHEMA}.sync_rules_versions') IS NOT NULL AS found`,
    );
    if (!rows[0]?.found) return false;
    const same = await source
      .query(`SELECT 1 FROM ${STORAGE_SCHEMA}.sync_rules_versions WHERE id = $1 AND slot_name = $2`, [versionId, slotName])
      .catch(() => ({ rowCount: 0 }));
    return (same.rowCount ?? 0) > 0;
  }
}
