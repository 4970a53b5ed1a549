/**
 * Compiles pgsql-ast-parser expressions into closures over an {@link EvalContext}, recording what
 * each expression depends on (row, authenticated request, client parameters, bucket parameters).
 * Unsupported syntax is reported to the issue sink and compiles to a NULL placeholder so that
 * validation can report every problem at once.
 */
import type { Expr, ExprCall, ExprRef, PGNode } from 'pgsql-ast-parser';
import { SyncRulesCode } from './issue-codes.ts';
import { jsonArrayContains, jsonArrayOverlap, jsonArrow, jsonArrow2 } from './json-functions.ts';
import { and, arithmetic, compare, concat, inList, isBoolean, negate, not, or, type ArithmeticOp, type ComparisonOp } from './operators.ts';
import type { RequestContext } from './request-context.ts';
import { SCALAR_FUNCTIONS } from './scalar-functions.ts';
import { castTypeFromName, castValue } from './sqlite-cast.ts';
import { fromBoolean, SQL_FALSE, SQL_TRUE, toNumeric } from './sqlite-values.ts';
import type { IssueSink } from './sql-issues.ts';
import type { SqliteRow, SqliteValue } from './types.ts';

/** Dependency bits. */
export const DEP_ROW = 1;
export const DEP_AUTH = 2;
export const DEP_CLIENT = 4;
export const DEP_BUCKET = 8;
export const DEP_REQUEST = DEP_AUTH | DEP_CLIENT;

export interface EvalContext {
  row: SqliteRow;
  request: RequestContext | null;
}

export type Evaluator = (ctx: EvalContext) => SqliteValue;

export interface CompiledExpr {
  evaluate: Evaluator;
  deps: number;
  /** Set for a bare `bucket.<name>` reference. */
  bucketParam?: string;
  /** Set when the value is known at compile time. */
  constant?: { value: SqliteValue };
  /** Output name when selected without alias (column name for refs). */
  defaultName?: string;
  node: PGNode;
}

export interface ExpressionScope {
  /** Names the source row can be qualified with (table name, alias). */
  tableNames: ReadonlySet<string>;
  allowRow: boolean;
  allowRequest: boolean;
  allowBucket: boolean;
  /** What to say when the row is referenced but not available. */
  rowUnavailableHint?: string;
  /** Called for every row column reference (schema-aware checks). */
  onColumn?: (name: string, node: PGNode) => void;
  /**
   * Sync Streams hook: compiles a node itself (multi-table references, `auth.*` /
   * `subscription.*` / `connection.*`, edition-3 operators), or returns undefined for the default.
   */
  resolve?: (e: Expr, compiler: ExpressionCompiler) => CompiledExpr | undefined;
}

export interface CompilerOptions {
  fixedJsonExtract: boolean;
}

export function rangeOf(node: PGNode): { start: number; end: number } | undefined {
  return node._location ? { start: node._location.start, end: node._location.end } : undefined;
}

const COMPARISONS = new Set(['=', '!=', '<', '>', '<=', '>=']);
const ARITHMETIC = new Set(['+', '-', '*', '/', '%']);
const NULL_EVAL: Evaluator = () => null;

export class ExpressionCompiler {
  constructor(
    private readonly scope: ExpressionScope,
    private readonly sink: IssueSink,
    private readonly options: CompilerOptions,
    private readonly sql: string,
  ) {}

  error(node: PGNode, message: string, code: (typeof SyncRulesCode)[keyof typeof SyncRulesCode] = SyncRulesCode.SQL_UNSUPPORTED): CompiledExpr {
    this.sink.add('fatal', code, message, rangeOf(node));
    return { evaluate: NULL_EVAL, deps: 0, node };
  }

  compile(expr: Expr): CompiledExpr {
    const result = this.compileInner(expr);
    // Constant folding: anything without dependencies is evaluated once.
    if (result.deps === 0 && !result.constant && result.evaluate !== NULL_EVAL) {
      const value = result.evaluate({ row: {}, request: null });
      return { ...result, evaluate: () => value, constant: { value } };
    }
    return result;
  }

  private constant(node: PGNode, value: SqliteValue): CompiledExpr {
    return { evaluate: () => value, deps: 0, constant: { value }, node };
  }

