/**
 * First phase of compiling a stream query: FROM items, JOIN conditions, `IN (SELECT …)`,
 * `IN cte` and derived tables become one list of sources plus one boolean condition tree
 * (reference §2.1, §2.4, §2.6). Subqueries and CTEs are inlined with fresh sources.
 */
import { parse, type Expr, type From, type SelectFromStatement, type SelectedColumn, type Statement } from 'pgsql-ast-parser';
import { rangeOf } from '../expression-compiler.ts';
import { SyncRulesCode } from '../issue-codes.ts';
import type { IssueSink } from '../sql-issues.ts';
import { checkTable } from '../schema-check.ts';
import { reportUnsupportedClauses } from '../sql-statement.ts';
import { makeTablePattern } from '../table-pattern.ts';
import type { SourceSchema } from '../types.ts';
import type { StreamExpressions } from './expressions.ts';
import { recordTexts, Scope, type Side, type TableSource } from './scope.ts';

/** A common table expression (global `with` or stream-local `with`). */
export interface CteDefinition {
  name: string;
  sql: string;
  sink: IssueSink;
  stmt: SelectFromStatement | null;
  used: boolean;
}

export type Cond =
  | { k: 'and'; items: Cond[] }
  | { k: 'or'; items: Cond[] }
  | { k: 'not'; item: Cond }
  | { k: 'atom'; expr: Expr; scope: Scope; internal?: boolean }
  | { k: 'eq'; left: Side; right: Side; node: Expr; sink: IssueSink; internal?: boolean };

/**
 * Marks the conditions of a CTE / derived table joined in FROM: in a branch where that source is
 * not connected to the synced table, they are dropped with it (the migration tool comma-joins
 * one CTE per parameter query and ORs the equalities).
 */
function markInternal(c: Cond): Cond {
  if (c.k === 'atom' || c.k === 'eq') c.internal = true;
  else if (c.k === 'not') markInternal(c.item);
  else c.items.forEach(markInternal);
  return c;
}

export interface SourcesEnv {
  defaultSchema: string;
  exprs: StreamExpressions;
  texts: Map<Scope, { sql: string; sink: IssueSink }>;
  ctes: Map<string, CteDefinition>;
  /** Source schema for warnings about unknown tables and columns. */
  schema?: SourceSchema;
}

interface ParserError {
  message: string;
  token?: { offset?: number; text?: string };
}

/** Parses one SELECT (stream query or CTE); null after reporting. */
export function parseStreamSelect(sql: string, sink: IssueSink): SelectFromStatement | null {
  let statements: Statement[];
  try {
    statements = parse(sql, { locationTracking: true });
  } catch (e) {
    const err = e as ParserError;
    const offset = err.token?.offset ?? sql.trimEnd().length;
    const token = /Unexpected (\S+) token: ("(?:[^"\\]|\\.)*")/.exec(err.message);
    sink.add('fatal', SyncRulesCode.SQL_SYNTAX, token ? `SQL syntax error: unexpected ${token[2]}` : 'SQL syntax error', {
      start: offset,
      end: offset + (err.token?.text?.length ?? 0),
    });
    return null;
  }
  const stmt = statements[0];
  if (statements.length !== 1 || !stmt || stmt.type !== 'select') {
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Expected a SELECT statement', (stmt && rangeOf(stmt)) ?? { start: 0, end: sql.length });
    return null;
  }
  recordTexts(stmt, sql);
  checkClauses(stmt, sink);
  return stmt;
}

/** Streams report HAVING as GROUP BY, with PowerSync's wording (reference §2.1). */
function checkClauses(stmt: SelectFromStatement, sink: IssueSink): void {
  reportUnsupportedClauses(stmt, sink, (name) => `${name} is not supported`, 'GROUP BY');
}

/** Builds sources and conditions of one SELECT (top level, subquery or CTE body). */
export class SourceBuilder {
  readonly tables: TableSource[] = [];
  private nextId = 0;
  /** Depth of `IN (SELECT …)` / `IN cte` being built. */
  private subqueryDepth = 0;
  /** CTE names hidden while a CTE body is built (a CTE cannot reference another CTE). */
  private hiddenCtes = new Set<string>();

