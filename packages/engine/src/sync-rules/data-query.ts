/**
 * Data queries: `SELECT <columns> FROM <table> [AS alias] WHERE <filter on bucket.<param>>`.
 * Each source row yields one `(bucket, table, id, data)` output per matching bucket.
 */
import type { FromTable, SelectFromStatement } from 'pgsql-ast-parser';
import { jsonKeyPrefix, serializeBucketParameters, stringifySqliteRow, stringifySqliteValue, type BucketParameterValue } from '@syncline/protocol';
import { DataFilterCompiler, type DataFilter } from './data-filter.ts';
import { DEP_BUCKET, ExpressionCompiler, rangeOf, type Evaluator, type EvalContext } from './expression-compiler.ts';
import { SyncRulesCode } from './issue-codes.ts';
import { checkTable } from './schema-check.ts';
import { castAsText } from './sqlite-cast.ts';
import type { IssueSink } from './sql-issues.ts';
import { parseSelect } from './sql-statement.ts';
import { makeTablePattern, patternMatches } from './table-pattern.ts';
import type { EvaluatedRow, SourceSchema, SourceTableRef, SqliteRow, SqliteValue, TablePattern } from './types.ts';

export interface QueryCompileContext {
  /** Definition name. */
  definition: string;
  /** Bucket parameter names, in bucket-id order. */
  bucketParameters: readonly string[];
  /** `<version>#<definition>` or `<definition>`. */
  bucketPrefix: string;
  defaultSchema: string;
  schema: SourceSchema | undefined;
  fixedJsonExtract: boolean;
  sink: IssueSink;
  /** Skip bucket-parameter checks (a parameter query failed to compile, so names are unknown). */
  lenientParameters?: boolean;
}

const silentSink: IssueSink = { add: () => undefined };

type OutputColumn = { star: true } | { star: false; name: string; evaluate: Evaluator };

/** Per-`evaluateRow` scratch space shared by the queries of one table. */
export interface RowScratch {
  /** JSON of `SELECT *` for the current row (identical for every star-only query). */
  starJson?: string;
}

function idText(v: SqliteValue | undefined): string {
  if (v === undefined || v === null || v instanceof Uint8Array) return '';
  return castAsText(v) as string;
}

/** Writes `*` (all columns not starting with `_`, blobs dropped) straight from the source row. */
function starJson(row: SqliteRow): string {
  let out = '';
  for (const key in row) {
    if (key.charCodeAt(0) === 95 /* _ */) continue;
    const text = stringifySqliteValue(row[key] as SqliteValue);
    if (text === undefined) continue;
    out += (out === '' ? '{' : ',') + jsonKeyPrefix(key) + text;
  }
  return out === '' ? '{}' : `${out}}`;
}

export class DataQuery {
  private readonly mode: 'star' | 'explicit' | 'mixed';
  private readonly explicit: Array<{ prefix: string; evaluate: Evaluator }>;
  private readonly idIndex: number;

  constructor(
    readonly table: TablePattern,
    /** Output table name; null = the source table's name (unaliased wildcard). */
    readonly outputTable: string | null,
    private readonly columns: OutputColumn[],
    private readonly filter: DataFilter,
    readonly bucketPrefix: string,
  ) {
    const names = columns.map((c) => (c.star ? '*' : c.name));
    const hasStar = names.includes('*');
    this.mode = hasStar ? (columns.length === 1 ? 'star' : 'mixed') : new Set(names).size === names.length ? 'explicit' : 'mixed';
    this.explicit = columns.flatMap((c) => (c.star ? [] : [{ prefix: jsonKeyPrefix(c.name), evaluate: c.evaluate }]));
    this.idIndex = names.indexOf('id');
  }

  matches(table: SourceTableRef): boolean {
    return patternMatches(this.table, table);
  }

  /** Appends this query's outputs for one row. */
  evaluate(table: SourceTableRef, row: SqliteRow, outputs: EvaluatedRow[], scratch: RowScratch): void {
    const ctx: EvalContext = { row, request: null };
    const assignments = this.filter.evaluate(ctx);
    if (assignments.length === 0) return;
    let data: string;
    let id: string;
    if (this.mode === 'star') {
      data = scratch.starJson ??= starJson(row);
      id = idText(row['id']);
    } else if (this.mode === 'explicit') {
      data = '';
      id = '';
      const cols = this.explicit;
      for (let i = 0; i < cols.length; i++) {
        const col = cols[i] as { prefix: string; evaluate: Evaluator };
        const v = col.evaluate(ctx);
        if (i === this.idIndex) id = idText(v);
        const text = stringifySqliteValue(v);
        if (text === undefined) continue;
        data += (data === '' ? '{' : ',') + col.prefix + text;
      }
      data = data === '' ? '{}' : `${data}}`;
    } else {
      // `*` plus other columns, or repeated names: build an object (later values win, the first
      // position is kept, as for a JS object).
      const out: SqliteRow = {};
      for (const col of this.columns) {
        if (col.star) {
          for (const key in row) if (key.charCodeAt(0) !== 95) out[key] = row[key] as SqliteValue;
        } else {
          out[col.name] = col.evaluate(ctx);
        }
      }
      data = stringifySqliteRow(out);
      id = idText(out['id']);
    }
    const tableName = this.outputTable ?? table.name;
    if (assignments.length === 1) {
      const bucket = this.bucketPrefix + serializeBucketParameters(assignments[0] as BucketParameterValue[]);
      outputs.push({ bucket, table: tableName, id, data });
      return;
    }
    // Several assignments can name the same bucket (`a = bucket.x OR b = bucket.x`, repeated array elements).
    const seen = new Set<string>();
    for (const a of assignments) {
      const bucket = this.bucketPrefix + serializeBucketParameters(a as BucketParameterValue[]);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      outputs.push({ bucket, table: tableName, id, data });
    }
  }
}