  private compileInner(e: Expr): CompiledExpr {
    const hooked = this.scope.resolve?.(e, this);
    if (hooked) return hooked;
    switch (e.type) {
      case 'null':
        return this.constant(e, null);
      case 'boolean':
        return this.constant(e, e.value ? SQL_TRUE : SQL_FALSE);
      case 'string':
        return this.constant(e, e.value);
      case 'integer':
        return this.constant(e, this.integerLiteral(e));
      case 'numeric':
        return this.constant(e, e.value);
      case 'ref':
        return this.ref(e);
      case 'binary':
        return this.binary(e);
      case 'unary':
        return this.unary(e);
      case 'member': {
        const operand = this.compile(e.operand);
        const member: SqliteValue = typeof e.member === 'number' ? BigInt(e.member) : e.member;
        const fixed = this.options.fixedJsonExtract;
        const f = operand.evaluate;
        const evaluate: Evaluator = e.op === '->' ? (ctx) => jsonArrow(f(ctx), member, fixed) : (ctx) => jsonArrow2(f(ctx), member, fixed);
        return { evaluate, deps: operand.deps, node: e, defaultName: undefined };
      }
      case 'cast': {
        const operand = this.compile(e.operand);
        const typeName = e.to.kind === 'array' ? null : e.to.name;
        const type = typeName === null ? null : castTypeFromName(typeName);
        if (!type) return this.error(e.to, `CAST to '${typeName ?? 'array'}' is not supported; use text, numeric, integer, real or blob`);
        const f = operand.evaluate;
        return { evaluate: (ctx) => castValue(f(ctx), type), deps: operand.deps, node: e };
      }
      case 'call':
        return this.call(e);
      case 'substring': {
        const args = [e.value, e.from ?? { type: 'integer', value: 1 }, ...(e.for ? [e.for] : [])] as Expr[];
        return this.callFunction(e, 'substring', args);
      }
      case 'list':
        return this.error(e, 'A list of values is only supported on the right-hand side of IN');
      case 'case':
        return this.error(e, 'CASE expressions are not supported in sync rules');
      case 'ternary':
        return this.error(e, `${e.op} is not supported in sync rules; use >= and <=`);
      case 'parameter':
        return this.error(e, `Query parameters (${e.name}) are not supported; use request.parameters() or bucket.<name>`);
      case 'select':
      case 'union':
      case 'union all':
      case 'with':
      case 'with recursive':
      case 'values':
        return this.error(e, 'Subqueries are not supported in sync rules');
      default:
        return this.error(e, `Expression of type '${e.type}' is not supported in sync rules`);
    }
  }

  /** Integer literals are read from the SQL text so that values beyond 2^53 stay exact. */
  private integerLiteral(e: Expr & { type: 'integer' }): bigint {
    const r = rangeOf(e);
    if (r) {
      const text = this.sql.slice(r.start, r.end).replace(/\s+/g, '');
      if (/^[+-]?\d+$/.test(text)) return BigInt(text);
    }
    return BigInt(Math.trunc(e.value));
  }

  private ref(e: ExprRef): CompiledExpr {
    const name = e.name;
    if (name === '*') return this.error(e, "'*' can only be used as a selected column");
    const table = e.table;
    if (table?.schema) return this.error(e, `Schema-qualified column references are not supported: ${table.schema}.${table.name}.${name}`);
    if (table) {
      switch (table.name) {
        case 'bucket':
          if (!this.scope.allowBucket) return this.error(e, `Undefined reference: bucket.${name} (bucket parameters can only be used in data queries)`, SyncRulesCode.UNDEFINED_REFERENCE);
          return { evaluate: NULL_EVAL, deps: DEP_BUCKET, bucketParam: name, node: e, defaultName: name };
        case 'token_parameters':
          if (!this.scope.allowRequest) return this.requestUnavailable(e, `token_parameters.${name}`);
          return { evaluate: (ctx) => ctx.request?.tokenParameter(name) ?? null, deps: DEP_AUTH, node: e, defaultName: name };
        case 'user_parameters':
          if (!this.scope.allowRequest) return this.requestUnavailable(e, `user_parameters.${name}`);
          return { evaluate: (ctx) => ctx.request?.clientParameter(name) ?? null, deps: DEP_CLIENT, node: e, defaultName: name };
        default:
          if (!this.scope.tableNames.has(table.name)) return this.error(e, `Undefined reference: ${table.name}.${name}`, SyncRulesCode.UNDEFINED_REFERENCE);
      }
    }
    if (!this.scope.allowRow) {
      return this.error(e, `Undefined reference: ${name}${this.scope.rowUnavailableHint ? ` (${this.scope.rowUnavailableHint})` : ''}`, SyncRulesCode.UNDEFINED_REFERENCE);
    }
    this.scope.onColumn?.(name, e);
    return {
      evaluate: (ctx) => {
        const v = ctx.row[name];
        return v === undefined ? null : v;
      },
      deps: DEP_ROW,
      node: e,
      defaultName: name,
    };
  }

