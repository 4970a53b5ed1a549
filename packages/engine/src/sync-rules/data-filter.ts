/**
 * The WHERE clause of a data query, compiled into a function from a row to the bucket-parameter
 * assignments the row belongs to.
 *
 * Supported forms, combined with AND / OR:
 * - `<row expr> = bucket.<p>` (either side): the row belongs to the bucket whose `p` equals the value;
 * - `bucket.<p> IN <row expr>`: the row expression is a JSON array; one bucket per element;
 * - any expression on the row only (`archived = 0`): a plain filter.
 * NULL never matches. Both sides of an OR must cover the same bucket parameters.
 */
import type { Expr } from 'pgsql-ast-parser';
import { SyncRulesCode } from './issue-codes.ts';
import { jsonArrayElements } from './json-functions.ts';
import { toBoolean, valuesEqual } from './sqlite-values.ts';
import { DEP_BUCKET, rangeOf, type CompiledExpr, type EvalContext, type ExpressionCompiler } from './expression-compiler.ts';
import type { IssueSink } from './sql-issues.ts';
import type { SqliteValue } from './types.ts';

/** Bucket parameter values by parameter index; `undefined` = not constrained (yet). */
export type Assignment = ReadonlyArray<SqliteValue | undefined>;

export interface DataFilter {
  /** Indexes of the bucket parameters this filter constrains. */
  covered: ReadonlySet<number>;
  evaluate(ctx: EvalContext): Assignment[];
}

const NONE: Assignment[] = [];

function isScalarParam(v: SqliteValue): boolean {
  const t = typeof v;
  return t === 'string' || t === 'bigint' || (t === 'number' && Number.isFinite(v));
}

export class DataFilterCompiler {
  private readonly empty: Assignment;
  private readonly single: Assignment[];

  constructor(
    private readonly params: readonly string[],
    private readonly compiler: ExpressionCompiler,
    private readonly sink: IssueSink,
  ) {
    this.empty = Object.freeze(params.map(() => undefined));
    this.single = [this.empty];
  }

  compile(where: Expr | null | undefined): DataFilter {
    if (!where) {
      const single = this.single;
      return { covered: new Set(), evaluate: () => single };
    }
    return this.node(where);
  }

  private paramIndex(expr: CompiledExpr): number {
    const name = expr.bucketParam as string;
    const index = this.params.indexOf(name);
    if (index < 0) {
      const known = this.params.length ? this.params.map((p) => `bucket.${p}`).join(', ') : 'none';
      this.sink.add('fatal', SyncRulesCode.UNDEFINED_REFERENCE, `Undefined reference: bucket.${name} (bucket parameters: ${known})`, rangeOf(expr.node));
    }
    return index;
  }

  private invalid(expr: Expr): DataFilter {
    this.sink.add(
      'fatal',
      SyncRulesCode.INVALID_FILTER,
      'Bucket parameters can only be used as `<column> = bucket.<name>` or `bucket.<name> IN <json array column>`, combined with AND/OR',
      rangeOf(expr),
    );
    return { covered: new Set(), evaluate: () => NONE };
  }

  private node(e: Expr): DataFilter {
    if (e.type === 'binary' && (e.op === 'AND' || e.op === 'OR')) {
      const left = this.node(e.left);
      const right = this.node(e.right);
      return e.op === 'AND' ? this.and(left, right) : this.or(e, left, right);
    }
    if (e.type === 'binary' && e.op === '=') {
      const left = this.compiler.compile(e.left);
      const right = this.compiler.compile(e.right);
      if (left.bucketParam !== undefined && !(right.deps & DEP_BUCKET)) return this.equals(left, right);
      if (right.bucketParam !== undefined && !(left.deps & DEP_BUCKET)) return this.equals(right, left);
      if ((left.deps | right.deps) & DEP_BUCKET) return this.invalid(e);
    }
    if (e.type === 'binary' && e.op === 'IN' && e.right.type !== 'list') {
      const left = this.compiler.compile(e.left);
      const right = this.compiler.compile(e.right);
      if (left.bucketParam !== undefined && !(right.deps & DEP_BUCKET)) return this.inArray(left, right);
      if ((left.deps | right.deps) & DEP_BUCKET) return this.invalid(e);
    }
    const predicate = this.compiler.compile(e);
    if (predicate.deps & DEP_BUCKET) return this.invalid(e);
    const f = predicate.evaluate;
    const single = this.single;
    return { covered: new Set(), evaluate: (ctx) => (toBoolean(f(ctx)) === true ? single : NONE) };
  }