  constructor(private readonly env: SourcesEnv) {}

  newScope(sql: string, sink: IssueSink): Scope {
    const scope = new Scope(sql);
    this.env.texts.set(scope, { sql, sink });
    return scope;
  }

  private sinkOf(scope: Scope): IssueSink {
    return (this.env.texts.get(scope) as { sink: IssueSink }).sink;
  }

  /** Adds the FROM items of `stmt` to `scope` and returns its conditions (ON + WHERE). */
  select(stmt: SelectFromStatement, scope: Scope): Cond[] {
    const conds: Cond[] = [];
    const sink = this.sinkOf(scope);
    for (const item of stmt.from ?? []) {
      if (item.join) {
        if (item.join.type !== 'INNER JOIN') sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'FULL JOIN is not supported', rangeOf(item) ?? rangeOf(stmt));
        if (item.join.using) sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'USING is not supported', rangeOf(item.join.using[0] ?? item) ?? rangeOf(stmt));
      }
      this.from(item, scope, conds);
      if (item.join?.on) conds.push(this.cond(item.join.on, scope));
    }
    if (stmt.where) conds.push(this.cond(stmt.where, scope));
    return conds;
  }

  private addEntry(scope: Scope, entry: Parameters<Scope['add']>[0], node: From): void {
    if (!scope.add(entry)) this.sinkOf(scope).add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Duplicate table name '${entry.alias}'; use an alias`, rangeOf(node));
  }

  private from(item: From, scope: Scope, conds: Cond[]): void {
    const sink = this.sinkOf(scope);
    if (item.type === 'table') {
      const name = item.name;
      const cte = name.schema ? undefined : this.env.ctes.get(name.name.toLowerCase());
      if (cte) {
        const inner: Cond[] = [];
        const derived = this.inlineCte(cte, inner, name.alias ?? name.name, sink, item);
        conds.push(...inner.map(markInternal));
        if (derived) this.addEntry(scope, derived, item);
        return;
      }
      if (!name.schema && this.hiddenCtes.has(name.name.toLowerCase())) {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `A common table expression cannot reference another common table expression ('${name.name}')`, rangeOf(item));
        return;
      }
      const pattern = makeTablePattern(name.schema ?? this.env.defaultSchema, name.name);
      const check = checkTable(this.env.schema, pattern, name.name, item, sink);
      const source: TableSource = {
        kind: 'table',
        id: this.nextId++,
        alias: name.alias ?? name.name,
        aliased: name.alias !== undefined,
        pattern,
        name: name.name,
        node: item,
        inSubquery: this.subqueryDepth > 0,
        checkColumn: check.onColumn,
      };
      this.tables.push(source);
      this.addEntry(scope, source, item);
      return;
    }
    if (item.type === 'call') {
      if (item.function.name.toLowerCase() !== 'json_each' || item.function.schema || item.args.length !== 1) {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Sync streams can only select from actual tables', rangeOf(item));
        return;
      }
      const arg = this.env.exprs.side(item.args[0] as Expr, scope);
      if (arg.tables.size > 1) {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'json_each() can only read from one table or from request data', rangeOf(item));
        return;
      }
      const alias = item.alias?.name ?? 'json_each';
      const table = [...arg.tables][0] ?? null;
      const compiled = { evaluate: arg.evaluate, deps: 0, node: arg.node };
      this.addEntry(scope, { kind: 'json_each', alias, arg: compiled, table, auth: arg.auth, unauth: arg.unauth, canon: `json_each(${arg.canon})` }, item);
      return;
    }
    // Derived table `(SELECT …) AS a`.
    const text = this.env.texts.get(scope) as { sql: string; sink: IssueSink };
    const alias = item.alias;
    const inner = this.newScope(text.sql, text.sink);
    const stmt = item.statement;
    if (stmt.type !== 'select') {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Expected a SELECT statement', rangeOf(item));
      return;
    }
    checkClauses(stmt, sink);
    conds.push(...this.select(stmt, inner).map(markInternal));
    const columns = this.columnsOf(stmt.columns ?? [], inner, sink);
    this.addEntry(scope, { kind: 'derived', alias, columns, text: `(${JSON.stringify(stmt)})` }, item);
  }

  private inlineCte(cte: CteDefinition, conds: Cond[], alias: string, sink: IssueSink, at: From | Expr) {
    cte.used = true;
    if (!cte.stmt) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Common table expression '${cte.name}' has errors`, rangeOf(at));
      return null;
    }
    // Each CTE is compiled against an empty scope: it cannot see other CTEs.
    const saved = new Map(this.env.ctes);
    const savedHidden = this.hiddenCtes;
    this.hiddenCtes = new Set([...savedHidden, ...saved.keys()]);
    this.env.ctes.clear();
    const inner = this.newScope(cte.sql, cte.sink);
    conds.push(...this.select(cte.stmt, inner));
    for (const [k, v] of saved) this.env.ctes.set(k, v);
    this.hiddenCtes = savedHidden;
    const columns = this.columnsOf(cte.stmt.columns ?? [], inner, cte.sink);
    return { kind: 'derived' as const, alias, columns, text: `cte:${cte.sql}` };
  }

  private columnsOf(cols: SelectedColumn[], scope: Scope, sink: IssueSink): Map<string, { expr: Expr; scope: Scope }> {
    const out = new Map<string, { expr: Expr; scope: Scope }>();
    for (const col of cols) {
      if (col.expr.type === 'ref' && col.expr.name === '*') {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, '* columns are not allowed in subqueries or common table expressions', rangeOf(col.expr));
        continue;
      }
      const name = col.alias?.name ?? (col.expr.type === 'ref' ? col.expr.name : undefined);
      if (!name) {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Columns of subqueries and common table expressions need a name (`expr AS name`)', rangeOf(col.expr));
        continue;
      }
      if (out.has(name)) sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Duplicate column name '${name}'`, rangeOf(col.expr));
      out.set(name, { expr: col.expr, scope });
    }
    return out;
  }

  /** An unqualified name that is a CTE (and not a column of a table in scope). */
  private namesCte(ref: { table?: unknown; name: string }, scope: Scope): boolean {
    return !ref.table && this.env.ctes.has(ref.name.toLowerCase()) && !this.resolvesInScope(ref.name, scope);
  }

  /** Inlines a CTE used as a set (`IN cte`, `&& cte`); it must have exactly one column. */
  private singleColumnCte(ref: Expr & { name: string }, sink: IssueSink): { column: { expr: Expr; scope: Scope }; conds: Cond[] } | null {
    const cte = this.env.ctes.get(ref.name.toLowerCase()) as CteDefinition;
    const conds: Cond[] = [];
    this.subqueryDepth++;
    const derived = this.inlineCte(cte, conds, ref.name, sink, ref);
    this.subqueryDepth--;
    if (!derived) return null;
    if (derived.columns.size !== 1) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Common-table expression must return a single column', rangeOf(ref));
      return null;
    }
    const [column] = [...derived.columns.values()] as [{ expr: Expr; scope: Scope }];
    return { column, conds };
  }

  /** Lowers an expression to a condition tree; subqueries become sources + equalities. */
  cond(e: Expr, scope: Scope): Cond {
    const sink = this.sinkOf(scope);
    if (e.type === 'binary' && (e.op === 'AND' || e.op === 'OR')) {
      return { k: e.op === 'AND' ? 'and' : 'or', items: [this.cond(e.left, scope), this.cond(e.right, scope)] };
    }
    if (e.type === 'unary' && e.op === 'NOT') return { k: 'not', item: this.cond(e.operand, scope) };
    if (e.type === 'binary' && e.op === '&&' && e.right.type === 'ref' && this.namesCte(e.right, scope)) {
      // `row_array && cte`: shorthand for `row_array && (SELECT <its column> FROM cte)`, like `IN cte`
      // (otherwise the name would silently read a row column of that name).
      const found = this.singleColumnCte(e.right, sink);
      if (!found) return { k: 'and', items: [] };
      const left = { ...this.env.exprs.side(e.left, scope), expand: true };
      return { k: 'and', items: [{ k: 'eq', left, right: this.env.exprs.side(found.column.expr, found.column.scope), node: e, sink }, ...found.conds] };
    }
    if (e.type === 'binary' && e.op === '&&' && e.right.type === 'select') {
      // `row_array && (SELECT c FROM …)`: some element of the array is in the subquery.
      const text = this.env.texts.get(scope) as { sql: string; sink: IssueSink };
      const inner = this.newScope(text.sql, text.sink);
      checkClauses(e.right, sink);
      this.subqueryDepth++;
      const conds = this.select(e.right, inner);
      this.subqueryDepth--;
      const cols = e.right.columns ?? [];
      const col = cols[0];
      if (cols.length !== 1 || !col || (col.expr.type === 'ref' && col.expr.name === '*')) {
        sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Must return a single expression column', rangeOf(cols[0]?.expr ?? e.right));
        return { k: 'and', items: [] };
      }
      const left = { ...this.env.exprs.side(e.left, scope), expand: true };
      return { k: 'and', items: [{ k: 'eq', left, right: this.env.exprs.side(col.expr, inner), node: e, sink }, ...conds] };
    }
    if (e.type === 'binary' && (e.op === 'IN' || e.op === 'NOT IN')) {
      const right = e.right;
      let sub: { stmt: SelectFromStatement; scope: Scope; conds: Cond[]; sink: IssueSink } | null = null;
      if (right.type === 'select') {
        const text = this.env.texts.get(scope) as { sql: string; sink: IssueSink };
        const inner = this.newScope(text.sql, text.sink);
        checkClauses(right, sink);
        sub = { stmt: right, scope: inner, conds: [], sink };
        this.subqueryDepth++;
        sub.conds = this.select(right, inner);
        this.subqueryDepth--;
      } else if (right.type === 'ref' && this.namesCte(right, scope)) {
        const found = this.singleColumnCte(right, sink);
        if (!found) return { k: 'and', items: [] };
        if (e.op === 'NOT IN') return this.notInSubquery(e, sink);
        const left = this.env.exprs.side(e.left, scope);
        const rightSide = this.env.exprs.side(found.column.expr, found.column.scope);
        return { k: 'and', items: [{ k: 'eq', left, right: rightSide, node: e, sink }, ...found.conds] };
      }
      if (sub) {
        if (e.op === 'NOT IN') return this.notInSubquery(e, sink);
        const cols = sub.stmt.columns ?? [];
        const only = cols[0];
        if (cols.length !== 1 || !only || (only.expr.type === 'ref' && only.expr.name === '*')) {
          sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Must return a single expression column', rangeOf(cols[0]?.expr ?? right));
          return { k: 'and', items: [] };
        }
        const left = this.env.exprs.side(e.left, scope);
        const rightSide = this.env.exprs.side(only.expr, sub.scope);
        return { k: 'and', items: [{ k: 'eq', left, right: rightSide, node: e, sink }, ...sub.conds] };
      }
    }
    return { k: 'atom', expr: e, scope };
  }

  private notInSubquery(e: Expr, sink: IssueSink): Cond {
    sink.add(
      'fatal',
      SyncRulesCode.SQL_UNSUPPORTED,
      'NOT IN with a subquery is not supported: this expression already references another table, so it can only be compared with an equals operator.',
      rangeOf(e),
    );
    return { k: 'and', items: [] };
  }

  private resolvesInScope(name: string, scope: Scope): boolean {
    if (scope.entries.size !== 1) return false;
    const only = [...scope.entries.values()][0];
    return only?.kind === 'derived' && only.columns.has(name);
  }
}
