/**
 * Compiles the SQL of one parameter query into a {@link RequestParameterQuery} or
 * {@link TableParameterQuery}, validating outputs, filters and client-controlled parameters.
 */
import type { Expr, SelectFromStatement } from 'pgsql-ast-parser';
import type { QueryCompileContext } from './data-query.ts';
import { DEP_AUTH, DEP_CLIENT, DEP_REQUEST, DEP_ROW, ExpressionCompiler, rangeOf, type CompiledExpr, type ExpressionScope } from './expression-compiler.ts';
import { SyncRulesCode } from './issue-codes.ts';
import { ParameterFilterCompiler } from './parameter-filter.ts';
import { RequestParameterQuery, TableParameterQuery, type ParameterOutput, type Priority } from './parameter-queries.ts';
import { checkTable } from './schema-check.ts';
import { parseSelect } from './sql-statement.ts';
import { makeTablePattern } from './table-pattern.ts';

export interface CompiledParameterQuery {
  query: RequestParameterQuery | TableParameterQuery;
  /** Output column names (bucket parameters) in query order, without `_priority`. */
  outputNames: string[];
}

export interface ParameterQueryContext extends Omit<QueryCompileContext, 'bucketParameters' | 'bucketPrefix'> {
  acceptDangerous: boolean;
}

export const INVALID_PRIORITY_MESSAGE = 'Invalid priority, expected a number between 0 and 3 (inclusive).';

const DANGEROUS_MESSAGE =
  'Potentially dangerous query based on parameters set by the client. The client can send any value for these parameters, ' +
  'so they are not a good place to do authorization. Also filter on request.user_id() or request.jwt(), or set ' +
  'accept_potentially_dangerous_queries: true on the bucket definition if this is intended.';

interface Output {
  name: string;
  expr: CompiledExpr;
}

export function compileParameterQuery(sql: string, queryId: string, ctx: ParameterQueryContext): CompiledParameterQuery | null {
  const { sink } = ctx;
  const stmt = parseSelect(sql, sink);
  if (!stmt) return null;
  const from = stmt.from ?? [];
  const first = from[0];
  if (from.length > 1 || first?.join || first?.type === 'statement') {
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Must SELECT from a single table', rangeOf(from[1] ?? first ?? stmt));
    return null;
  }
  const base = { allowBucket: false, allowRequest: true } as const;
  const options = { fixedJsonExtract: ctx.fixedJsonExtract };

  if (!first) {
    const scope: ExpressionScope = { ...base, tableNames: new Set(), allowRow: false, rowUnavailableHint: 'a parameter query without FROM can only use request values' };
    const compiler = new ExpressionCompiler(scope, sink, options, sql);
    return requestQuery(stmt, 'static', queryId, compiler, null, ctx);
  }

  if (first.type === 'call') {
    if (first.function.name.toLowerCase() !== 'json_each' || first.function.schema) {
      sink.add('fatal', SyncRulesCode.UNKNOWN_FUNCTION, `Table-valued function '${first.function.name}' is not defined; only json_each() is supported`, rangeOf(first));
      return null;
    }
    const alias = first.alias?.name ?? 'json_each';
    const scope: ExpressionScope = {
      ...base,
      tableNames: new Set([alias]),
      allowRow: true,
      onColumn: (name, node) => {
        if (name !== 'key' && name !== 'value') sink.add('fatal', SyncRulesCode.UNDEFINED_REFERENCE, `Undefined reference: ${name} (json_each() returns key and value)`, rangeOf(node));
      },
    };
    const compiler = new ExpressionCompiler(scope, sink, options, sql);
    if (first.args.length !== 1) {
      sink.add('fatal', SyncRulesCode.UNKNOWN_FUNCTION, 'json_each() expects exactly 1 argument', rangeOf(first));
      return null;
    }
    const source = new ExpressionCompiler({ ...scope, allowRow: false, rowUnavailableHint: 'the json_each() argument can only use request values' }, sink, options, sql).compile(first.args[0] as Expr);
    return requestQuery(stmt, 'table-valued', queryId, compiler, source, ctx);
  }

  const name = first.name;
  if (name.alias) {
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Table aliases not supported in parameter queries', rangeOf(name));
    return null;
  }
  const pattern = makeTablePattern(name.schema ?? ctx.defaultSchema, name.name);
  const tableCheck = checkTable(ctx.schema, pattern, name.name, name, sink);
  const tableNames = new Set([name.name]);
  const compiler = new ExpressionCompiler({ ...base, tableNames, allowRow: true, onColumn: tableCheck.onColumn }, sink, options, sql);
  const outputs = compileOutputs(stmt, compiler, ctx);
  if (!outputs) return null;
  const rowOutputs: ParameterOutput[] = [];
  const requestOutputs: ParameterOutput[] = [];
  let requestDeps = 0;
  for (const o of outputs.columns) {
    const deps = o.expr.deps;
    if (deps & DEP_ROW && deps & DEP_REQUEST) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Cannot combine table columns and request parameters in one output column', rangeOf(o.expr.node));
    } else if (deps & DEP_REQUEST) {
      requestOutputs.push({ name: o.name, evaluate: o.expr.evaluate });
      requestDeps |= deps;
    } else {
      rowOutputs.push({ name: o.name, evaluate: o.expr.evaluate });
    }
  }
  const branches = new ParameterFilterCompiler(compiler, tableNames, sink).compile(stmt.where);
  for (const b of branches) {
    for (const m of b.matches) requestDeps |= m.request.deps;
    for (const f of b.requestFilters) requestDeps |= f.deps;
  }
  checkDangerous(requestDeps, stmt, ctx);
  const query = new TableParameterQuery(ctx.definition, queryId, pattern, rowOutputs, requestOutputs, branches, outputs.priority);
  return { query, outputNames: outputs.columns.map((c) => c.name) };
}

