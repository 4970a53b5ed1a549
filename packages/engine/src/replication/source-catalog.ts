/**
 * Catalog queries against the source database: which tables match the sync rules, their replica
 * identity, key columns and column types; publication and slot management.
 */
import type pg from 'pg';
import type { TablePattern } from '../sync-rules/types.ts';
import { ReplicationError } from './replication-errors.ts';

/** A pool or a client: anything that runs a query. */
export type Queryable = pg.Pool | pg.ClientBase;

export interface SourceTableDescription {
  relationOid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'full' | 'index' | 'nothing';
  /**
   * Columns identifying a row, as pgoutput identifies it: the replica identity index's columns for
   * REPLICA IDENTITY USING INDEX (its key tuple holds only those, even when the table also has a
   * primary key), otherwise the primary key; [] when there is neither (FULL then keys by all columns,
   * see keyColumnsOf).
   */
  keyColumns: Array<{ name: string; typeOid: number; typeName: string }>;
  columns: Array<{ name: string; typeOid: number }>;
  estimatedRows: number;
}

const IDENTITY: Record<string, SourceTableDescription['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

/** Lists ordinary/partitioned tables matching any pattern, with identity and key columns. */
export async function describeMatchingTables(db: Queryable, patterns: TablePattern[]): Promise<SourceTableDescription[]> {
  const out = new Map<number, SourceTableDescription>();
  for (const p of patterns) {
    const { rows } = await db.query<{ oid: number }>(
      `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = $1
          AND (CASE WHEN $3 THEN starts_with(c.relname, $2) ELSE c.relname = $2 END)
        ORDER BY c.relname`,
      [p.schema, p.tablePattern, p.isWildcard],
    );
    for (const { oid } of rows) {
      if (!out.has(oid)) {
        const d = await describeTable(db, oid);
        if (d) out.set(oid, d);
      }
    }
  }
  return [...out.values()];
}

export async function describeTable(db: Queryable, relationOid: number): Promise<SourceTableDescription | null> {
  const { rows } = await db.query<{ nspname: string; relname: string; relreplident: string; reltuples: number }>(
    `SELECT n.nspname, c.relname, c.relreplident, greatest(c.reltuples, 0)::float8 AS reltuples
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [relationOid],
  );
  const t = rows[0];
  if (!t) return null;
  const cols = await db.query<{ attname: string; atttypid: number }>(
    `SELECT attname, atttypid::int AS atttypid FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [relationOid],
  );
  const keys = await db.query<{ attname: string; atttypid: number; typname: string }>(
    `SELECT a.attname, a.atttypid::int AS atttypid, format_type(a.atttypid, a.atttypmod) AS typname
       FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND CASE WHEN $2 = 'i' THEN i.indisreplident ELSE i.indisprimary END
      ORDER BY k.ord`,
    [relationOid, t.relreplident],
  );
  return {
    relationOid,
    schema: t.nspname,
    name: t.relname,
    replicaIdentity: IDENTITY[t.relreplident] ?? 'default',
    keyColumns: keys.rows.map((k) => ({ name: k.attname, typeOid: k.atttypid, typeName: k.typname })),
    columns: cols.rows.map((c) => ({ name: c.attname, typeOid: c.atttypid })),
    estimatedRows: Math.round(t.reltuples),
  };
}

/**
 * Makes sure the publication exists and publishes all four operations. Creates it `FOR ALL TABLES`
 * when missing and permitted; otherwise fails with the SQL to run.
 */
export async function ensurePublication(db: Queryable, name: string): Promise<void> {
  const { rows } = await db.query<{ pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean }>(
    'SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const pub = rows[0];
  if (pub) {
    if (!pub.pubinsert || !pub.pubupdate || !pub.pubdelete || !pub.pubtruncate) {
      throw new ReplicationError(
        'PUBLICATION_INCOMPLETE',
        `Publication "${name}" must publish insert, update, delete and truncate. Run: ALTER PUBLICATION ${name} SET (publish = 'insert, update, delete, truncate');`,
      );
    }
    return;
  }
  try {
    await db.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR ALL TABLES`);
  } catch (e) {
    throw new ReplicationError(
      'PUBLICATION_MISSING',
      `Publication "${name}" does not exist and could not be created (${(e as Error).message}). As a superuser run: CREATE PUBLICATION ${name} FOR ALL TABLES;`,
    );
  }
}

export async function checkWalLevel(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ wal_level: string }>('SHOW wal_level');
  if (rows[0]?.wal_level !== 'logical') {
    throw new ReplicationError(
      'WAL_LEVEL_NOT_LOGICAL',
      `Source database has wal_level=${rows[0]?.wal_level}; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical; then restart Postgres).`,
    );
  }
}

/**
 * The WAL insert position: past every record already inserted, including commits not yet written
 * out (`pg_current_wal_lsn` lags behind with synchronous_commit=off, which would let a write
 * checkpoint be released before the client's own write was replicated).
 */
export async function currentWalLsn(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

export async function emitKeepaliveMessage(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, 'syncline', 'ping')::text AS lsn`);
  return rows[0]!.lsn;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
