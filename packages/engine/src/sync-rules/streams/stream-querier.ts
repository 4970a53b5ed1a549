/**
 * Bucket resolution of Sync Streams for one connection (reference §3.3, §4.2–4.3): default
 * streams get an implicit subscription with NULL parameters, explicit subscriptions carry
 * their parameters and priority; request-phase errors and the parameter-result limit are
 * reported per subscription in `streams[].errors`, and that subscription yields nothing.
 */
import { serializeBucketParameters, type BucketParameterValue } from '@syncline/protocol';
import { DEFAULT_MAX_PARAMETER_RESULTS, BucketSet } from '../querier.ts';
import type { EvalContext } from '../expression-compiler.ts';
import { jsonToSqlite, parseJsonValue } from '../json-functions.ts';
import type {
  BucketDescription,
  ParameterLookup,
  ParameterLookupSource,
  QuerierLimits,
  RequestParameters,
  SqliteRow,
  SqliteValue,
  StreamDescription,
  SubscriptionReason,
} from '../types.ts';
import { allTrue, isPartitionValue, lookupKey, type LookupNode, type Provider, type ValueExpr, type VariantQuerier } from './plan.ts';
import { StreamRequestContext } from './request.ts';
import type { CompiledStream } from './stream.ts';

type Priority = BucketDescription['priority'];

/** An implicit (default) or explicit subscription to one stream. */
interface Instance {
  stream: CompiledStream;
  description: StreamDescription;
  reason: SubscriptionReason;
  priority: Priority;
  ctx: EvalContext;
  statics: string[];
  dynamic: VariantQuerier[];
  /** Request-phase error: the subscription yields nothing. */
  error: string | null;
}

class LimitExceeded extends Error {}

/** An error of the lookup source (storage): never a subscription error, it fails the resolution. */
class SourceFailure extends Error {
  constructor(readonly original: unknown) {
    super('parameter lookup source failed');
  }
}

/** Values of a request-side expression; invalid JSON for an array expansion throws. */
function requestValues(e: ValueExpr, ctx: EvalContext): SqliteValue[] {
  const v = e.evaluate(ctx);
  if (!e.expand) return isPartitionValue(v) ? [v] : [];
  if (v === null || v instanceof Uint8Array) return [];
  if (typeof v !== 'string') return [v];
  const parsed = parseJsonValue(v);
  if (typeof parsed === 'symbol') throw new Error(`malformed JSON: ${v.length > 40 ? `${v.slice(0, 40)}…` : v}`);
  if (Array.isArray(parsed)) return parsed.map(jsonToSqlite).filter(isPartitionValue);
  if (parsed !== null && typeof parsed === 'object') return Object.values(parsed).map((x) => jsonToSqlite(x)).filter(isPartitionValue);
  const single = jsonToSqlite(parsed);
  return isPartitionValue(single) ? [single] : [];
}

const valueKey = (v: SqliteValue): string => serializeBucketParameters([v as BucketParameterValue]);

type Combo = Array<SqliteValue | undefined>;

/**
 * Bound on the combinations one subscription may expand to (bucket ids or lookup keys), checked
 * while they are built: client-controlled arrays multiply (cartesian products), so the limit is
 * enforced before the work, not after.
 */
class FanOut {
  constructor(readonly limit: number) {}

  check(n: number): void {
    if (n > this.limit) {
      throw new Error(
        `this subscription expands to more than ${this.limit} buckets or parameter lookups (max_buckets_per_connection / max_parameter_query_results); send fewer values.`,
      );
    }
  }
}

/** Extends combinations with the values of one request provider, bounded by `fanOut`. */
function extend(combos: Combo[], key: number, values: SqliteValue[], fanOut: FanOut): Combo[] {
  const next: Combo[] = [];
  for (const c of combos) {
    for (const v of values) {
      const r = assign(c, key, v);
      if (r) {
        next.push(r);
        if (next.length > fanOut.limit) fanOut.check(next.length);
      }
    }
  }
  return next;
}

function assign(combo: Combo, key: number, v: SqliteValue): Combo | null {
  const existing = combo[key];
  if (existing !== undefined) return valueKey(existing) === valueKey(v) ? combo : null;
  const next = combo.slice();
  next[key] = v;
  return next;
}

type Reader = (lookups: ParameterLookup[]) => Promise<SqliteRow[]>;

