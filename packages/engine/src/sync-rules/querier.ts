/**
 * Resolves the buckets of one connection: static buckets from the request alone, dynamic ones
 * from parameter-index lookups, de-duplicated (lowest priority number wins) and bounded.
 */
import type { BucketDefinition } from './bucket-definition.ts';
import { TooManyBucketsError } from './errors.ts';
import type { RequestLookup } from './parameter-queries.ts';
import { RequestContext } from './request-context.ts';
import type { BucketDescription, BucketQuerier, ParameterLookup, ParameterLookupSource, RequestParameters, SqliteRow } from './types.ts';

type Priority = BucketDescription['priority'];

interface PendingLookup extends RequestLookup {
  definition: BucketDefinition;
  priority: Priority;
}

class BucketSet {
  readonly byId = new Map<string, BucketDescription>();

  add(definition: BucketDefinition, params: SqliteRow, priority: Priority): void {
    const bucket = definition.bucketId(params);
    if (bucket === null) return;
    const existing = this.byId.get(bucket);
    if (!existing) this.byId.set(bucket, { bucket, priority, definition: definition.name });
    else if (priority < existing.priority) existing.priority = priority;
  }
}

function enforceLimit(buckets: Map<string, BucketDescription>, limit: number): void {
  if (buckets.size <= limit) return;
  const counts = new Map<string, number>();
  for (const b of buckets.values()) counts.set(b.definition, (counts.get(b.definition) ?? 0) + 1);
  const sorted = [...counts.entries()].map(([definition, n]) => ({ definition, buckets: n })).sort((a, b) => b.buckets - a.buckets || a.definition.localeCompare(b.definition));
  throw new TooManyBucketsError(buckets.size, limit, sorted);
}

export class SyncRulesQuerier implements BucketQuerier {
  readonly staticBuckets: BucketDescription[];
  readonly hasDynamicBuckets: boolean;
  readonly lookups: ParameterLookup[];
  private readonly pending: PendingLookup[];

  constructor(
    definitions: readonly BucketDefinition[],
    request: RequestParameters,
    private readonly maxBuckets: number,
  ) {
    const ctx = new RequestContext(request);
    const statics = new BucketSet();
    this.pending = [];
    for (const def of definitions) {
      for (const q of def.requestQueries) {
        const priority = q.priority ?? def.priority;
        for (const params of q.evaluate(ctx)) statics.add(def, params, priority);
      }
      for (const q of def.tableQueries) {
        const priority = q.priority ?? def.priority;
        for (const l of q.requestLookups(ctx)) this.pending.push({ ...l, definition: def, priority });
      }
    }
    this.staticBuckets = [...statics.byId.values()];
    const unique = new Map<string, ParameterLookup>();
    for (const p of this.pending) if (!unique.has(p.lookup.key)) unique.set(p.lookup.key, p.lookup);
    this.lookups = [...unique.values()];
    this.hasDynamicBuckets = this.lookups.length > 0;
  }

  /**
   * All buckets for this connection at the checkpoint `source` reads. Throws
   * {@link TooManyBucketsError} above `max_buckets_per_connection`.
   */
  async resolveBuckets(source: ParameterLookupSource): Promise<BucketDescription[]> {
    const set = new BucketSet();
    for (const b of this.staticBuckets) set.byId.set(b.bucket, { ...b });
    if (this.lookups.length > 0) {
      const results = await source(this.lookups);
      if (results.length !== this.lookups.length) {
        throw new Error(`Parameter lookup source returned ${results.length} result sets for ${this.lookups.length} lookups`);
      }
      const byKey = new Map<string, SqliteRow[]>();
      this.lookups.forEach((l, i) => byKey.set(l.key, results[i] ?? []));
      for (const p of this.pending) {
        for (const row of byKey.get(p.lookup.key) ?? []) {
          set.add(p.definition, { ...row, ...p.requestOutputs }, p.priority);
        }
      }
    }
    enforceLimit(set.byId, this.maxBuckets);
    return [...set.byId.values()];
  }
}
