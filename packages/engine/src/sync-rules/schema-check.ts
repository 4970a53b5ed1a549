/**
 * Schema-aware validation: when the caller supplies the source schema, unknown tables and
 * columns become warnings (the schema may be about to change, so never fatal).
 */
import type { PGNode } from 'pgsql-ast-parser';
import { SyncRulesCode } from './issue-codes.ts';
import { rangeOf } from './expression-compiler.ts';
import type { IssueSink } from './sql-issues.ts';
import { patternMatches } from './table-pattern.ts';
import type { SourceSchema, TablePattern } from './types.ts';

export interface TableCheck {
  /** Columns of the matched tables (union), or undefined when no schema was supplied. */
  columns: ReadonlySet<string> | undefined;
  /** Reports a column reference that is not in any matched table. */
  onColumn: (name: string, node: PGNode) => void;
}

export function checkTable(schema: SourceSchema | undefined, pattern: TablePattern, displayName: string, node: PGNode, sink: IssueSink): TableCheck {
  if (!schema) return { columns: undefined, onColumn: () => undefined };
  const matched = schema.tables.filter((t) => patternMatches(pattern, t));
  if (matched.length === 0) {
    sink.add('warning', SyncRulesCode.SCHEMA_MISMATCH, `Table ${pattern.schema}.${displayName} not found`, rangeOf(node));
    // Unknown table: do not also warn about each of its columns.
    return { columns: undefined, onColumn: () => undefined };
  }
  const columns = new Set(matched.flatMap((t) => t.columns.map((c) => c.name)));
  return {
    columns,
    onColumn: (name, colNode) => {
      if (!columns.has(name)) {
        sink.add('warning', SyncRulesCode.SCHEMA_MISMATCH, `Column ${name} not found in table ${pattern.schema}.${displayName}`, rangeOf(colNode));
      }
    },
  };
}
