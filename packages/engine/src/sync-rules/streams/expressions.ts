/**
 * Stream-specific expression compilation on top of the shared {@link ExpressionCompiler}:
 * references across several sources, `auth.*` / `subscription.*` / `connection.*`, and the
 * edition-3 additions (BETWEEN, CASE) and rejections (reference §2.2–2.3).
 */
import type { Expr, ExprCall, ExprRef } from 'pgsql-ast-parser';
import { stringifySqliteValue } from '@syncline/protocol';
import { DEP_AUTH, DEP_CLIENT, DEP_ROW, ExpressionCompiler, rangeOf, type CompiledExpr, type EvalContext, type Evaluator } from '../expression-compiler.ts';
import { SyncRulesCode } from '../issue-codes.ts';
import { jsonArrow2 } from '../json-functions.ts';
import { and, compare, not } from '../operators.ts';
import { castValue } from '../sqlite-cast.ts';
import { toBoolean } from '../sqlite-values.ts';
import type { IssueSink } from '../sql-issues.ts';
import type { SqliteValue } from '../types.ts';
import type { RowEvalContext } from './plan.ts';
import type { StreamRequestContext } from './request.ts';
import { canonOf, Tracker, type Scope, type Side } from './scope.ts';

export interface ExprEnv {
  fixedJsonExtract: boolean;
}

/** Sink + SQL text a scope's nodes belong to. */
export interface ScopeText {
  sql: string;
  sink: IssueSink;
}

const NULL_EVAL: Evaluator = () => null;

function stream(ctx: EvalContext): StreamRequestContext | null {
  return ctx.request as StreamRequestContext | null;
}

function fail(sink: IssueSink, node: Expr, message: string, code: SyncRulesCode = SyncRulesCode.SQL_UNSUPPORTED): CompiledExpr {
  sink.add('fatal', code, message, rangeOf(node));
  return { evaluate: NULL_EVAL, deps: 0, node };
}


function jsonArrayText(values: SqliteValue[]): string {
  return `[${values.map((v) => (v instanceof Uint8Array ? 'null' : (stringifySqliteValue(v) ?? 'null'))).join(',')}]`;
}

/** SQLite's integer bitwise operators (NULL in, NULL out; operands cast to INTEGER). */
function bitwise(op: '&' | '|' | '<<' | '>>', a: SqliteValue, b: SqliteValue): SqliteValue {
  if (a === null || b === null) return null;
  const x = castValue(a, 'integer') as bigint;
  let n = castValue(b, 'integer') as bigint;
  if (op === '&') return BigInt.asIntN(64, x & n);
  if (op === '|') return BigInt.asIntN(64, x | n);
  let left = op === '<<';
  if (n < 0n) {
    left = !left;
    n = -n;
  }
  if (n >= 64n) return left ? 0n : x < 0n ? -1n : 0n;
  return BigInt.asIntN(64, left ? x << n : x >> n);
}

export class StreamExpressions {
  constructor(
    private readonly env: ExprEnv,
    private readonly texts: Map<Scope, ScopeText>,
  ) {}

  textOf(scope: Scope): ScopeText {
    const t = this.texts.get(scope);
    if (!t) throw new Error('scope without text');
    return t;
  }

  /** Compiles `expr` in `scope`, recording its dependencies in `tracker`. */
  compileWith(expr: Expr, scope: Scope, tracker: Tracker): CompiledExpr {
    const { sql, sink } = this.textOf(scope);
    const compiler = new ExpressionCompiler(
      { tableNames: new Set(), allowRow: true, allowRequest: true, allowBucket: false, resolve: (e, c) => this.resolve(e, c, scope, tracker, sink) },
      sink,
      { fixedJsonExtract: this.env.fixedJsonExtract },
      sql,
    );
    return compiler.compile(expr);
  }

