/**
 * Reconciles the database with a schema (call inside a write transaction):
 * creates missing storage tables (moving matching rows out of `sl_untyped`), moves synced rows of
 * tables that left the schema into `sl_untyped`, drops local-only tables that left, and re-creates
 * views, triggers and indexes whose generated SQL changed. Idempotent: applying the same schema
 * twice changes nothing.
 */
import type { SqliteAdapter } from '../db/sqlite-adapter.ts';
import { DATA_PREFIX, LOCAL_PREFIX, TRIGGER_PREFIX, VIEW_MARKER, quoteIdent, tableDdl } from './schema-ddl.ts';
import type { Schema } from './schema.ts';

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

function isStorage(name: string): boolean {
  return name.startsWith(DATA_PREFIX) || name.startsWith(LOCAL_PREFIX);
}

export async function applySchema(db: SqliteAdapter, schema: Schema): Promise<void> {
  const { rows } = await db.execute(`SELECT type, name, tbl_name, sql FROM sqlite_master`);
  const master = rows as unknown as MasterRow[];
  const ddls = schema.tables.map((t) => ({ table: t, ddl: tableDdl(t) }));
  const wantedStorage = new Set(ddls.map((d) => d.ddl.storageTable));

  // 1. Owned views and triggers go first: they reference storage tables we may drop.
  const wantedViews = new Map(ddls.map(({ ddl }) => [ddl.view.name, ddl.view.sql]));
  const wantedTriggers = new Map(ddls.flatMap(({ ddl }) => ddl.triggers.map((t) => [t.name, t.sql] as const)));
  for (const row of master) {
    if (row.type === 'view' && row.sql?.endsWith(VIEW_MARKER) && wantedViews.get(row.name) !== row.sql) {
      await db.execute(`DROP VIEW IF EXISTS ${quoteIdent(row.name)}`);
    }
    if (row.type === 'trigger' && row.name.startsWith(TRIGGER_PREFIX) && wantedTriggers.get(row.name) !== row.sql) {
      await db.execute(`DROP TRIGGER IF EXISTS ${quoteIdent(row.name)}`);
    }
  }

  // 2. Storage tables that left the schema: synced rows are kept in sl_untyped, local ones dropped.
  for (const row of master) {
    if (row.type !== 'table' || !isStorage(row.name) || wantedStorage.has(row.name)) continue;
    if (row.name.startsWith(DATA_PREFIX)) {
      await db.execute(`INSERT OR REPLACE INTO sl_untyped (type, id, data) SELECT ?, id, data FROM ${quoteIdent(row.name)}`, [
        row.name.slice(DATA_PREFIX.length),
      ]);
    }
    await db.execute(`DROP TABLE ${quoteIdent(row.name)}`);
  }

  // 3. Storage tables that joined the schema.
  const existingTables = new Set(master.filter((r) => r.type === 'table').map((r) => r.name));
  for (const { table, ddl } of ddls) {
    if (existingTables.has(ddl.storageTable)) continue;
    await db.execute(ddl.createStorage);
    if (!table.localOnly) {
      await db.execute(`INSERT INTO ${quoteIdent(ddl.storageTable)} (id, data) SELECT id, data FROM sl_untyped WHERE type = ?`, [table.name]);
      await db.execute(`DELETE FROM sl_untyped WHERE type = ?`, [table.name]);
    }
  }

  // 4. Expression indexes on storage tables.
  const wantedIndexes = new Map(ddls.flatMap(({ ddl }) => ddl.indexes.map((i) => [i.name, i.sql] as const)));
  const existingIndexes = master.filter((r) => r.type === 'index' && r.sql !== null && isStorage(r.tbl_name) && wantedStorage.has(r.tbl_name));
  for (const row of existingIndexes) {
    if (wantedIndexes.get(row.name) !== row.sql) await db.execute(`DROP INDEX IF EXISTS ${quoteIdent(row.name)}`);
  }
  const keptIndexes = new Set(existingIndexes.filter((r) => wantedIndexes.get(r.name) === r.sql).map((r) => r.name));
  for (const [name, sql] of wantedIndexes) if (!keptIndexes.has(name)) await db.execute(sql);

  // 5. Views and triggers (re-read: some were dropped above).
  const after = (await db.execute(`SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')`)).rows as unknown as MasterRow[];
  const present = new Set(after.map((r) => `${r.type}:${r.name}`));
  for (const { ddl } of ddls) {
    if (!present.has(`view:${ddl.view.name}`)) await db.execute(ddl.view.sql);
    for (const t of ddl.triggers) if (!present.has(`trigger:${t.name}`)) await db.execute(t.sql);
  }
}
