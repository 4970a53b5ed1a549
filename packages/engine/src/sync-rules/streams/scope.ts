/**
 * Name resolution for stream queries: the sources a query (or subquery / CTE) can reference,
 * and the bookkeeping of what each compiled expression depends on.
 */
import type { Expr, PGNode } from 'pgsql-ast-parser';
import type { CompiledExpr, Evaluator } from '../expression-compiler.ts';
import type { TablePattern } from '../types.ts';

/** A physical table in FROM (or reached through a subquery / CTE). */
export interface TableSource {
  kind: 'table';
  /** Unique within one query. */
  id: number;
  alias: string;
  /** Whether the alias was written (`FROM t AS x`). */
  aliased: boolean;
  pattern: TablePattern;
  /** Table name as written (pattern text for wildcards). */
  name: string;
  node: PGNode;
  /** Reached through `IN (SELECT …)` / `IN cte`: may become an existence gate. */
  inSubquery: boolean;
  /** Schema-aware check of a column reference (warning when the column is unknown). */
  checkColumn: (name: string, node: PGNode) => void;
}

/** `json_each(expr) AS a`: rows `{value}` per element of a request value or of a table's column. */
export interface JsonEachSource {
  kind: 'json_each';
  alias: string;
  arg: CompiledExpr;
  /** The table the argument reads, or null when it reads request data only. */
  table: TableSource | null;
  auth: boolean;
  unauth: boolean;
  canon: string;
}

/** A CTE or derived table: its output columns are expressions in an inner scope. */
export interface DerivedSource {
  kind: 'derived';
  alias: string;
  columns: Map<string, { expr: Expr; scope: Scope }>;
  /** Definition text (for canonical names). */
  text: string;
}

export type ScopeEntry = TableSource | JsonEachSource | DerivedSource;

export class Scope {
  readonly entries = new Map<string, ScopeEntry>();
  constructor(readonly sql: string) {}

  add(entry: ScopeEntry): boolean {
    if (this.entries.has(entry.alias)) return false;
    this.entries.set(entry.alias, entry);
    return true;
  }
}

/** What one compiled expression reads. */
export class Tracker {
  readonly tables = new Set<TableSource>();
  auth = false;
  unauth = false;
  /** Set when a `json_each` value (an array to expand) was referenced. */
  expandNode: PGNode | null = null;
  /** CTEs / derived tables / json_each sources referenced (`alias=definition`), for canonical names. */
  readonly derivedUsed = new Set<string>();
}

/** An expression compiled on one side of a comparison (or a whole filter). */
export interface Side {
  evaluate: Evaluator;
  tables: Set<TableSource>;
  auth: boolean;
  unauth: boolean;
  /** The value is a JSON array whose elements are the values (`IN <expr>`, json_each). */
  expand: boolean;
  canon: string;
  node: PGNode;
  constant?: boolean;
}

/** Texts of parsed nodes, for canonical (shareable) descriptions of expressions. */
export const nodeText = new WeakMap<object, string>();

export function recordTexts(node: unknown, sql: string): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) recordTexts(n, sql);
    return;
  }
  const loc = (node as { _location?: { start: number; end: number } })._location;
  if (loc) nodeText.set(node, sql.slice(loc.start, loc.end));
  for (const [k, v] of Object.entries(node)) if (k !== '_location') recordTexts(v, sql);
}

export function canonOf(node: PGNode, tracker: Tracker): string {
  const text = nodeText.get(node) ?? JSON.stringify(node);
  return tracker.derivedUsed.size === 0 ? text : `${text} {${[...tracker.derivedUsed].sort().join(';')}}`;
}
