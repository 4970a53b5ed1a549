/**
 * Table-level change notifications. Names are schema table names (`todos`) and internal tables
 * (`sl_crud` for the upload queue). Writes are reported after their transaction committed.
 */
import { DATA_PREFIX, LOCAL_PREFIX } from '../schema/schema-ddl.ts';
import type { SqliteAdapter } from './sqlite-adapter.ts';

export type TableChangeListener = (tables: ReadonlySet<string>) => void;

export class TableChanges {
  private readonly listeners = new Set<TableChangeListener>();

  subscribe(listener: TableChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(tables: Iterable<string>): void {
    const set = new Set(tables);
    if (set.size === 0) return;
    for (const l of [...this.listeners]) l(set);
  }
}

/** Maps an internal storage table name to the schema table name it stores. */
export function tableFromStorageName(name: string): string {
  if (name.startsWith(DATA_PREFIX)) return name.slice(DATA_PREFIX.length);
  if (name.startsWith(LOCAL_PREFIX)) return name.slice(LOCAL_PREFIX.length);
  return name;
}

/**
 * The tables a query reads, from SQLite's own plan (`EXPLAIN` → `OpenRead` root pages →
 * `sqlite_master`), so views, joins and subqueries are all covered.
 */
export async function resolveQueryTables(db: SqliteAdapter, sql: string, params: readonly unknown[]): Promise<string[]> {
  const plan = await db.execute(`EXPLAIN ${sql}`, params as never);
  const pages = new Set<number>();
  for (const row of plan.rows) {
    if (row['opcode'] === 'OpenRead' && row['p2'] !== null) pages.add(Number(row['p2']));
  }
  if (pages.size === 0) return [];
  const { rows } = await db.execute(
    `SELECT DISTINCT tbl_name FROM sqlite_master WHERE rootpage IN (SELECT value FROM json_each(?))`,
    [JSON.stringify([...pages])],
  );
  return [...new Set(rows.map((r) => tableFromStorageName(String(r['tbl_name']))))];
}
