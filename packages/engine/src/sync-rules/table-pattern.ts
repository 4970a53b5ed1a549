/**
 * Table patterns as written in sync rules: exact names, or `prefix%` wildcards.
 */
import type { SourceTableRef, TablePattern } from './types.ts';

export function makeTablePattern(schema: string, name: string): TablePattern {
  const isWildcard = name.endsWith('%');
  return { schema, tablePattern: isWildcard ? name.slice(0, -1) : name, isWildcard };
}

export function patternMatches(pattern: TablePattern, table: SourceTableRef): boolean {
  if (pattern.schema !== table.schema) return false;
  return pattern.isWildcard ? table.name.startsWith(pattern.tablePattern) : table.name === pattern.tablePattern;
}

export function patternKey(p: TablePattern): string {
  return `${p.schema}.${p.tablePattern}${p.isWildcard ? '%' : ''}`;
}

export function tableKey(t: SourceTableRef): string {
  return `${t.schema}\u0000${t.name}`;
}