function requestQuery(
  stmt: SelectFromStatement,
  kind: 'static' | 'table-valued',
  queryId: string,
  compiler: ExpressionCompiler,
  source: CompiledExpr | null,
  ctx: ParameterQueryContext,
): CompiledParameterQuery | null {
  const outputs = compileOutputs(stmt, compiler, ctx);
  if (!outputs) return null;
  const filters = stmt.where ? [compiler.compile(stmt.where)] : [];
  const deps = [...outputs.columns.map((c) => c.expr), ...filters, ...(source ? [source] : [])].reduce((d, e) => d | e.deps, 0);
  checkDangerous(deps, stmt, ctx);
  const query = new RequestParameterQuery(
    kind,
    queryId,
    outputs.columns.map((c) => ({ name: c.name, evaluate: c.expr.evaluate })),
    filters,
    source,
    outputs.priority,
  );
  return { query, outputNames: outputs.columns.map((c) => c.name) };
}

function compileOutputs(stmt: SelectFromStatement, compiler: ExpressionCompiler, ctx: ParameterQueryContext): { columns: Output[]; priority: Priority | undefined } | null {
  const { sink } = ctx;
  const columns: Output[] = [];
  let priority: Priority | undefined;
  let ok = true;
  for (const col of stmt.columns ?? []) {
    if (col.expr.type === 'ref' && col.expr.name === '*') {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, "'*' is not supported in parameter queries; select the bucket parameters by name", rangeOf(col.expr));
      ok = false;
      continue;
    }
    const expr = compiler.compile(col.expr);
    const name = col.alias?.name ?? expr.defaultName;
    if (name === '_priority') {
      const v = expr.constant?.value;
      if (typeof v === 'bigint' && v >= 0n && v <= 3n) priority = Number(v) as Priority;
      else sink.add('fatal', SyncRulesCode.INVALID_PRIORITY, INVALID_PRIORITY_MESSAGE, rangeOf(col.expr));
      continue;
    }
    if (!name) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Expressions in parameter queries need an alias: the alias is the bucket parameter name, e.g. `request.user_id() AS user_id`', rangeOf(col.expr));
      ok = false;
      continue;
    }
    if (columns.some((c) => c.name === name)) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, `Duplicate output column '${name}'`, rangeOf(col));
      ok = false;
      continue;
    }
    columns.push({ name, expr });
  }
  return ok ? { columns, priority } : null;
}

function checkDangerous(requestDeps: number, stmt: SelectFromStatement, ctx: ParameterQueryContext): void {
  if (ctx.acceptDangerous) return;
  if (requestDeps & DEP_CLIENT && !(requestDeps & DEP_AUTH)) {
    ctx.sink.add('warning', SyncRulesCode.DANGEROUS_QUERY, DANGEROUS_MESSAGE, rangeOf(stmt));
  }
}