  /** Compiles one side of a comparison (or a whole filter). */
  side(expr: Expr, scope: Scope): Side {
    const tracker = new Tracker();
    const compiled = this.compileWith(expr, scope, tracker);
    if (tracker.expandNode && compiled.node !== tracker.expandNode) {
      this.textOf(scope).sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'json_each values can only be compared directly (e.g. `x = a.value`)', rangeOf(expr));
    }
    return {
      evaluate: compiled.evaluate,
      tables: tracker.tables,
      auth: tracker.auth,
      unauth: tracker.unauth,
      expand: tracker.expandNode !== null,
      canon: canonOf(compiled.node, tracker),
      node: compiled.node,
      constant: compiled.constant !== undefined,
    };
  }

  private resolve(e: Expr, compiler: ExpressionCompiler, scope: Scope, tracker: Tracker, sink: IssueSink): CompiledExpr | undefined {
    switch (e.type) {
      case 'ref':
        return e.name === '*' ? undefined : this.ref(e, scope, tracker, sink);
      case 'call':
        return this.rowMetadata(e, scope, tracker, sink) ?? this.call(e, compiler, tracker, sink);
      case 'parameter':
        return fail(sink, e, 'SQL parameters are not allowed. Use auth.parameter(), subscription.parameter() or connection.parameter() instead.');
      case 'ternary': {
        const v = compiler.compile(e.value).evaluate;
        const lo = compiler.compile(e.lo);
        const hi = compiler.compile(e.hi);
        const l = lo.evaluate;
        const h = hi.evaluate;
        const negated = e.op === 'NOT BETWEEN';
        const evaluate: Evaluator = (ctx) => {
          const x = v(ctx);
          const r = and(compare('>=', x, l(ctx)), () => compare('<=', x, h(ctx)));
          return negated ? not(r) : r;
        };
        return { evaluate, deps: DEP_ROW | lo.deps | hi.deps, node: e };
      }
      case 'case': {
        const value = e.value ? compiler.compile(e.value) : null;
        const whens = e.whens.map((w) => ({ when: compiler.compile(w.when), then: compiler.compile(w.value) }));
        const otherwise = e.else ? compiler.compile(e.else) : null;
        const deps = whens.reduce((d, w) => d | w.when.deps | w.then.deps, (value?.deps ?? 0) | (otherwise?.deps ?? 0));
        const evaluate: Evaluator = (ctx) => {
          const base = value ? value.evaluate(ctx) : null;
          for (const w of whens) {
            const cond = value ? compare('=', base, w.when.evaluate(ctx)) : w.when.evaluate(ctx);
            if (toBoolean(cond) === true) return w.then.evaluate(ctx);
          }
          return otherwise ? otherwise.evaluate(ctx) : null;
        };
        return { evaluate, deps: deps | DEP_ROW, node: e };
      }
      case 'binary':
        if (e.op === 'LIKE' || e.op === 'ILIKE' || e.op === 'NOT LIKE' || e.op === 'NOT ILIKE') return fail(sink, e, 'LIKE expressions are not currently supported.');
        if (e.op === '&' || e.op === '|' || e.op === '<<' || e.op === '>>') {
          const l = compiler.compile(e.left);
          const r = compiler.compile(e.right);
          const op = e.op;
          const lf = l.evaluate;
          const rf = r.evaluate;
          return { evaluate: (ctx) => bitwise(op, lf(ctx), rf(ctx)), deps: l.deps | r.deps, node: e };
        }
        if ((e.op === 'IN' || e.op === 'NOT IN') && (e.right.type === 'select' || e.right.type === 'union' || e.right.type === 'with')) {
          return fail(sink, e, 'Invalid position for subqueries. Subqueries are only supported in `IN` filters of the WHERE clause and in FROM.');
        }
        return undefined;
      case 'unary':
        if (e.op === '-' && e.operand.type !== 'integer' && e.operand.type !== 'numeric') return fail(sink, e, 'Unary minus is not currently supported');
        return undefined;
      case 'array': {
        // `ARRAY[a, b]`: a JSON array (so `x IN ARRAY[…]` is a literal set).
        const items = e.expressions.map((x) => compiler.compile(x));
        const evals = items.map((i) => i.evaluate);
        const deps = items.reduce((d, i) => d | i.deps, 0);
        return { evaluate: (ctx) => jsonArrayText(evals.map((f) => f(ctx))), deps, node: e };
      }
      case 'select':
      case 'union':
      case 'union all':
      case 'with':
        return fail(sink, e, 'Invalid position for subqueries. Subqueries are only supported in `IN` filters of the WHERE clause and in FROM.');
      default:
        return undefined;
    }
  }

  private ref(e: ExprRef, scope: Scope, tracker: Tracker, sink: IssueSink): CompiledExpr {
    if (e.table?.schema) return fail(sink, e, `Schema-qualified column references are not supported: ${e.table.schema}.${e.table.name}.${e.name}`);
    let entry;
    if (e.table) {
      entry = scope.entries.get(e.table.name);
      if (!entry) return fail(sink, e, `Undefined reference: ${e.table.name}.${e.name}`, SyncRulesCode.UNDEFINED_REFERENCE);
    } else {
      if (scope.entries.size > 1) return fail(sink, e, 'Invalid unqualified reference since multiple tables are in scope', SyncRulesCode.UNDEFINED_REFERENCE);
      entry = [...scope.entries.values()][0];
      if (!entry) return fail(sink, e, `Undefined reference: ${e.name}`, SyncRulesCode.UNDEFINED_REFERENCE);
    }
    const name = e.name;
    switch (entry.kind) {
      case 'table':
        tracker.tables.add(entry);
        entry.checkColumn(name, e);
        return {
          evaluate: (ctx) => {
            const v = ctx.row[name];
            return v === undefined ? null : v;
          },
          deps: DEP_ROW,
          node: e,
          defaultName: name,
        };
      case 'json_each':
        if (name !== 'value') return fail(sink, e, `json_each() only has a 'value' column`, SyncRulesCode.UNDEFINED_REFERENCE);
        if (entry.table) tracker.tables.add(entry.table);
        tracker.auth ||= entry.auth;
        tracker.unauth ||= entry.unauth;
        tracker.expandNode = e;
        tracker.derivedUsed.add(`${entry.alias}=${entry.canon}`);
        return { evaluate: entry.arg.evaluate, deps: entry.arg.deps | DEP_ROW, node: e, defaultName: 'value' };
      default: {
        const column = entry.columns.get(name);
        if (!column) return fail(sink, e, `Undefined reference: ${entry.alias}.${name}`, SyncRulesCode.UNDEFINED_REFERENCE);
        tracker.derivedUsed.add(`${entry.alias}=${entry.text}`);
        const inner = this.compileWith(column.expr, column.scope, tracker);
        return { ...inner, defaultName: name };
      }
    }
  }

  /** `t.schema()`, `t.table_name()`, `t.table_suffix()` on a table of the query. */
  private rowMetadata(e: ExprCall, scope: Scope, tracker: Tracker, sink: IssueSink): CompiledExpr | undefined {
    const alias = e.function.schema;
    const name = e.function.name.toLowerCase();
    if (!alias || !['schema', 'table_name', 'table_suffix'].includes(name)) return undefined;
    const entry = scope.entries.get(alias);
    if (!entry) return undefined;
    if (entry.kind !== 'table') return fail(sink, e, `${name}() is only available on tables`);
    if (e.args.length !== 0) return fail(sink, e, `${alias}.${name}() takes no arguments`, SyncRulesCode.UNKNOWN_FUNCTION);
    tracker.tables.add(entry);
    const table = (ctx: EvalContext) => (ctx as RowEvalContext).table;
    let evaluate: Evaluator;
    if (name === 'schema') evaluate = (ctx) => table(ctx)?.schema ?? null;
    else if (name === 'table_name') evaluate = (ctx) => table(ctx)?.name ?? null;
    else {
      if (!entry.pattern.isWildcard) sink.add('warning', SyncRulesCode.SQL_UNSUPPORTED, `${alias} is not a wildcard table, so table_suffix() is always empty`, rangeOf(e));
      const prefix = entry.pattern.isWildcard ? entry.pattern.tablePattern.length : Infinity;
      evaluate = (ctx) => {
        const t = table(ctx);
        return t ? t.name.slice(prefix) : null;
      };
    }
    return { evaluate, deps: DEP_ROW, node: e };
  }

  private call(e: ExprCall, compiler: ExpressionCompiler, tracker: Tracker, sink: IssueSink): CompiledExpr | undefined {
    const schema = e.function.schema;
    const name = e.function.name.toLowerCase();
    if (!schema) {
      if (name === 'random' || name === 'randomblob') return fail(sink, e, 'Forbidden call: Sync definitions must be deterministic.');
      if (name === 'json_valid') return fail(sink, e, `Unknown function 'json_valid'`, SyncRulesCode.UNKNOWN_FUNCTION);
      return undefined;
    }
    if (schema === 'request') return fail(sink, e, 'Invalid schema in function name: request.* functions do not exist in Sync Streams; use auth.*, subscription.* or connection.*', SyncRulesCode.UNKNOWN_FUNCTION);
    if (schema !== 'auth' && schema !== 'subscription' && schema !== 'connection') return undefined;
    if (name === 'user_id') {
      if (schema !== 'auth') return fail(sink, e, '.user_id() is only available on auth schema', SyncRulesCode.UNKNOWN_FUNCTION);
      if (e.args.length !== 0) return fail(sink, e, 'auth.user_id() takes no arguments', SyncRulesCode.UNKNOWN_FUNCTION);
      tracker.auth = true;
      return { evaluate: (ctx) => ctx.request?.userId ?? null, deps: DEP_AUTH, node: e };
    }
    if (name !== 'parameters' && name !== 'parameter') {
      return fail(sink, e, `Function '${schema}.${e.function.name}' is not defined; use ${schema}.parameters() or ${schema}.parameter('name')`, SyncRulesCode.UNKNOWN_FUNCTION);
    }
    const expected = name === 'parameter' ? 1 : 0;
    if (e.args.length !== expected) return fail(sink, e, `Function '${schema}.${name}' expects ${expected} argument(s), got ${e.args.length}`, SyncRulesCode.UNKNOWN_FUNCTION);
    if (schema === 'auth') tracker.auth = true;
    else tracker.unauth = true;
    const deps = schema === 'auth' ? DEP_AUTH : DEP_CLIENT;
    const whole: Evaluator =
      schema === 'auth'
        ? (ctx) => stream(ctx)?.jwtJson ?? null
        : schema === 'connection'
          ? (ctx) => stream(ctx)?.clientParametersJson ?? null
          : (ctx) => stream(ctx)?.subscriptionJson ?? null;
    if (name === 'parameters') return { evaluate: whole, deps, node: e };
    const key = compiler.compile(e.args[0] as Expr);
    const k = key.evaluate;
    return {
      evaluate: (ctx) => {
        const kv: SqliteValue = k(ctx);
        return kv === null ? null : jsonArrow2(whole(ctx), kv, true);
      },
      deps: deps | key.deps,
      node: e,
    };
  }
}