  private requestUnavailable(node: PGNode, what: string): CompiledExpr {
    return this.error(node, `${what} cannot be used in data queries: data queries are evaluated per row, use bucket.<name> parameters instead`, SyncRulesCode.UNDEFINED_REFERENCE);
  }

  private binary(e: Expr & { type: 'binary' }): CompiledExpr {
    const op = e.op;
    if (op === 'IN' || op === 'NOT IN') return this.inExpr(e, op === 'NOT IN');
    const left = this.compile(e.left);
    const right = this.compile(e.right);
    const deps = left.deps | right.deps;
    const l = left.evaluate;
    const r = right.evaluate;
    let evaluate: Evaluator;
    if (COMPARISONS.has(op)) {
      const cop = op as ComparisonOp;
      evaluate = (ctx) => compare(cop, l(ctx), r(ctx));
    } else if (ARITHMETIC.has(op)) {
      const aop = op as ArithmeticOp;
      evaluate = (ctx) => arithmetic(aop, l(ctx), r(ctx));
    } else if (op === 'AND') {
      evaluate = (ctx) => and(l(ctx), () => r(ctx));
    } else if (op === 'OR') {
      evaluate = (ctx) => or(l(ctx), () => r(ctx));
    } else if (op === '||') {
      evaluate = (ctx) => concat(l(ctx), r(ctx));
    } else if (op === '&&') {
      evaluate = (ctx) => jsonArrayOverlap(l(ctx), r(ctx));
    } else {
      return this.error(e, `Operator '${op}' is not supported in sync rules`);
    }
    return { evaluate, deps, node: e };
  }

  private inExpr(e: Expr & { type: 'binary' }, negated: boolean): CompiledExpr {
    const left = this.compile(e.left);
    const l = left.evaluate;
    let evaluate: Evaluator;
    let deps = left.deps;
    if (e.right.type === 'list') {
      const items = e.right.expressions.map((x) => this.compile(x));
      for (const item of items) deps |= item.deps;
      const evals = items.map((i) => i.evaluate);
      evaluate = (ctx) => inList(l(ctx), evals.map((f) => f(ctx)));
    } else {
      const right = this.compile(e.right);
      deps |= right.deps;
      const r = right.evaluate;
      evaluate = (ctx) => jsonArrayContains(r(ctx), l(ctx));
    }
    if (negated) {
      const inner = evaluate;
      evaluate = (ctx) => not(inner(ctx));
    }
    return { evaluate, deps, node: e };
  }

  private unary(e: Expr & { type: 'unary' }): CompiledExpr {
    const operand = this.compile(e.operand);
    const f = operand.evaluate;
    let evaluate: Evaluator;
    switch (e.op) {
      case 'NOT':
        evaluate = (ctx) => not(f(ctx));
        break;
      case '-':
        evaluate = (ctx) => negate(f(ctx));
        break;
      case '+':
        evaluate = (ctx) => {
          const v = f(ctx);
          return typeof v === 'string' ? toNumeric(v) : v;
        };
        break;
      case 'IS NULL':
        evaluate = (ctx) => fromBoolean(f(ctx) === null);
        break;
      case 'IS NOT NULL':
        evaluate = (ctx) => fromBoolean(f(ctx) !== null);
        break;
      case 'IS TRUE':
        evaluate = (ctx) => isBoolean(f(ctx), true, false);
        break;
      case 'IS FALSE':
        evaluate = (ctx) => isBoolean(f(ctx), false, false);
        break;
      case 'IS NOT TRUE':
        evaluate = (ctx) => isBoolean(f(ctx), true, true);
        break;
      case 'IS NOT FALSE':
        evaluate = (ctx) => isBoolean(f(ctx), false, true);
        break;
      default:
        return this.error(e, `Operator '${String(e.op)}' is not supported in sync rules`);
    }
    return { evaluate, deps: operand.deps, node: e };
  }