/** Key tuples of a node from its providers: intersections, correlated rows, cartesian products. */
async function keyTuples(keyCount: number, providers: readonly Provider[], ctx: EvalContext, read: Reader | null, fanOut: FanOut): Promise<SqliteValue[][]> {
  let combos: Combo[] = [new Array<SqliteValue | undefined>(keyCount).fill(undefined)];
  const ordered = [...providers].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'request' ? -1 : 1));
  for (const p of ordered) {
    if (combos.length === 0) break;
    const next: Combo[] = [];
    if (p.kind === 'request') {
      combos = extend(combos, p.key, requestValues(p.value, ctx), fanOut);
      continue;
    } else {
      if (!read) return [];
      const rows = await lookupRows(p.node, ctx, read, fanOut);
      if (p.pairs.length === 0) {
        // Existence gate: keep the combinations when the lookup found any row.
        if (rows.length === 0) combos = [];
        continue;
      }
      for (const c of combos) {
        for (const row of rows) {
          let r: Combo | null = c;
          for (const { key, output } of p.pairs) {
            const v = row[String(output)];
            r = v === undefined || !isPartitionValue(v) ? null : assign(r, key, v);
            if (!r) break;
          }
          if (r) {
            next.push(r);
            if (next.length > fanOut.limit) fanOut.check(next.length);
          }
        }
      }
    }
    combos = next;
  }
  return combos as SqliteValue[][];
}

async function lookupRows(node: LookupNode, ctx: EvalContext, read: Reader, fanOut: FanOut): Promise<SqliteRow[]> {
  const tuples = await keyTuples(node.keyCount, node.providers, ctx, read, fanOut);
  if (tuples.length === 0) return [];
  const unique = new Map<string, ParameterLookup>();
  for (const t of tuples) {
    const l = lookupKey(node.creator.id, t);
    unique.set(l.key, l);
  }
  return read([...unique.values()]);
}

/** First-stage lookups (those fed by request data only) of a querier. */
function firstStage(providers: readonly Provider[], ctx: EvalContext, out: Map<string, ParameterLookup>, fanOut: FanOut): void {
  for (const p of providers) {
    if (p.kind !== 'child') continue;
    const node = p.node;
    if (node.providers.some((q) => q.kind === 'child')) firstStage(node.providers, ctx, out, fanOut);
    else {
      // Request-only providers resolve synchronously (no reader needed).
      let combos: Combo[] = [new Array<SqliteValue | undefined>(node.keyCount).fill(undefined)];
      for (const q of node.providers) {
        if (q.kind === 'request') combos = extend(combos, q.key, requestValues(q.value, ctx), fanOut);
      }
      for (const c of combos) {
        const l = lookupKey(node.creator.id, c as SqliteValue[]);
        out.set(l.key, l);
      }
    }
  }
}

function errorMessage(e: unknown): string {
  return `Error evaluating bucket ids: ${e instanceof Error ? e.message : String(e)}`;
}

export class StreamsQuerier {
  readonly streams: StreamDescription[] = [];
  readonly staticBuckets: BucketDescription[];
  readonly hasDynamicBuckets: boolean;
  lookups: ParameterLookup[];
  private readonly instances: Instance[] = [];
  private readonly maxParameterResults: number;
  private readonly fanOut: FanOut;
  private readonly maxBuckets: number;
  /** Static bucket ids so far: once above maxBuckets, further subscriptions are not expanded. */
  private readonly staticIds = new Set<string>();
  private readonly buildErrors: StreamDescription['errors'][] = [];

  constructor(streams: readonly CompiledStream[], request: RequestParameters, limits: QuerierLimits, streamOffset: number) {
    this.maxParameterResults = limits.maxParameterResults ?? DEFAULT_MAX_PARAMETER_RESULTS;
    this.maxBuckets = limits.maxBuckets ?? 10_000;
    this.fanOut = new FanOut(Math.max(this.maxBuckets, this.maxParameterResults));
    const includeDefaults = request.streams?.includeDefaults ?? true;
    const subscriptions = request.streams?.subscriptions ?? [];
    for (const stream of streams) {
      const explicit = subscriptions.flatMap((s, i) => (s.stream === stream.name ? [{ s, i }] : []));
      const withDefault = stream.autoSubscribe && includeDefaults;
      if (!withDefault && explicit.length === 0) continue;
      const streamIndex = streamOffset + this.streams.length;
      const description: StreamDescription = { name: stream.name, isDefault: stream.autoSubscribe, errors: [] };
      this.streams.push(description);
      for (const { s, i } of explicit) {
        this.instances.push(this.instance(stream, description, { sub: i }, s.overridePriority ?? stream.priority, request, s.parameters ?? {}));
      }
      if (withDefault) this.instances.push(this.instance(stream, description, { default: streamIndex }, stream.priority, request, null));
    }
    const statics = new BucketSet();
    const first = new Map<string, ParameterLookup>();
    for (const inst of this.instances) {
      if (inst.error === null) {
        try {
          for (const v of inst.dynamic) firstStage(v.providers, inst.ctx, first, this.fanOut);
        } catch (e) {
          inst.error = errorMessage(e);
        }
      }
      if (inst.error !== null) {
        this.descriptionOf(inst).errors.push({ subscription: 'sub' in inst.reason ? inst.reason.sub : 'default', message: inst.error });
        continue;
      }
      for (const b of inst.statics) statics.add(b, inst.stream.name, inst.priority, inst.reason);
    }
    this.staticBuckets = [...statics.byId.values()];
    this.buildErrors = this.streams.map((s) => [...s.errors]);
    this.lookups = [...first.values()];
    this.hasDynamicBuckets = this.instances.some((i) => i.error === null && i.dynamic.length > 0);
  }