  private equals(param: CompiledExpr, value: CompiledExpr): DataFilter {
    const index = this.paramIndex(param);
    if (index < 0) return { covered: new Set(), evaluate: () => NONE };
    const f = value.evaluate;
    const empty = this.empty;
    if (this.params.length === 1) {
      return {
        covered: new Set([index]),
        evaluate: (ctx) => {
          const v = f(ctx);
          return isScalarParam(v) ? [[v]] : NONE;
        },
      };
    }
    return {
      covered: new Set([index]),
      evaluate: (ctx) => {
        const v = f(ctx);
        if (!isScalarParam(v)) return NONE;
        const a = empty.slice();
        a[index] = v;
        return [a];
      },
    };
  }

  private inArray(param: CompiledExpr, array: CompiledExpr): DataFilter {
    const index = this.paramIndex(param);
    if (index < 0) return { covered: new Set(), evaluate: () => NONE };
    const f = array.evaluate;
    const empty = this.empty;
    return {
      covered: new Set([index]),
      evaluate: (ctx) => {
        const items = jsonArrayElements(f(ctx));
        if (!items) return NONE;
        const out: Assignment[] = [];
        for (const v of items) {
          if (!isScalarParam(v)) continue;
          const a = empty.slice();
          a[index] = v;
          out.push(a);
        }
        return out;
      },
    };
  }

  private and(left: DataFilter, right: DataFilter): DataFilter {
    const covered = new Set([...left.covered, ...right.covered]);
    // Fast paths: a plain filter on one side needs no merging.
    if (right.covered.size === 0) {
      return {
        covered,
        evaluate: (ctx) => {
          const ls = left.evaluate(ctx);
          return ls.length === 0 || right.evaluate(ctx).length === 0 ? NONE : ls;
        },
      };
    }
    if (left.covered.size === 0) {
      return { covered, evaluate: (ctx) => (left.evaluate(ctx).length === 0 ? NONE : right.evaluate(ctx)) };
    }
    return {
      covered,
      evaluate: (ctx) => {
        const ls = left.evaluate(ctx);
        if (ls.length === 0) return NONE;
        const rs = right.evaluate(ctx);
        const out: Assignment[] = [];
        for (const l of ls) {
          for (const r of rs) {
            const merged = merge(l, r);
            if (merged) out.push(merged);
          }
        }
        return out;
      },
    };
  }

  private or(e: Expr, left: DataFilter, right: DataFilter): DataFilter {
    const same = left.covered.size === right.covered.size && [...left.covered].every((i) => right.covered.has(i));
    if (!same) {
      const names = (s: ReadonlySet<number>) => JSON.stringify([...s].sort().map((i) => `bucket.${this.params[i]}`));
      this.sink.add(
        'fatal',
        SyncRulesCode.PARAMETERS_NOT_COVERED,
        `Both sides of OR must use the same bucket parameters. Left: ${names(left.covered)} Right: ${names(right.covered)}`,
        rangeOf(e),
      );
    }
    return {
      covered: new Set([...left.covered, ...right.covered]),
      evaluate: (ctx) => {
        const ls = left.evaluate(ctx);
        const rs = right.evaluate(ctx);
        return ls.length === 0 ? rs : rs.length === 0 ? ls : [...ls, ...rs];
      },
    };
  }
}

/** Merges two assignments; null when they give one parameter different values. */
function merge(a: Assignment, b: Assignment): Assignment | null {
  const out = a.slice();
  for (let i = 0; i < b.length; i++) {
    const v = b[i];
    if (v === undefined) continue;
    const existing = out[i];
    if (existing === undefined) out[i] = v;
    else if (typeof existing === 'string' ? existing !== v : typeof v === 'string' || !valuesEqual(existing, v as SqliteValue)) return null;
  }
  return out;
}