  private call(e: ExprCall): CompiledExpr {
    if (e.distinct || e.orderBy || e.filter || e.over || e.withinGroup) {
      return this.error(e, 'Aggregate and window functions are not supported in sync rules');
    }
    const schema = e.function.schema;
    const name = e.function.name.toLowerCase();
    if (schema === 'request') return this.requestFunction(e, name);
    if (schema) return this.error(e.function, `Function '${schema}.${e.function.name}' is not defined`, SyncRulesCode.UNKNOWN_FUNCTION);
    if (name === 'json_each') return this.error(e, 'json_each() can only be used in the FROM clause of a parameter query');
    return this.callFunction(e, name, e.args);
  }

  private callFunction(node: PGNode, name: string, argExprs: Expr[]): CompiledExpr {
    const fn = SCALAR_FUNCTIONS.get(name);
    if (!fn) return this.error(node, `Function '${name}' is not defined`, SyncRulesCode.UNKNOWN_FUNCTION);
    if (argExprs.length < fn.minArgs || argExprs.length > fn.maxArgs) {
      const expected = fn.minArgs === fn.maxArgs ? `${fn.minArgs}` : fn.maxArgs === Infinity ? `at least ${fn.minArgs}` : `${fn.minArgs} to ${fn.maxArgs}`;
      return this.error(node, `Function '${name}' expects ${expected} argument(s), got ${argExprs.length}`, SyncRulesCode.UNKNOWN_FUNCTION);
    }
    const args = argExprs.map((a) => this.compile(a));
    const deps = args.reduce((d, a) => d | a.deps, 0);
    const evals = args.map((a) => a.evaluate);
    const call = fn.call;
    let evaluate: Evaluator;
    if (evals.length === 1) {
      const a0 = evals[0] as Evaluator;
      evaluate = (ctx) => call([a0(ctx)]);
    } else {
      evaluate = (ctx) => call(evals.map((f) => f(ctx)));
    }
    return { evaluate, deps, node };
  }

  private requestFunction(e: ExprCall, name: string): CompiledExpr {
    if (!this.scope.allowRequest) return this.requestUnavailable(e, `request.${name}()`);
    const argCount = name === 'parameter' ? 1 : 0;
    if (!['user_id', 'jwt', 'parameters', 'parameter'].includes(name)) {
      return this.error(e.function, `Function 'request.${e.function.name}' is not defined; use request.user_id(), request.jwt(), request.parameters() or request.parameter('name')`, SyncRulesCode.UNKNOWN_FUNCTION);
    }
    if (e.args.length !== argCount) return this.error(e, `Function 'request.${name}' expects ${argCount} argument(s), got ${e.args.length}`, SyncRulesCode.UNKNOWN_FUNCTION);
    switch (name) {
      case 'user_id':
        return { evaluate: (ctx) => ctx.request?.userId ?? null, deps: DEP_AUTH, node: e };
      case 'jwt':
        return { evaluate: (ctx) => ctx.request?.jwtJson ?? null, deps: DEP_AUTH, node: e };
      case 'parameters':
        return { evaluate: (ctx) => ctx.request?.clientParametersJson ?? null, deps: DEP_CLIENT, node: e };
      default: {
        const key = this.compile(e.args[0] as Expr);
        const k = key.evaluate;
        return {
          evaluate: (ctx) => {
            const kv = k(ctx);
            return kv === null || !ctx.request ? null : ctx.request.clientParameter(String(kv));
          },
          deps: DEP_CLIENT | key.deps,
          node: e,
        };
      }
    }
  }
}
