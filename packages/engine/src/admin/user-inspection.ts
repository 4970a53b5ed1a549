/**
 * Per-user inspection: the buckets a user gets for a request (claims, client parameters, stream
 * subscriptions, include_defaults) with stream, priority, reasons (`default` / `sub i`) and the
 * stored totals of bucket_state; per subscription what it yields and its errors; the parameter
 * lookups that produced them; and a bucket's ops page by page.
 */
import { parseLosslessJson, ServiceError } from '@syncline/protocol';
import {
  TooManyBucketsError,
  TooManyParameterResultsError,
  type BucketDescription,
  type ParameterLookup,
  type SqliteRow,
  type SqliteValue,
  type StreamDescription,
  type StreamsRequest,
  type SubscriptionReason,
  type SyncRules,
} from '../sync-rules/index.ts';
import { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import { storedOpSubkey } from '../replication/opaque-subkey.ts';
import { getBucketStates, listBucketOpsAfter, listBucketStates } from '../storage/pg-bucket-inspection.ts';
import { getSubkeySalt } from '../storage/pg-versions.ts';
import { listParameterSources } from '../storage/pg-parameter-sources.ts';
import { OP_NAMES, type OpName } from '../storage/storage-types.ts';
import { idText, loadVersion, type AdminDeps } from './admin-deps.ts';
import { streamOfBucket } from './sync-rules-text.ts';

export interface UserSubscription {
  stream: string;
  /** Subscription parameters (`subscription.parameters()`); null/absent = `{}` as on the wire. */
  parameters?: Record<string, unknown> | null;
  overridePriority?: 0 | 1 | 2 | 3 | null;
}

export interface UserRequest {
  userId: string;
  /** Extra JWT claims (besides `sub`). */
  claims?: Record<string, unknown>;
  /** Client parameters as a client would send them. */
  clientParameters?: Record<string, unknown>;
  /** Explicit stream subscriptions, as a client sends them in `streams.subscriptions` (index = `sub i`). */
  subscriptions?: UserSubscription[];
  /** false drops default streams (`auto_subscribe`) and legacy bucket definitions. Default true. */
  includeDefaults?: boolean;
  versionId?: number | null;
}

export interface LookupResult {
  key: string;
  definition: string | null;
  queryId: string | null;
  values: unknown[];
  /** Parameter rows found in the parameter index at the checkpoint. */
  results: unknown[];
  /**
   * Source rows behind the results (the joined / subquery rows), when read from stored versions:
   * `id` is the key value (a JSON array for composite keys), as the row lookup takes it.
   */
  sources: Array<{ schema: string; table: string; id: string }>;
}

/** At most this many source rows are listed behind a user's lookups. */
const MAX_LOOKUP_SOURCES = 500;

/** Why a user has a bucket, readable: `default` (a default stream / bucket definition) or `sub i`. */
export type ReasonLabel = 'default' | `sub ${number}`;

export interface UserBucket {
  bucket: string;
  definition: string;
  /** Stream (or bucket definition) name from the bucket id. */
  stream: string;
  priority: number;
  /** Every reason the user has the bucket (explicit subscriptions first). */
  reasons: ReasonLabel[];
  opCount: number;
  liveRows: number;
  checksum: number;
  bytes: number;
  lastOp: string | null;
}

/** One explicit subscription of the request and what it yields. */
export interface SubscriptionResult {
  index: number;
  stream: string;
  parameters: Record<string, unknown>;
  overridePriority: number | null;
  /** The stream exists in the version's rules (unknown streams are ignored, as on the wire). */
  known: boolean;
  /** Buckets this subscription yields (possibly shared with others). */
  buckets: string[];
  /** Lowest priority number among its buckets (after merging); null without buckets. */
  priority: number | null;
  /** Errors of this subscription (`checkpoint.streams[].errors`). */
  errors: string[];
}

/** A default stream (auto_subscribe or bucket definition) and what its implicit subscription yields. */
export interface DefaultStreamResult {
  stream: string;
  buckets: string[];
  errors: string[];
}

export interface UserInspection {
  versionId: number;
  checkpoint: string | null;
  userId: string;
  includeDefaults: boolean;
  buckets: UserBucket[];
  subscriptions: SubscriptionResult[];
  defaults: DefaultStreamResult[];
  /** `checkpoint.streams` as the sync endpoint would send it. */
  streams: StreamDescription[];
  lookups: LookupResult[];
  /** Set when the user would be refused (e.g. too many buckets). */
  error: string | null;
}

/** JSON-safe form of a SQLite value (bigint → number when safe, else string; blobs → marker). */
export function jsonValue(v: SqliteValue | unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return `<blob ${v.length} bytes>`;
  return v;
}

export function jsonRow(row: SqliteRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in row) out[k] = jsonValue(row[k]);
  return out;
}

