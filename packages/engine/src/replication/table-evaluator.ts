/** Binds the sync rules to one source table: type mapping + data and parameter evaluation. */
import { pgTextToSqlite, type SyncRules } from '../sync-rules/index.ts';
import type { SourceTableRef, SqliteRow } from '../sync-rules/types.ts';
import type { RowEvaluator } from './row-ops.ts';

export function createTableEvaluator(
  rules: SyncRules,
  table: SourceTableRef,
  columns: ReadonlyArray<{ name: string; typeOid: number }>,
  replicaIdentityFull: boolean,
): RowEvaluator {
  const match = rules.tableMatches(table);
  const types = new Map(columns.map((c) => [c.name, c.typeOid]));
  const options = rules.valueOptions;
  return {
    syncsData: match.data,
    syncsParameters: match.parameters,
    storeRowImage: !replicaIdentityFull,
    toSqlite(row) {
      const out: SqliteRow = {};
      for (const name in row) out[name] = pgTextToSqlite(row[name] ?? null, types.get(name) ?? 25, options);
      return out;
    },
    evaluateData: (row) => rules.evaluateRow(table, row),
    evaluateParameters: (row) =>
      rules.evaluateParameterRow(table, row).map((p) => ({ lookup: p.lookup.key, bucketParameters: p.bucketParameters })),
  };
}

/** Source key: JSON array of the key columns' text values (stable across snapshot and WAL). */
export function sourceKeyOf(row: Record<string, string | null | undefined>, keyColumns: ReadonlyArray<{ name: string }>): string | null {
  const values: (string | null)[] = [];
  for (const c of keyColumns) {
    const v = row[c.name];
    if (v === undefined) return null;
    values.push(v);
  }
  return JSON.stringify(values);
}
