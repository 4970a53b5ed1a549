/**
 * Resolves the buckets of one connection for legacy bucket definitions: static buckets from the
 * request alone, dynamic ones from parameter-index lookups, de-duplicated (lowest priority number
 * wins) and bounded. Legacy definitions behave as default streams: each is listed in `streams`
 * and its buckets carry `{default: k}`; `include_defaults: false` drops them, except the ones a
 * subscription names: those are listed and their buckets carry `{sub: i}` with the
 * subscription's override priority (subscription parameters do not apply to definitions).
 */
import type { BucketDefinition } from './bucket-definition.ts';
import { TooManyBucketsError, TooManyParameterResultsError } from './errors.ts';
import type { RequestLookup } from './parameter-queries.ts';
import { RequestContext } from './request-context.ts';
import type {
  BucketDescription,
  BucketQuerier,
  ParameterLookup,
  ParameterLookupSource,
  QuerierLimits,
  RequestParameters,
  SqliteRow,
  StreamDescription,
  SubscriptionReason,
} from './types.ts';

type Priority = BucketDescription['priority'];

export const DEFAULT_MAX_PARAMETER_RESULTS = 1_000;

/** One reason a connection has a definition's buckets, with the priority it asks for (null = the query's). */
interface DefinitionReason {
  reason: SubscriptionReason;
  priority: Priority | null;
}

interface PendingLookup extends RequestLookup {
  definition: BucketDefinition;
  priority: Priority;
  reasons: DefinitionReason[];
}

/** Buckets by id with merged reasons (explicit subscriptions before defaults) and minimum priority. */
export class BucketSet {
  readonly byId = new Map<string, BucketDescription>();

  add(bucket: string, definition: string, priority: Priority, reason: SubscriptionReason): void {
    const existing = this.byId.get(bucket);
    if (!existing) {
      this.byId.set(bucket, { bucket, priority, definition, reasons: [reason] });
      return;
    }
    if (priority < existing.priority) existing.priority = priority;
    if (existing.reasons.some((r) => sameReason(r, reason))) return;
    if ('sub' in reason) {
      const firstDefault = existing.reasons.findIndex((r) => 'default' in r);
      if (firstDefault < 0) existing.reasons.push(reason);
      else existing.reasons.splice(firstDefault, 0, reason);
    } else existing.reasons.push(reason);
  }

  addAll(buckets: Iterable<BucketDescription>): void {
    for (const b of buckets) for (const r of b.reasons) this.add(b.bucket, b.definition, b.priority, r);
  }
}

function sameReason(a: SubscriptionReason, b: SubscriptionReason): boolean {
  return 'sub' in a ? 'sub' in b && a.sub === b.sub : 'default' in b && a.default === b.default;
}

export function enforceBucketLimit(buckets: Map<string, BucketDescription>, limit: number): void {
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
  readonly streams: StreamDescription[];
  private readonly pending: PendingLookup[];
  private readonly maxBuckets: number;
  private readonly maxParameterResults: number;

  /**
   * @param streamOffset index of the first definition in the connection's `streams` list (legacy
   * definitions come after nothing else today, so 0).
   */
  constructor(definitions: readonly BucketDefinition[], request: RequestParameters, limits: QuerierLimits, streamOffset = 0) {
    this.maxBuckets = limits.maxBuckets ?? 10_000;
    this.maxParameterResults = limits.maxParameterResults ?? DEFAULT_MAX_PARAMETER_RESULTS;
    const included = request.streams?.includeDefaults ?? true;
    const subscriptions = request.streams?.subscriptions ?? [];
    const listed: Array<{ def: BucketDefinition; reasons: DefinitionReason[] }> = [];
    for (const def of definitions) {
      const reasons: DefinitionReason[] = [];
      subscriptions.forEach((sub, i) => {
        if (sub.stream === def.name) reasons.push({ reason: { sub: i }, priority: sub.overridePriority });
      });
      if (!included && reasons.length === 0) continue;
      if (included) reasons.push({ reason: { default: streamOffset + listed.length }, priority: null });
      listed.push({ def, reasons });
    }
    this.streams = listed.map(({ def }) => ({ name: def.name, isDefault: true, errors: [] }));
    const ctx = new RequestContext(request);
    const statics = new BucketSet();
    this.pending = [];
    for (const { def, reasons } of listed) {
      for (const q of def.requestQueries) {
        const priority = q.priority ?? def.priority;
        for (const params of q.evaluate(ctx)) {
          const bucket = def.bucketId(params);
          if (bucket !== null) for (const r of reasons) statics.add(bucket, def.name, r.priority ?? priority, r.reason);
        }
      }
      for (const q of def.tableQueries) {
        const priority = q.priority ?? def.priority;
        for (const l of q.requestLookups(ctx)) this.pending.push({ ...l, definition: def, priority, reasons });
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
   * {@link TooManyBucketsError} above the bucket limit and {@link TooManyParameterResultsError}
   * when the lookups return more rows than allowed.
   */
  async resolveBuckets(source: ParameterLookupSource): Promise<BucketDescription[]> {
    const set = new BucketSet();
    set.addAll(this.staticBuckets);
    if (this.lookups.length > 0) {
      const results = await source(this.lookups);
      if (results.length !== this.lookups.length) {
        throw new Error(`Parameter lookup source returned ${results.length} result sets for ${this.lookups.length} lookups`);
      }
      if (results.reduce((n, r) => n + r.length, 0) > this.maxParameterResults) throw new TooManyParameterResultsError(this.maxParameterResults);
      const byKey = new Map<string, SqliteRow[]>();
      this.lookups.forEach((l, i) => byKey.set(l.key, results[i] ?? []));
      for (const p of this.pending) {
        for (const row of byKey.get(p.lookup.key) ?? []) {
          const bucket = p.definition.bucketId({ ...row, ...p.requestOutputs });
          if (bucket !== null) for (const r of p.reasons) set.add(bucket, p.definition.name, r.priority ?? p.priority, r.reason);
        }
      }
    }
    enforceBucketLimit(set.byId, this.maxBuckets);
    return [...set.byId.values()];
  }
}
