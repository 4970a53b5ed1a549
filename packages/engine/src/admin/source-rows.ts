/**
 * Reads current rows of source tables in Postgres text format (the same text pgoutput carries), so
 * they can be evaluated with the sync rules exactly as the replicator does. Used by the impact
 * preview (bounded), the row explanation (one row) and verification (every row, via a cursor).
 */
import type pg from 'pg';
import { describeMatchingTables, quoteIdent, type SourceTableDescription } from '../replication/source-catalog.ts';
import { pgTextToSqlite } from '../sync-rules/index.ts';
import type { SourceSchema, SqliteRow, SyncRules, TablePattern } from '../sync-rules/index.ts';

/** A source row as text values plus the column type OIDs needed to convert it. */
export interface TextRow {
  values: Record<string, string | null>;
}

export interface TextBatch {
  rows: Array<Record<string, string | null>>;
  types: Map<string, number>;
}

/** Returns values as the server's text output, never parsed by node-postgres. */
const rawText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export async function tablesForRules(source: pg.Pool, rules: SyncRules[]): Promise<SourceTableDescription[]> {
  const patterns: TablePattern[] = rules.flatMap((r) => r.sourceTables());
  return describeMatchingTables(source, patterns);
}

export function qualifiedName(t: { schema: string; name: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/** Converts one text row to SQLite values using the rules' value options. */
export function toSqliteRow(rules: SyncRules, row: Record<string, string | null>, types: Map<string, number>): SqliteRow {
  const out: SqliteRow = {};
  for (const name in row) out[name] = pgTextToSqlite(row[name] ?? null, types.get(name) ?? 25, rules.valueOptions);
  return out;
}

function typesOf(fields: pg.FieldDef[]): Map<string, number> {
  return new Map(fields.map((f) => [f.name, f.dataTypeID]));
}

/** Up to `limit` rows of one table (first rows in physical order). */
export async function readRows(source: pg.Pool, t: SourceTableDescription, limit: number): Promise<TextBatch> {
  const res = await source.query({ text: `SELECT * FROM ${qualifiedName(t)} LIMIT ${Math.max(0, Math.floor(limit))}`, types: rawText });
  return { rows: res.rows as TextBatch['rows'], types: typesOf(res.fields) };
}

/**
 * Every row of one table, in batches, inside one REPEATABLE READ snapshot. Returns the source WAL
 * position of that snapshot (replication must reach it before stored state is compared).
 */
export async function scanRows(
  source: pg.Pool,
  t: SourceTableDescription,
  opts: { batchSize?: number; signal?: AbortSignal; onBatch: (b: TextBatch) => Promise<void> },
): Promise<{ snapshotLsn: string; rows: number }> {
  const client = await source.connect();
  let rows = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await client.query(`DECLARE syncline_scan NO SCROLL CURSOR FOR SELECT * FROM ${qualifiedName(t)}`);
    const size = opts.batchSize ?? 2_000;
    for (;;) {
      if (opts.signal?.aborted) throw new Error('scan aborted');
      const res = await client.query({ text: `FETCH ${size} FROM syncline_scan`, types: rawText });
      if (res.rows.length === 0) break;
      rows += res.rows.length;
      await opts.onBatch({ rows: res.rows as TextBatch['rows'], types: typesOf(res.fields) });
      if (res.rows.length < size) break;
    }
    await client.query('COMMIT');
    return { snapshotLsn: lsn.rows[0]!.lsn, rows };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * One row by its key columns' text values (in key-column order). Null when no such row exists or
 * the table has no key.
 */
export async function readRowByKey(source: pg.Pool, t: SourceTableDescription, key: string[]): Promise<TextBatch | null> {
  if (t.keyColumns.length === 0 || key.length !== t.keyColumns.length) return null;
  const where = t.keyColumns.map((c, i) => `${quoteIdent(c.name)}::text = $${i + 1}`).join(' AND ');
  const res = await source.query({ text: `SELECT * FROM ${qualifiedName(t)} WHERE ${where} LIMIT 1`, values: key, types: rawText });
  if (res.rows.length === 0) return null;
  return { rows: res.rows as TextBatch['rows'], types: typesOf(res.fields) };
}

/** The source key stored in current_data/bucket_data: JSON array of the key columns' text values. */
export function sourceKeyFor(t: SourceTableDescription, row: Record<string, string | null>): string | null {
  if (t.keyColumns.length === 0) return null;
  return JSON.stringify(t.keyColumns.map((c) => row[c.name] ?? null));
}

/** Columns of user tables in the source, for schema-aware validation (bounded). */
export async function loadSourceSchema(source: pg.Pool): Promise<SourceSchema> {
  const { rows } = await source.query<{ s: string; t: string; c: string; ty: string }>(
    `SELECT c.table_schema AS s, c.table_name AS t, c.column_name AS c, c.udt_name AS ty
       FROM information_schema.columns c
      WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_toast%'
      ORDER BY c.table_schema, c.table_name, c.ordinal_position LIMIT 50000`,
  );
  const tables = new Map<string, SourceSchema['tables'][number]>();
  for (const r of rows) {
    const key = `${r.s}.${r.t}`;
    let t = tables.get(key);
    if (!t) tables.set(key, (t = { schema: r.s, name: r.t, columns: [] }));
    t.columns.push({ name: r.c, pgType: r.ty });
  }
  return { tables: [...tables.values()] };
}