/** Compiles one data query; returns null (after reporting issues) when it is unusable. */
export function compileDataQuery(sql: string, ctx: QueryCompileContext): DataQuery | null {
  const { sink } = ctx;
  const stmt = parseSelect(sql, sink);
  if (!stmt) return null;
  const from = singleTable(stmt, sink);
  if (!from) return null;
  const name = from.name;
  const pattern = makeTablePattern(name.schema ?? ctx.defaultSchema, name.name);
  const alias = name.alias ?? null;
  const tableCheck = checkTable(ctx.schema, pattern, name.name, name, sink);
  const compiler = new ExpressionCompiler(
    {
      tableNames: new Set(alias ? [alias] : [name.name]),
      allowRow: true,
      allowRequest: false,
      allowBucket: true,
      onColumn: tableCheck.onColumn,
    },
    sink,
    { fixedJsonExtract: ctx.fixedJsonExtract },
    sql,
  );

  const columns: OutputColumn[] = [];
  let hasId = false;
  let hasStar = false;
  for (const col of stmt.columns ?? []) {
    const e = col.expr;
    if (e.type === 'ref' && e.name === '*') {
      if (e.table && e.table.name !== (alias ?? name.name)) {
        sink.add('fatal', SyncRulesCode.UNDEFINED_REFERENCE, `Undefined reference: ${e.table.name}.*`, rangeOf(e));
      }
      columns.push({ star: true });
      hasStar = true;
      continue;
    }
    const compiled = compiler.compile(e);
    const outName = col.alias?.name ?? compiled.defaultName;
    if (compiled.deps & DEP_BUCKET) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Bucket parameters cannot be selected; select the column they are compared with instead', rangeOf(e));
      continue;
    }
    if (!outName) {
      sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Expressions in data queries need an alias, e.g. `upper(name) AS name`', rangeOf(e));
      continue;
    }
    if (outName === 'id') hasId = true;
    columns.push({ star: false, name: outName, evaluate: compiled.evaluate });
  }
  if (!hasId && !hasStar) {
    sink.add('fatal', SyncRulesCode.MISSING_ID, 'Query must return an "id" column', rangeOf(stmt.columns?.[0] ?? stmt));
  } else if (!hasId && tableCheck.columns && !tableCheck.columns.has('id')) {
    sink.add('warning', SyncRulesCode.MISSING_ID, 'Query must return an "id" column', rangeOf(stmt.columns?.[0] ?? stmt));
  }

  const filter = new DataFilterCompiler(ctx.bucketParameters, compiler, ctx.lenientParameters ? silentSink : sink).compile(stmt.where);
  if (!ctx.lenientParameters && filter.covered.size !== ctx.bucketParameters.length) {
    const expected = JSON.stringify(ctx.bucketParameters.map((p) => `bucket.${p}`));
    const got = JSON.stringify([...filter.covered].sort().map((i) => `bucket.${ctx.bucketParameters[i]}`));
    sink.add('fatal', SyncRulesCode.PARAMETERS_NOT_COVERED, `Query must cover all bucket parameters. Expected: ${expected} Got: ${got}`, rangeOf(stmt.where ?? stmt));
  }
  const outputTable = alias ?? (pattern.isWildcard ? null : name.name);
  return new DataQuery(pattern, outputTable, columns, filter, ctx.bucketPrefix);
}

/** The single plain table of a data or parameter query, or null after reporting. */
export function singleTable(stmt: SelectFromStatement, sink: IssueSink): FromTable | null {
  const from = stmt.from ?? [];
  const first = from[0];
  if (from.length !== 1 || !first || first.type !== 'table' || first.join) {
    sink.add('fatal', SyncRulesCode.SQL_UNSUPPORTED, 'Must SELECT from a single table', rangeOf(from[1] ?? first ?? stmt));
    return null;
  }
  return first;
}