export function reasonLabel(r: SubscriptionReason): ReasonLabel {
  return 'sub' in r ? `sub ${r.sub}` : 'default';
}

/** The request's `streams` as the sync endpoint builds it (`null` parameters arrive as `{}`). */
export function userStreamsRequest(req: UserRequest): StreamsRequest {
  return {
    includeDefaults: req.includeDefaults ?? true,
    subscriptions: (req.subscriptions ?? []).map((s) => ({ stream: s.stream, parameters: s.parameters ?? {}, overridePriority: s.overridePriority ?? null })),
  };
}

export interface ResolvedUser {
  buckets: BucketDescription[];
  streams: StreamDescription[];
  lookups: LookupResult[];
  /** Lookups whose change re-resolves the user (after resolution: all it read). */
  readLookups: string[];
  error: string | null;
}

/** Resolves the user's buckets at the version's checkpoint, recording every lookup and its result. */
export async function resolveUserBuckets(deps: AdminDeps, rules: SyncRules, versionId: number, checkpoint: bigint | null, req: UserRequest): Promise<ResolvedUser> {
  const reader = new PgBucketReader(deps.storage);
  const resolved = await resolveWith(rules, req, async (keys) => (checkpoint === null ? new Map<string, string[]>() : reader.getParameterSets(versionId, keys, checkpoint)));
  if (checkpoint !== null && resolved.lookups.length > 0) {
    const byKey = new Map(resolved.lookups.map((l) => [l.key, l]));
    for (const s of await listParameterSources(deps.storage, versionId, [...byKey.keys()], checkpoint, MAX_LOOKUP_SOURCES)) {
      byKey.get(s.lookup)?.sources.push({ schema: s.schema, table: s.table, id: keyId(s.sourceKey) });
    }
  }
  return resolved;
}

/** A stored source key (JSON array of key values) as the row lookup takes it: the value, or the array. */
function keyId(sourceKey: string): string {
  try {
    const v = JSON.parse(sourceKey) as unknown;
    if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
  } catch {
    /* shown as stored */
  }
  return sourceKey;
}

/**
 * Resolves a user against any parameter store (`load` returns the JSON parameter rows per key):
 * the stored index for deployed versions, an in-memory one for impact previews.
 */
export async function resolveWith(rules: SyncRules, req: UserRequest, load: (keys: string[]) => Promise<Map<string, string[]>>): Promise<ResolvedUser> {
  const querier = rules.createQuerier({
    userId: req.userId,
    jwtClaims: { ...req.claims, sub: req.userId },
    clientParameters: req.clientParameters ?? {},
    streams: userStreamsRequest(req),
  });
  const lookups: LookupResult[] = [];
  const seen = new Set<string>();
  const source = async (ls: ParameterLookup[]): Promise<SqliteRow[][]> => {
    const sets = await load(ls.map((l) => l.key));
    return ls.map((l) => {
      const rows = (sets.get(l.key) ?? []).flatMap((json) => parseLosslessJson(json) as unknown as SqliteRow[]);
      if (!seen.has(l.key)) {
        seen.add(l.key);
        lookups.push({ key: l.key, definition: l.definition ?? null, queryId: l.queryId ?? null, values: (l.values ?? []).map(jsonValue), results: rows.map(jsonRow), sources: [] });
      }
      return rows;
    });
  };
  try {
    const buckets = await querier.resolveBuckets(source);
    return { buckets, streams: querier.streams, lookups, readLookups: querier.lookups.map((l) => l.key), error: null };
  } catch (e) {
    if (e instanceof TooManyBucketsError || e instanceof TooManyParameterResultsError) return { buckets: [], streams: querier.streams, lookups, readLookups: [], error: e.message };
    throw e;
  }
}

