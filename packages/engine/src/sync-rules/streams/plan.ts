/**
 * Runtime objects of compiled Sync Streams (reference §3.1–3.2): data sources (row → buckets),
 * lookup creators (row → parameter-index entries) and the lookup graph a querier walks.
 *
 * Lookup keys are JSON arrays `["lookup","<id>",...inputs]` with every `|` written as `\u007c`.
 * Legacy parameter-query keys are `<definition>|<query>|[…]` and always contain `|`, so no
 * definition name can produce a stream key and the two never collide in storage.
 */
import { jsonKeyPrefix, serializeBucketParameters, stringifySqliteRow, stringifySqliteValue, type BucketParameterValue } from '@syncline/protocol';
import type { EvalContext, Evaluator } from '../expression-compiler.ts';
import { jsonArrayElements } from '../json-functions.ts';
import { castAsText } from '../sqlite-cast.ts';
import { toBoolean } from '../sqlite-values.ts';
import { patternMatches } from '../table-pattern.ts';
import type { EvaluatedParameters, EvaluatedRow, ParameterLookup, SourceTableRef, SqliteRow, SqliteValue, TablePattern } from '../types.ts';

/** Row context with the replicated table, for row-metadata functions (`t.schema()`…). */
export interface RowEvalContext extends EvalContext {
  table?: SourceTableRef;
}

/** A value (or, when `expand`, the elements of a JSON array) computed from one row or the request. */
export interface ValueExpr {
  evaluate: Evaluator;
  expand: boolean;
}

export function isPartitionValue(v: SqliteValue): v is string | number | bigint {
  return typeof v === 'string' || typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v));
}

/** Values of a row-side expression (invalid JSON arrays give none). NULL and blobs are dropped. */
export function rowValues(e: ValueExpr, ctx: EvalContext): SqliteValue[] {
  const v = e.evaluate(ctx);
  if (!e.expand) return isPartitionValue(v) ? [v] : [];
  return (jsonArrayElements(v) ?? []).filter(isPartitionValue);
}

const OUTPUT_NAMES = Array.from({ length: 16 }, (_, i) => String(i));

/** One tuple when no expression expands (none when a value is NULL or a blob). */
function simpleValues(exprs: readonly ValueExpr[], ctx: EvalContext): SqliteValue[][] {
  const values: SqliteValue[] = new Array<SqliteValue>(exprs.length);
  for (let i = 0; i < exprs.length; i++) {
    const v = (exprs[i] as ValueExpr).evaluate(ctx);
    if (!isPartitionValue(v)) return [];
    values[i] = v;
  }
  return [values];
}

export function cartesian<T>(lists: T[][]): T[][] {
  let out: T[][] = [[]];
  for (const list of lists) {
    if (list.length === 0) return [];
    const next: T[][] = [];
    for (const prefix of out) for (const v of list) next.push([...prefix, v]);
    out = next;
  }
  return out;
}

export function allTrue(filters: readonly Evaluator[], ctx: EvalContext): boolean {
  for (const f of filters) if (toBoolean(f(ctx)) !== true) return false;
  return true;
}

export function lookupKey(lookupId: string, values: readonly SqliteValue[]): ParameterLookup {
  const json = serializeBucketParameters(['lookup', lookupId, ...(values as BucketParameterValue[])]);
  const key = json.includes('|') ? json.replaceAll('|', '\\u007c') : json;
  return { key, definition: 'lookup', queryId: lookupId, values: values as SqliteValue[] };
}

/** Builds lookup-index entries of one table for one lookup of a stream query. */
export class LookupCreator {
  constructor(
    readonly id: string,
    readonly table: TablePattern,
    private readonly filters: readonly Evaluator[],
    private readonly inputs: readonly ValueExpr[],
    private readonly outputs: readonly ValueExpr[],
  ) {
    this.simpleInputs = inputs.every((i) => !i.expand);
    this.simpleOutputs = outputs.every((o) => !o.expand);
  }

  private readonly simpleInputs: boolean;
  private readonly simpleOutputs: boolean;

  matches(table: SourceTableRef): boolean {
    return patternMatches(this.table, table);
  }

