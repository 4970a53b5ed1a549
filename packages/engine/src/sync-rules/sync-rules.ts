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
import { CombinedQuerier } from './streams/combined-querier.ts';
import type { DataSource, LookupCreator, StreamRowScratch } from './streams/plan.ts';
import { streamInfo, type CompiledStream, type StreamInfo } from './streams/stream.ts';
import { patternKey, tableKey } from './table-pattern.ts';
import type { BucketQuerier, EvaluatedParameters, EvaluatedRow, QuerierLimits, RequestParameters, SourceTableRef, SqliteRow, TablePattern } from './types.ts';

export const DEFAULT_MAX_BUCKETS = 10_000;
const TABLE_CACHE_LIMIT = 10_000;

interface TablePlan {
  data: DataQuery[];
  parameters: TableParameterQuery[];
  streamData: DataSource[];
  streamLookups: LookupCreator[];
  /** Two data queries of one definition write the same output table: outputs may repeat. */
  mayRepeat: boolean;
}

export class SyncRules {
  /** Effective edition (1 = legacy, 2 = Syncline default, 3 = Sync Streams compiler). */
  readonly edition: 1 | 2 | 3;
  readonly definitions: readonly BucketDefinitionInfo[];
  /** Sync Streams (`streams:`), in config order. */
  readonly streams: readonly StreamInfo[];
  /** Effective compatibility flags. */
  readonly compatibility: Compatibility;
  /** Options the replicator passes to `pgTextToSqlite` / `pgRowToSqlite`. */
  readonly valueOptions: PgValueOptions;
  readonly versionId: number;
  readonly maxBuckets: number;

  private readonly defs: readonly BucketDefinition[];
  private readonly compiledStreams: readonly CompiledStream[];
  private readonly lookupCreators: readonly LookupCreator[];
  private readonly streamsFirst: boolean;
  private readonly plans = new Map<string, TablePlan>();

  constructor(args: {
    definitions: readonly BucketDefinition[];
    compatibility: Compatibility;
    versionId: number;
    maxBuckets?: number;
    streams?: readonly CompiledStream[];
    lookupCreators?: readonly LookupCreator[];
    /** `streams:` comes before `bucket_definitions:` in the YAML (config order of `checkpoint.streams`). */
    streamsFirst?: boolean;
  }) {
    this.defs = args.definitions;
    this.definitions = args.definitions.map((d) => d.info());
    this.compiledStreams = args.streams ?? [];
    this.streams = this.compiledStreams.map(streamInfo);
    this.lookupCreators = args.lookupCreators ?? [];
    this.streamsFirst = args.streamsFirst ?? false;
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
    for (const s of this.compiledStreams) for (const d of s.dataSources) seen.set(patternKey(d.table), d.table);
    for (const c of this.lookupCreators) seen.set(patternKey(c.table), c.table);
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
      plan = { data: [], parameters: [], streamData: [], streamLookups: [], mayRepeat: false };
      for (const def of this.defs) {
        for (const q of def.dataQueries) if (q.matches(table)) plan.data.push(q);
        for (const q of def.tableQueries) if (q.matches(table)) plan.parameters.push(q);
      }
      for (const s of this.compiledStreams) for (const d of s.dataSources) if (d.matches(table)) plan.streamData.push(d);
      for (const c of this.lookupCreators) if (c.matches(table)) plan.streamLookups.push(c);
      const targets = [...plan.data, ...plan.streamData].map((q) => `${q.bucketPrefix}\u0000${q.outputTable ?? table.name}`);
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
    return { data: plan.data.length + plan.streamData.length > 0, parameters: plan.parameters.length + plan.streamLookups.length > 0 };
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
    if (plan.streamData.length > 0) {
      const streamScratch: StreamRowScratch = {};
      for (const d of plan.streamData) d.evaluate(table, row, out, streamScratch);
    }
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
    for (const c of plan.streamLookups) c.evaluateRow(table, row, out);
    return out;
  }

  /** Bucket resolution for one connection (JWT claims, client parameters, stream subscriptions). */
  createQuerier(request: RequestParameters, limits: QuerierLimits = {}): BucketQuerier {
    const merged = { maxBuckets: limits.maxBuckets ?? this.maxBuckets, maxParameterResults: limits.maxParameterResults };
    if (this.compiledStreams.length === 0) return new SyncRulesQuerier(this.defs, request, merged);
    return new CombinedQuerier(this.defs, this.compiledStreams, request, merged, this.streamsFirst);
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
