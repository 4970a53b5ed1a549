/**
 * Compiled parameter queries.
 *
 * - {@link RequestParameterQuery}: static (`SELECT request.user_id() AS user_id`) and
 *   table-valued (`SELECT value AS p FROM json_each(request.jwt() -> 'ids')`) queries, evaluated
 *   from the request alone.
 * - {@link TableParameterQuery}: `SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()`,
 *   indexed at replication time (row → lookup entries) and looked up at sync time.
 */
import { isBucketParameterValue, serializeBucketParameters, type BucketParameterValue } from '@syncline/protocol';
import type { CompiledExpr, EvalContext, Evaluator } from './expression-compiler.ts';
import { jsonArrayElements, jsonEach } from './json-functions.ts';
import type { FilterBranch, ParameterMatch } from './parameter-filter.ts';
import type { RequestContext } from './request-context.ts';
import { toBoolean } from './sqlite-values.ts';
import { patternMatches } from './table-pattern.ts';
import type { EvaluatedParameters, ParameterLookup, SourceTableRef, SqliteRow, SqliteValue, TablePattern } from './types.ts';

export type Priority = 0 | 1 | 2 | 3;

export interface ParameterOutput {
  name: string;
  evaluate: Evaluator;
}

const EMPTY_ROW: SqliteRow = Object.freeze({}) as SqliteRow;

/** Evaluates outputs; null when a value cannot be a bucket parameter (NULL, blob). */
function evaluateOutputs(outputs: readonly ParameterOutput[], ctx: EvalContext): SqliteRow | null {
  const out: SqliteRow = {};
  for (const o of outputs) {
    const v = o.evaluate(ctx);
    if (v === null || !isBucketParameterValue(v)) return null;
    out[o.name] = v;
  }
  return out;
}

function isTruthy(filters: readonly CompiledExpr[], ctx: EvalContext): boolean {
  for (const f of filters) if (toBoolean(f.evaluate(ctx)) !== true) return false;
  return true;
}

/** Lookup values are bucket-parameter values (no NULL, no blobs). */
function scalarValues(values: SqliteValue[] | null): SqliteValue[] {
  if (!values) return [];
  return values.filter((v) => v !== null && isBucketParameterValue(v));
}

function cartesian(lists: SqliteValue[][]): SqliteValue[][] {
  let out: SqliteValue[][] = [[]];
  for (const list of lists) {
    const next: SqliteValue[][] = [];
    for (const prefix of out) for (const v of list) next.push([...prefix, v]);
    out = next;
  }
  return out;
}

/** Static and table-valued parameter queries. */
export class RequestParameterQuery {
  constructor(
    readonly kind: 'static' | 'table-valued',
    readonly id: string,
    private readonly outputs: readonly ParameterOutput[],
    private readonly filters: readonly CompiledExpr[],
    /** The json_each argument for table-valued queries. */
    private readonly source: CompiledExpr | null,
    readonly priority: Priority | undefined,
  ) {}

  /** Parameter rows (output name → value) for this request. */
  evaluate(request: RequestContext): SqliteRow[] {
    const rows: SqliteRow[] = this.source ? jsonEach(this.source.evaluate({ row: EMPTY_ROW, request })) : [EMPTY_ROW];
    const result: SqliteRow[] = [];
    for (const row of rows) {
      const ctx: EvalContext = { row, request };
      if (!isTruthy(this.filters, ctx)) continue;
      const out = evaluateOutputs(this.outputs, ctx);
      if (out) result.push(out);
    }
    return result;
  }
}

/** A lookup this request needs, with the request-derived outputs to combine with its rows. */
export interface RequestLookup {
  lookup: ParameterLookup;
  requestOutputs: SqliteRow;
}

/** Table-based parameter queries (dynamic buckets). */
export class TableParameterQuery {
  readonly kind = 'table' as const;

  constructor(
    readonly definition: string,
    readonly id: string,
    readonly table: TablePattern,
    /** Outputs computed from the row at replication time (stored in the index). */
    private readonly rowOutputs: readonly ParameterOutput[],
    /** Outputs computed from the request at sync time. */
    private readonly requestOutputs: readonly ParameterOutput[],
    private readonly branches: readonly FilterBranch[],
    readonly priority: Priority | undefined,
  ) {}

  matches(table: SourceTableRef): boolean {
    return patternMatches(this.table, table);
  }

  private queryId(branch: number): string {
    return this.branches.length > 1 ? `${this.id}.${branch}` : this.id;
  }

  private lookup(branch: number, values: SqliteValue[]): ParameterLookup {
    const queryId = this.queryId(branch);
    return {
      key: `${this.definition}|${queryId}|${serializeBucketParameters(values as BucketParameterValue[])}`,
      definition: this.definition,
      queryId,
      values,
    };
  }

  /**
   * Index entries for one source row: one per branch per lookup key the row produces. When the
   * row fails a row-only condition (or an output is NULL), the entry has empty
   * `bucketParameters`, so storage can tombstone a key the row used to match.
   */
  evaluateRow(row: SqliteRow, out: EvaluatedParameters[]): void {
    const ctx: EvalContext = { row, request: null };
    const params = evaluateOutputs(this.rowOutputs, ctx);
    this.branches.forEach((branch, b) => {
      const lists = branch.matches.map((m) => rowSideValues(m, ctx));
      const pass = params !== null && isTruthy(branch.rowFilters, ctx);
      const seen = new Set<string>();
      for (const values of cartesian(lists)) {
        const lookup = this.lookup(b, values);
        if (seen.has(lookup.key)) continue;
        seen.add(lookup.key);
        out.push({ lookup, bucketParameters: pass ? [params] : [] });
      }
    });
  }

  /** The lookups a request needs (empty when request-only conditions fail). */
  requestLookups(request: RequestContext): RequestLookup[] {
    const ctx: EvalContext = { row: EMPTY_ROW, request };
    const requestOutputs = evaluateOutputs(this.requestOutputs, ctx);
    if (!requestOutputs) return [];
    const result: RequestLookup[] = [];
    this.branches.forEach((branch, b) => {
      if (!isTruthy(branch.requestFilters, ctx)) return;
      const lists = branch.matches.map((m) => requestSideValues(m, ctx));
      for (const values of cartesian(lists)) result.push({ lookup: this.lookup(b, values), requestOutputs });
    });
    return result;
  }
}

function rowSideValues(m: ParameterMatch, ctx: EvalContext): SqliteValue[] {
  const v = m.row.evaluate(ctx);
  if (m.kind === 'eq' || m.kind === 'request-array') return scalarValues([v]);
  return dedupe(scalarValues(jsonArrayElements(v)));
}

function requestSideValues(m: ParameterMatch, ctx: EvalContext): SqliteValue[] {
  const v = m.request.evaluate(ctx);
  if (m.kind === 'eq' || m.kind === 'row-array') return scalarValues([v]);
  return dedupe(scalarValues(jsonArrayElements(v)));
}

function dedupe(values: SqliteValue[]): SqliteValue[] {
  if (values.length < 2) return values;
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = serializeBucketParameters([v as BucketParameterValue]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