  /** One entry per input combination; empty `bucketParameters` when the row does not qualify. */
  evaluateRow(table: SourceTableRef, row: SqliteRow, out: EvaluatedParameters[]): void {
    const ctx: RowEvalContext = { row, request: null, table };
    const keys = this.simpleInputs ? simpleValues(this.inputs, ctx) : cartesian(this.inputs.map((i) => rowValues(i, ctx)));
    if (keys.length === 0) return;
    let rows: SqliteRow[] = [];
    if (allTrue(this.filters, ctx)) {
      const outputs = this.simpleOutputs ? simpleValues(this.outputs, ctx) : cartesian(this.outputs.map((o) => rowValues(o, ctx)));
      rows = outputs.map((values) => {
        const r: SqliteRow = {};
        for (let i = 0; i < values.length; i++) r[OUTPUT_NAMES[i] ?? String(i)] = values[i] as SqliteValue;
        return r;
      });
    }
    if (keys.length === 1) {
      out.push({ lookup: lookupKey(this.id, keys[0] as SqliteValue[]), bucketParameters: rows });
      return;
    }
    const seen = new Set<string>();
    for (const values of keys) {
      const lookup = lookupKey(this.id, values);
      if (seen.has(lookup.key)) continue;
      seen.add(lookup.key);
      out.push({ lookup, bucketParameters: rows });
    }
  }
}

export type OutputColumn = { star: true } | { star: false; name: string; evaluate: Evaluator };

function idText(v: SqliteValue | undefined): string {
  if (v === undefined || v === null || v instanceof Uint8Array) return '';
  return castAsText(v) as string;
}

/** `*` of a stream: every JSON-representable column, `_`-prefixed ones included; blobs dropped. */
function starJson(row: SqliteRow): string {
  let out = '';
  for (const key in row) {
    const text = stringifySqliteValue(row[key] as SqliteValue);
    if (text === undefined) continue;
    out += (out === '' ? '{' : ',') + jsonKeyPrefix(key) + text;
  }
  return out === '' ? '{}' : `${out}}`;
}

export interface StreamRowScratch {
  starJson?: string;
}

/** Row evaluator of one stream variant: filters, partition values, output row. */
export class DataSource {
  private readonly starOnly: boolean;

  constructor(
    readonly table: TablePattern,
    /** Output table name; null = the replicated table's name (unaliased wildcard). */
    readonly outputTable: string | null,
    private readonly columns: readonly OutputColumn[],
    private readonly filters: readonly Evaluator[],
    private readonly partitions: readonly ValueExpr[],
    /** `<version>#<stream>|<variant>`. */
    readonly bucketPrefix: string,
  ) {
    this.starOnly = columns.length === 1 && columns[0]?.star === true;
  }

  matches(table: SourceTableRef): boolean {
    return patternMatches(this.table, table);
  }

  evaluate(table: SourceTableRef, row: SqliteRow, out: EvaluatedRow[], scratch: StreamRowScratch): void {
    const ctx: RowEvalContext = { row, request: null, table };
    if (!allTrue(this.filters, ctx)) return;
    let combos: SqliteValue[][];
    if (this.partitions.length === 0) combos = [[]];
    else if (this.partitions.length === 1 && !(this.partitions[0] as ValueExpr).expand) {
      const v = (this.partitions[0] as ValueExpr).evaluate(ctx);
      if (!isPartitionValue(v)) return;
      combos = [[v]];
    } else {
      combos = cartesian(this.partitions.map((p) => rowValues(p, ctx)));
      if (combos.length === 0) return;
    }
    let data: string;
    let id: string;
    if (this.starOnly) {
      data = scratch.starJson ??= starJson(row);
      id = idText(row['id']);
    } else {
      const obj: SqliteRow = {};
      for (const col of this.columns) {
        if (col.star) for (const key in row) obj[key] = row[key] as SqliteValue;
        else obj[col.name] = col.evaluate(ctx);
      }
      data = stringifySqliteRow(obj);
      id = idText(obj['id']);
    }
    const tableName = this.outputTable ?? table.name;
    const seen = combos.length > 1 ? new Set<string>() : null;
    for (const values of combos) {
      const bucket = this.bucketPrefix + serializeBucketParameters(values as BucketParameterValue[]);
      if (seen) {
        if (seen.has(bucket)) continue;
        seen.add(bucket);
      }
      out.push({ bucket, table: tableName, id, data });
    }
  }
}

/** Where the values of a node's keys come from at request time. */
export type Provider =
  | { kind: 'request'; key: number; value: ValueExpr; auth: boolean; unauth: boolean }
  | { kind: 'child'; node: LookupNode; pairs: ReadonlyArray<{ key: number; output: number }> };

/** A lookup stage: key values come from providers; the rows read feed the parent. */
export interface LookupNode {
  creator: LookupCreator;
  keyCount: number;
  providers: readonly Provider[];
}

/** One querier: a stream variant's request filters and how its partition values are found. */
export interface VariantQuerier {
  variant: number;
  bucketPrefix: string;
  requestFilters: readonly Evaluator[];
  keyCount: number;
  providers: readonly Provider[];
  /** True when some provider reads the parameter index (buckets change with data). */
  dynamic: boolean;
}
