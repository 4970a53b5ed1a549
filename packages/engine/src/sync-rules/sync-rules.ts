/**
 * Compiled sync rules: the evaluation API the replicator and the sync endpoint call.
 * Create with `compileSyncRules()`. Pure and immutable apart from internal per-table caches.
 *
 * @example
 * const { rules } = compileSyncRules(yaml, { versionId: 3 });
 * rules!.evaluateRow({ schema: 'public', name: 'todos' }, { id: 't1', list_id: 'l1' });
 * // → [{ bucket: '3#by_list["l1"]', table: 'todos', id: 't1', data: '{"id":"t1","list_id":"l1"}' }]
 */
import type { BucketDefinition, BucketDefinitionInfo } from './bucket-definition.ts';
import type { Compatibility } from './compatibility.ts';
import type { DataQuery } from './data-query.ts';
import type { TableParameterQuery } from './parameter-queries.ts';
import type { PgValueOptions } from './pg-value-options.ts';
import { SyncRulesQuerier } from './querier.ts';
import { patternKey, tableKey } from './table-pattern.ts';
import type { BucketQuerier, EvaluatedParameters, EvaluatedRow, QuerierLimits, RequestParameters, SourceTableRef, SqliteRow, TablePattern } from './types.ts';

export const DEFAULT_MAX_BUCKETS = 10_000;
const TABLE_CACHE_LIMIT = 10_000;

interface TablePlan {
  data: DataQuery[];
  parameters: TableParameterQuery[];
  /** Two data queries of one definition write the same output table: outputs may repeat. */
  mayRepeat: boolean;
}

export class SyncRules {
  /** Effective edition (1 = legacy, 2 = Syncline default). */
  readonly edition: 1 | 2;
  readonly definitions: readonly BucketDefinitionInfo[];
  /** Effective compatibility flags. */
  readonly compatibility: Compatibility;
  /** Options the replicator passes to `pgTextToSqlite` / `pgRowToSqlite`. */
  readonly valueOptions: PgValueOptions;
  readonly versionId: number;
  readonly maxBuckets: number;

  private readonly defs: readonly BucketDefinition[];
  private readonly plans = new Map<string, TablePlan>();

  constructor(args: { definitions: readonly BucketDefinition[]; compatibility: Compatibility; versionId: number; maxBuckets?: number }) {
    this.defs = args.definitions;
    this.definitions = args.definitions.map((d) => d.info());
    this.compatibility = args.compatibility;
    this.edition = args.compatibility.edition;
    this.versionId = args.versionId;
    this.maxBuckets = args.maxBuckets ?? DEFAULT_MAX_BUCKETS;
    this.valueOptions = {
      timestampsIso8601: args.compatibility.timestampsIso8601,
      timestampMaxPrecision: args.compatibility.timestampMaxPrecision,
      customPostgresTypes: args.compatibility.customPostgresTypes,
    };
  }

  /** Every table pattern referenced by a data or parameter query (de-duplicated). */
  sourceTables(): TablePattern[] {
    const seen = new Map<string, TablePattern>();
    for (const def of this.defs) {
      for (const q of def.dataQueries) seen.set(patternKey(q.table), q.table);
      for (const q of def.tableQueries) seen.set(patternKey(q.table), q.table);
    }
    return [...seen.values()];
  }

  private lastTable: SourceTableRef | null = null;
  private lastSchema = '';
  private lastName = '';
  private lastPlan: TablePlan | null = null;

  private plan(table: SourceTableRef): TablePlan {
    // The replicator passes the same table object for every row of a relation: skip the map.
    if (this.lastTable === table && this.lastSchema === table.schema && this.lastName === table.name && this.lastPlan) return this.lastPlan;
    const key = tableKey(table);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = { data: [], parameters: [], mayRepeat: false };
      for (const def of this.defs) {
        for (const q of def.dataQueries) if (q.matches(table)) plan.data.push(q);
        for (const q of def.tableQueries) if (q.matches(table)) plan.parameters.push(q);
      }
      const targets = plan.data.map((q) => `${q.bucketPrefix}\u0000${q.outputTable ?? table.name}`);
      plan.mayRepeat = new Set(targets).size !== targets.length;
      if (this.plans.size >= TABLE_CACHE_LIMIT) this.plans.clear();
      this.plans.set(key, plan);
    }
    this.lastTable = table;
    this.lastSchema = table.schema;
    this.lastName = table.name;
    this.lastPlan = plan;
    return plan;
  }

  /** Whether rows of `table` feed data queries and/or parameter queries. */
  tableMatches(table: SourceTableRef): { data: boolean; parameters: boolean } {
    const plan = this.plan(table);
    return { data: plan.data.length > 0, parameters: plan.parameters.length > 0 };
  }

  /**
   * Bucket outputs of one source row (after `pgRowToSqlite`). When several data queries put the
   * same `(bucket, table, id)` the last one wins, as a later PUT would. Never throws for data
   * errors: invalid values evaluate to NULL.
   */
  evaluateRow(table: SourceTableRef, row: SqliteRow): EvaluatedRow[] {
    const plan = this.plan(table);
    const out: EvaluatedRow[] = [];
    const scratch = {};
    for (const q of plan.data) q.evaluate(table, row, out, scratch);
    return plan.mayRepeat ? dedupeRows(out) : out;
  }

  /**
   * Parameter-index entries of one source row, for every table-based parameter query on this
   * table: one entry per lookup key the row produces (e.g. one per element when the row's
   * column is a JSON array matched with `IN`). If the row produces a key but does not qualify
   * (a row-only condition fails, or a selected bucket parameter is NULL), the entry is still
   * returned with `bucketParameters: []` so storage can write a tombstone for that key.
   *
   * Keys the row produced *before* an update but no longer produces (the matched column
   * changed or became NULL) cannot be known here: storage must diff against the lookups it
   * stored for that source row and tombstone the missing ones (reference §8.3). On DELETE,
   * storage tombstones all of them without calling this.
   */
  evaluateParameterRow(table: SourceTableRef, row: SqliteRow): EvaluatedParameters[] {
    const plan = this.plan(table);
    const out: EvaluatedParameters[] = [];
    for (const q of plan.parameters) q.evaluateRow(row, out);
    return out;
  }

  /** Bucket resolution for one connection (JWT claims, client parameters, stream subscriptions). */
  createQuerier(request: RequestParameters, limits: QuerierLimits = {}): BucketQuerier {
    return new SyncRulesQuerier(this.defs, request, { maxBuckets: limits.maxBuckets ?? this.maxBuckets, maxParameterResults: limits.maxParameterResults });
  }
}

function dedupeRows(rows: EvaluatedRow[]): EvaluatedRow[] {
  const byKey = new Map<string, EvaluatedRow>();
  for (const r of rows) {
    const key = `${r.bucket}\u0000${r.table}\u0000${r.id}`;
    byKey.delete(key);
    byKey.set(key, r);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}