/** Per explicit subscription and per default stream: buckets, merged priority, errors. */
export function subscriptionResults(req: UserRequest, resolved: ResolvedUser): { subscriptions: SubscriptionResult[]; defaults: DefaultStreamResult[] } {
  const known = new Set(resolved.streams.map((s) => s.name));
  const subscriptions = userStreamsRequest(req).subscriptions.map((s, index): SubscriptionResult => {
    const mine = resolved.buckets.filter((b) => b.reasons.some((r) => 'sub' in r && r.sub === index));
    return {
      index,
      stream: s.stream,
      parameters: s.parameters,
      overridePriority: s.overridePriority,
      known: known.has(s.stream),
      buckets: mine.map((b) => b.bucket),
      priority: mine.length ? Math.min(...mine.map((b) => b.priority)) : null,
      errors: resolved.streams.flatMap((d) => d.errors.filter((e) => e.subscription === index).map((e) => e.message)),
    };
  });
  const defaults = resolved.streams.flatMap((d, k): DefaultStreamResult[] =>
    d.isDefault
      ? [{ stream: d.name, buckets: resolved.buckets.filter((b) => b.reasons.some((r) => 'default' in r && r.default === k)).map((b) => b.bucket), errors: d.errors.filter((e) => e.subscription === 'default').map((e) => e.message) }]
      : [],
  );
  return { subscriptions, defaults };
}

export async function inspectUser(deps: AdminDeps, req: UserRequest): Promise<UserInspection> {
  const { version, rules } = await loadVersion(deps, req.versionId);
  const checkpoint = version.lastCheckpoint;
  const resolved = await resolveUserBuckets(deps, rules, version.id, checkpoint, req);
  const state = await getBucketStates(deps.storage, version.id, resolved.buckets.map((b) => b.bucket));
  const buckets = resolved.buckets
    .map((b): UserBucket => {
      const s = state.get(b.bucket);
      return {
        bucket: b.bucket,
        definition: b.definition,
        stream: streamOfBucket(b.bucket),
        priority: b.priority,
        reasons: b.reasons.map(reasonLabel),
        opCount: s?.opCount ?? 0,
        liveRows: s?.liveRows ?? 0,
        checksum: s?.checksum ?? 0,
        bytes: s?.bytes ?? 0,
        lastOp: s?.lastOp ?? null,
      };
    })
    .sort((a, b) => a.priority - b.priority || a.bucket.localeCompare(b.bucket));
  return {
    versionId: version.id,
    checkpoint: idText(checkpoint),
    userId: req.userId,
    includeDefaults: req.includeDefaults ?? true,
    buckets,
    ...subscriptionResults(req, resolved),
    streams: resolved.streams,
    lookups: resolved.lookups,
    error: resolved.error,
  };
}

export interface BucketListPage {
  versionId: number;
  buckets: Array<{ bucket: string; opCount: number; liveRows: number; checksum: number; bytes: number; lastOp: string }>;
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

/** All buckets of a version in name order (keyset pagination on the primary key), optional prefix. */
export async function listBuckets(deps: AdminDeps, opts: { versionId?: number | null; prefix?: string; after?: string; limit?: number }): Promise<BucketListPage> {
  const { version } = await loadVersion(deps, opts.versionId);
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const prefix = opts.prefix ?? '';
  const rows = await listBucketStates(deps.storage, version.id, { after: opts.after ?? '', prefix, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return { versionId: version.id, buckets: page, next: rows.length > limit ? page[page.length - 1]!.bucket : null };
}

export interface BucketOp {
  opId: string;
  op: OpName;
  table: string | null;
  rowId: string | null;
  subkey: string | null;
  checksum: number;
  data: string | null;
  targetOp: string | null;
}

export interface BucketOpsPage {
  versionId: number;
  bucket: string;
  ops: BucketOp[];
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

/** Ops of one bucket in op_id order, paginated by op_id, optionally filtered by op type and row id. */
export async function listBucketOps(
  deps: AdminDeps,
  opts: { versionId?: number | null; bucket: string; after?: string | null; limit?: number; op?: OpName | null; rowId?: string | null },
): Promise<BucketOpsPage> {
  const { version } = await loadVersion(deps, opts.versionId);
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  if (opts.after && !/^\d{1,20}$/.test(opts.after)) throw new ServiceError('BAD_REQUEST', '"after" must be an op id (digits).');
  const salt = await getSubkeySalt(deps.storage, version.id);
  const rows = await listBucketOpsAfter(deps.storage, version.id, { bucket: opts.bucket, afterOpId: opts.after ?? '0', limit: limit + 1, op: opts.op ?? null, rowId: opts.rowId || null });
  const ops = rows.slice(0, limit).map(({ sourceTable, sourceKey, subkey, op, ...r }) => ({
    ...r,
    op: OP_NAMES[op],
    // The subkey clients receive (opaque for versions with a salt), so operators can match ops they see on clients.
    subkey: storedOpSubkey(salt, subkey, sourceTable, sourceKey),
  }));
  return { versionId: version.id, bucket: opts.bucket, ops, next: rows.length > limit ? ops[ops.length - 1]!.opId : null };
}
