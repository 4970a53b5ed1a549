/**
 * The WHERE clause of a table-based parameter query, split into branches (OR) of conditions
 * (AND). Each branch becomes one lookup index:
 *
 * - a *match* relates a row expression to a request expression; its values form the lookup key:
 *   `row = request` (eq), `row IN request_array` (request-array: the request side expands),
 *   `request IN row_array` (row-array: the row side expands), `row_array && request_array`
 *   (overlap: both expand);
 * - row-only conditions filter rows at replication time;
 * - request-only conditions filter at sync time.
 *
 * Sub-expressions that do not mix row and request values stay whole (an `OR` of row-only
 * conditions is one row filter); only ORs around matches split into branches.
 */
import type { Expr } from 'pgsql-ast-parser';
import { SyncRulesCode } from './issue-codes.ts';
import { DEP_REQUEST, DEP_ROW, rangeOf, type CompiledExpr, type ExpressionCompiler } from './expression-compiler.ts';
import type { IssueSink } from './sql-issues.ts';

export type MatchKind = 'eq' | 'request-array' | 'row-array' | 'overlap';

export interface ParameterMatch {
  kind: MatchKind;
  row: CompiledExpr;
  request: CompiledExpr;
}

export interface FilterBranch {
  matches: ParameterMatch[];
  rowFilters: CompiledExpr[];
  requestFilters: CompiledExpr[];
}

const MAX_BRANCHES = 8;

/**
 * Syntactic dependencies of an expression (before compiling): row columns vs request values.
 * `tableNames` are the names the row can be qualified with.
 */
export function syntacticDeps(e: unknown, tableNames: ReadonlySet<string>): number {
  if (e === null || typeof e !== 'object') return 0;
  if (Array.isArray(e)) return e.reduce((d: number, x: unknown) => d | syntacticDeps(x, tableNames), 0);
  const node = e as { type?: string; table?: { name: string }; function?: { schema?: string } };
  if (node.type === 'ref') {
    const t = node.table?.name;
    if (t === 'token_parameters' || t === 'user_parameters') return DEP_REQUEST;
    return t === undefined || tableNames.has(t) ? DEP_ROW : 0;
  }
  let deps = node.type === 'call' && node.function?.schema === 'request' ? DEP_REQUEST : 0;
  for (const [k, v] of Object.entries(node)) {
    if (k !== '_location' && typeof v === 'object') deps |= syntacticDeps(v, tableNames);
  }
  return deps;
}

function isMixed(deps: number): boolean {
  return (deps & DEP_ROW) !== 0 && (deps & DEP_REQUEST) !== 0;
}

function isRowOnly(c: CompiledExpr): boolean {
  return (c.deps & DEP_ROW) !== 0 && (c.deps & DEP_REQUEST) === 0;
}

function isRequestOnly(c: CompiledExpr): boolean {
  return (c.deps & DEP_REQUEST) !== 0 && (c.deps & DEP_ROW) === 0;
}

export class ParameterFilterCompiler {
  constructor(
    private readonly compiler: ExpressionCompiler,
    private readonly tableNames: ReadonlySet<string>,
    private readonly sink: IssueSink,
  ) {}

  compile(where: Expr | null | undefined): FilterBranch[] {
    if (!where) return [{ matches: [], rowFilters: [], requestFilters: [] }];
    const dnf = this.dnf(where);
    if (dnf.length > MAX_BRANCHES) {
      this.sink.add('fatal', SyncRulesCode.INVALID_FILTER, `Too many OR branches combining row and request values (${dnf.length}, at most ${MAX_BRANCHES})`, rangeOf(where));
      return [];
    }
    return dnf.map((leaves) => this.branch(leaves, where));
  }

  /** Disjunctive normal form over the "mixed" part of the expression tree. */
  private dnf(e: Expr): Expr[][] {
    if (e.type === 'binary' && (e.op === 'AND' || e.op === 'OR') && isMixed(syntacticDeps(e, this.tableNames))) {
      const left = this.dnf(e.left);
      const right = this.dnf(e.right);
      if (e.op === 'OR') return [...left, ...right];
      const out: Expr[][] = [];
      for (const l of left) for (const r of right) out.push([...l, ...r]);
      return out.slice(0, MAX_BRANCHES + 1);
    }
    return [[e]];
  }

  private branch(leaves: Expr[], where: Expr): FilterBranch {
    const branch: FilterBranch = { matches: [], rowFilters: [], requestFilters: [] };
    for (const leaf of leaves) this.leaf(leaf, branch);
    const expanding = branch.matches.filter((m) => m.kind === 'request-array' || m.kind === 'overlap');
    if (expanding.length > 1) {
      this.sink.add('fatal', SyncRulesCode.INVALID_FILTER, 'Cannot have multiple array input parameters', rangeOf(expanding[1]?.request.node ?? where));
    }
    return branch;
  }

  private leaf(e: Expr, branch: FilterBranch): void {
    if (e.type === 'binary' && (e.op === '=' || e.op === '&&' || (e.op === 'IN' && e.right.type !== 'list'))) {
      if (isMixed(syntacticDeps(e, this.tableNames))) {
        const left = this.compiler.compile(e.left);
        const right = this.compiler.compile(e.right);
        const match = this.match(e.op, left, right);
        if (match) {
          branch.matches.push(match);
          return;
        }
        if (left.deps !== 0 || right.deps !== 0) {
          this.mixedError(e);
          return;
        }
      }
    }
    const compiled = this.compiler.compile(e);
    if (isMixed(compiled.deps)) this.mixedError(e);
    else if (compiled.deps & DEP_REQUEST) branch.requestFilters.push(compiled);
    else branch.rowFilters.push(compiled);
  }

  private match(op: string, left: CompiledExpr, right: CompiledExpr): ParameterMatch | null {
    if (op === '=') {
      if (isRowOnly(left) && isRequestOnly(right)) return { kind: 'eq', row: left, request: right };
      if (isRequestOnly(left) && isRowOnly(right)) return { kind: 'eq', row: right, request: left };
    } else if (op === 'IN') {
      if (isRowOnly(left) && isRequestOnly(right)) return { kind: 'request-array', row: left, request: right };
      if (isRequestOnly(left) && isRowOnly(right)) return { kind: 'row-array', row: right, request: left };
    } else if (op === '&&') {
      if (isRowOnly(left) && isRequestOnly(right)) return { kind: 'overlap', row: left, request: right };
      if (isRequestOnly(left) && isRowOnly(right)) return { kind: 'overlap', row: right, request: left };
    }
    return null;
  }

  private mixedError(e: Expr): void {
    this.sink.add(
      'fatal',
      SyncRulesCode.INVALID_FILTER,
      'Cannot combine table columns and request parameters in this expression; use `column = <request value>`, `column IN <request array>`, `<request value> IN <json array column>` or `column && <request array>`',
      rangeOf(e),
    );
  }
}