  private get overBudget(): boolean {
    return this.staticIds.size > this.maxBuckets;
  }

  private descriptionOf(inst: Instance): StreamDescription {
    return inst.description;
  }

  private instance(stream: CompiledStream, description: StreamDescription, reason: SubscriptionReason, priority: Priority, request: RequestParameters, params: Record<string, unknown> | null): Instance {
    const ctx: EvalContext = { row: {}, request: new StreamRequestContext(request, params) };
    const inst: Instance = { stream, description, reason, priority, ctx, statics: [], dynamic: [], error: null };
    // Over the connection's bucket limit already: resolving fails anyway (TooManyBucketsError),
    // so client-controlled subscriptions are not expanded any further.
    if (this.overBudget) return inst;
    try {
      const seen = new Set<string>();
      for (const v of stream.variants) {
        if (!allTrue(v.requestFilters, ctx)) continue;
        if (v.dynamic) {
          inst.dynamic.push(v);
          continue;
        }
        // Static: request providers only; keyTuples resolves without reading.
        for (const tuple of staticTuples(v, ctx, this.fanOut)) {
          const id = v.bucketPrefix + serializeBucketParameters(tuple as BucketParameterValue[]);
          if (!seen.has(id)) {
            seen.add(id);
            inst.statics.push(id);
            this.staticIds.add(id);
          }
        }
      }
    } catch (e) {
      inst.error = errorMessage(e);
    }
    return inst;
  }

  /** Resolves every subscription; returns the merged buckets (limit of buckets enforced by the caller). */
  async resolveInto(set: BucketSet, source: ParameterLookupSource): Promise<void> {
    this.streams.forEach((s, i) => (s.errors = [...(this.buildErrors[i] ?? [])]));
    const read = new Map<string, ParameterLookup>();
    for (const inst of this.instances) {
      // Above the connection's bucket limit the caller throws TooManyBucketsError: stop here.
      if (set.byId.size > this.maxBuckets) break;
      if (inst.error !== null) continue;
      if (this.overBudget) {
        for (const b of inst.statics) set.add(b, inst.stream.name, inst.priority, inst.reason);
        continue;
      }
      if (inst.dynamic.length === 0) {
        for (const b of inst.statics) set.add(b, inst.stream.name, inst.priority, inst.reason);
        continue;
      }
      let count = 0;
      const reader: Reader = async (lookups) => {
        for (const l of lookups) read.set(l.key, l);
        let results: SqliteRow[][];
        try {
          results = await source(lookups);
        } catch (e) {
          throw new SourceFailure(e);
        }
        if (results.length !== lookups.length) {
          throw new SourceFailure(new Error(`Parameter lookup source returned ${results.length} result sets for ${lookups.length} lookups`));
        }
        const rows = results.flat();
        count += rows.length;
        if (count > this.maxParameterResults) throw new LimitExceeded();
        return rows;
      };
      const buckets: string[] = [...inst.statics];
      try {
        for (const v of inst.dynamic) {
          for (const tuple of await keyTuples(v.keyCount, v.providers, inst.ctx, reader, this.fanOut)) {
            buckets.push(v.bucketPrefix + serializeBucketParameters(tuple as BucketParameterValue[]));
          }
        }
      } catch (e) {
        if (e instanceof SourceFailure) throw e.original;
        const message =
          e instanceof LimitExceeded
            ? `Too many parameter query results: this subscription reads more than ${this.maxParameterResults} parameter rows (max_parameter_query_results); it syncs nothing until the rows are fewer or the limit is raised.`
            : errorMessage(e);
        this.descriptionOf(inst).errors.push({ subscription: 'sub' in inst.reason ? inst.reason.sub : 'default', message });
        continue;
      }
      for (const b of buckets) set.add(b, inst.stream.name, inst.priority, inst.reason);
    }
    this.lookups = [...read.values()];
  }
}

function staticTuples(v: VariantQuerier, ctx: EvalContext, fanOut: FanOut): SqliteValue[][] {
  let combos: Combo[] = [new Array<SqliteValue | undefined>(v.keyCount).fill(undefined)];
  for (const p of v.providers) if (p.kind === 'request') combos = extend(combos, p.key, requestValues(p.value, ctx), fanOut);
  return combos as SqliteValue[][];
}
