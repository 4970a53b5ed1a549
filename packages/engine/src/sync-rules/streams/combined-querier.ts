/**
 * The querier of a config with Sync Streams: legacy bucket definitions (default streams, edition
 * ≤ 2 only) plus stream subscriptions, merged into one bucket set with one `streams` list in
 * config order. The bucket limit stays connection-wide.
 */
import type { BucketDefinition } from '../bucket-definition.ts';
import { BucketSet, enforceBucketLimit, SyncRulesQuerier } from '../querier.ts';
import type { BucketDescription, BucketQuerier, ParameterLookup, ParameterLookupSource, QuerierLimits, RequestParameters, StreamDescription } from '../types.ts';
import { StreamsQuerier } from './stream-querier.ts';
import type { CompiledStream } from './stream.ts';

export class CombinedQuerier implements BucketQuerier {
  readonly staticBuckets: BucketDescription[];
  readonly hasDynamicBuckets: boolean;
  readonly streams: StreamDescription[];
  private readonly legacy: SyncRulesQuerier;
  private readonly streamQuerier: StreamsQuerier;
  private readonly maxBuckets: number;

  constructor(definitions: readonly BucketDefinition[], streams: readonly CompiledStream[], request: RequestParameters, limits: QuerierLimits, streamsFirst: boolean) {
    this.maxBuckets = limits.maxBuckets ?? 10_000;
    if (streamsFirst) {
      this.streamQuerier = new StreamsQuerier(streams, request, limits, 0);
      this.legacy = new SyncRulesQuerier(definitions, request, limits, this.streamQuerier.streams.length);
      this.streams = [...this.streamQuerier.streams, ...this.legacy.streams];
    } else {
      this.legacy = new SyncRulesQuerier(definitions, request, limits, 0);
      this.streamQuerier = new StreamsQuerier(streams, request, limits, this.legacy.streams.length);
      this.streams = [...this.legacy.streams, ...this.streamQuerier.streams];
    }
    const set = new BucketSet();
    set.addAll(this.legacy.staticBuckets);
    set.addAll(this.streamQuerier.staticBuckets);
    this.staticBuckets = [...set.byId.values()];
    this.hasDynamicBuckets = this.legacy.hasDynamicBuckets || this.streamQuerier.hasDynamicBuckets;
  }

  get lookups(): ParameterLookup[] {
    return [...this.legacy.lookups, ...this.streamQuerier.lookups];
  }

  async resolveBuckets(source: ParameterLookupSource): Promise<BucketDescription[]> {
    const set = new BucketSet();
    if (this.legacy.streams.length > 0) set.addAll(await this.legacy.resolveBuckets(source));
    await this.streamQuerier.resolveInto(set, source);
    enforceBucketLimit(set.byId, this.maxBuckets);
    return [...set.byId.values()];
  }
}
