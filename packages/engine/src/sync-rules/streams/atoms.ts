/**
 * Classifies the atoms of a DNF branch of a stream query (reference §2.5): a row filter on one
 * table, a request filter, a static value, an `=` edge between two tables (join), or an `=`
 * between a table and request data (a bucket parameter or lookup input).
 */
import type { Expr } from 'pgsql-ast-parser';
import { rangeOf, type Evaluator } from '../expression-compiler.ts';
import { SyncRulesCode } from '../issue-codes.ts';
import { jsonArrayContains, jsonArrayOverlap } from '../json-functions.ts';
import { compare, not } from '../operators.ts';
import type { IssueSink } from '../sql-issues.ts';
import { toBoolean } from '../sqlite-values.ts';
import type { Cond, SourcesEnv } from './query-sources.ts';
import type { Side, TableSource } from './scope.ts';

export type Atom =
  | { kind: 'row'; table: TableSource; evaluate: Evaluator; canon: string; node: Expr }
  | { kind: 'request'; evaluate: Evaluator; canon: string; auth: boolean; unauth: boolean }
  | { kind: 'static'; value: boolean }
  | { kind: 'edge'; a: TableSource; aSide: Side; b: TableSource; bSide: Side; node: Expr }
  | { kind: 'reqedge'; table: TableSource; rowSide: Side; reqSide: Side; node: Expr }
  | { kind: 'error' };

export interface Leaf {
  cond: Extract<Cond, { k: 'atom' } | { k: 'eq' }>;
  negated: boolean;
}

export function eqEval(l: Side, r: Side): Evaluator {
  const lv = l.evaluate;
  const rv = r.evaluate;
  if (!l.expand && !r.expand) return (ctx) => compare('=', lv(ctx), rv(ctx));
  if (l.expand && !r.expand) return (ctx) => jsonArrayContains(lv(ctx), rv(ctx));
  if (!l.expand) return (ctx) => jsonArrayContains(rv(ctx), lv(ctx));
  return (ctx) => jsonArrayOverlap(lv(ctx), rv(ctx));
}

export function only<T>(s: Set<T>): T | undefined {
  return s.size === 1 ? [...s][0] : undefined;
}

export class AtomClassifier {
  private readonly atoms = new Map<Cond, Atom[]>();

  constructor(private readonly env: SourcesEnv) {}

  classify(leaf: Leaf): Atom {
    let cached = this.atoms.get(leaf.cond);
    if (!cached) {
      cached = [];
      this.atoms.set(leaf.cond, cached);
    }
    const idx = leaf.negated ? 1 : 0;
    return (cached[idx] ??= this.classifyUncached(leaf));
  }

  private alreadyReferences(t: TableSource, node: Expr, sink: IssueSink): Atom {
    sink.add(
      'fatal',
      SyncRulesCode.SQL_UNSUPPORTED,
      `This expression already references '${t.alias}', so it can't also reference data from this row unless the two are compared with an equals operator.`,
      rangeOf(node),
    );
    return { kind: 'error' };
  }

  private classifyUncached({ cond, negated }: Leaf): Atom {
    const sink = cond.k === 'eq' ? cond.sink : (this.env.texts.get(cond.scope) as { sink: IssueSink }).sink;
    let left: Side;
    let right: Side;
    let node: Expr;
    if (cond.k === 'eq') {
      ({ left, right, node } = cond);
    } else {
      const e = cond.expr;
      node = e;
      const isEq = e.type === 'binary' && (e.op === '=' || e.op === '&&' || (e.op === 'IN' && e.right.type !== 'list'));
      if (!isEq || negated) return this.filterAtom(this.env.exprs.side(e, cond.scope), negated, node, sink);
      left = this.env.exprs.side(e.left, cond.scope);
      right = this.env.exprs.side(e.right, cond.scope);
      if (e.op === 'IN') {
        if (right.expand) {
          sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'IN cannot be applied to json_each values', rangeOf(e));
          return { kind: 'error' };
        }
        right = { ...right, expand: true };
      }
      if (e.op === '&&') {
        // `a && b`: the arrays overlap, i.e. some element of a equals some element of b.
        if (left.expand || right.expand) {
          sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, '&& cannot be applied to json_each values', rangeOf(e));
          return { kind: 'error' };
        }
        left = { ...left, expand: true };
        right = { ...right, expand: true };
      }
    }
    if (negated) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'NOT IN with a subquery is not supported', rangeOf(node));
      return { kind: 'error' };
    }
    const lt = only(left.tables);
    const rt = only(right.tables);
    if (left.tables.size > 1 || right.tables.size > 1) return this.alreadyReferences(([...left.tables, ...right.tables][0]) as TableSource, node, sink);
    if (!lt && !rt) return this.filterAtom({ ...left, evaluate: eqEval(left, right), auth: left.auth || right.auth, unauth: left.unauth || right.unauth, canon: `${left.canon}=${right.canon}` }, false, node, sink);
    if (lt && rt) {
      if (lt === rt) return this.filterAtom({ ...left, evaluate: eqEval(left, right), canon: `${left.canon}=${right.canon}` }, false, node, sink);
      if (left.auth || left.unauth || right.auth || right.unauth) return this.alreadyReferences(lt, node, sink);
      return { kind: 'edge', a: lt, aSide: left, b: rt, bSide: right, node };
    }
    const [table, rowSide, other] = lt ? [lt, left, right] : [rt as TableSource, right, left];
    if (rowSide.auth || rowSide.unauth) return this.alreadyReferences(table, node, sink);
    if (!other.auth && !other.unauth) {
      return { kind: 'row', table, evaluate: eqEval(left, right), canon: `${left.canon}=${right.canon}`, node };
    }
    return { kind: 'reqedge', table, rowSide, reqSide: other, node };
  }

  private filterAtom(side: Side, negated: boolean, node: Expr, sink: IssueSink): Atom {
    const f = side.evaluate;
    const evaluate: Evaluator = negated ? (ctx) => not(f(ctx)) : f;
    const canon = negated ? `NOT(${side.canon})` : side.canon;
    if (side.tables.size > 1) return this.alreadyReferences([...side.tables][0] as TableSource, node, sink);
    const t = only(side.tables);
    if (t) {
      if (side.auth || side.unauth) return this.alreadyReferences(t, node, sink);
      return { kind: 'row', table: t, evaluate, canon, node };
    }
    if (side.auth || side.unauth) return { kind: 'request', evaluate, canon, auth: side.auth, unauth: side.unauth };
    return { kind: 'static', value: toBoolean(evaluate({ row: {}, request: null })) === true };
  }
}
