/**
 * Public contract of the sync-rules engine. The replicator (engine/src/replication) and the
 * sync stream (engine/src/sync) program against these types only; everything else in
 * `sync-rules/` is an implementation detail. Pure: no I/O anywhere in this folder.
 */

/** A value in SQLite's type system, as rows are stored on clients. bigint = INTEGER. */
export type SqliteValue = string | number | bigint | Uint8Array | null;
/** number = REAL, bigint = INTEGER. A row keeps column order. */
export type SqliteRow = Record<string, SqliteValue>;

/** Identifies a source table. */
export interface SourceTableRef {
  schema: string;
  name: string;
}

/** A table pattern as written in sync rules: `name` may end with `%` (wildcard prefix). */
export interface TablePattern {
  schema: string;
  /** Exact table name, or prefix when `isWildcard`. */
  tablePattern: string;
  isWildcard: boolean;
}

/** One output of a data query for one source row. */
export interface EvaluatedRow {
  /** Full bucket id including the versioned prefix, e.g. `3#by_user["u1"]`. */
  bucket: string;
  /** Output table name (`object_type` on the wire). */
  table: string;
  /** Output `id` as text (`object_id`); '' when the row has no id. */
  id: string;
  /** Row JSON exactly as sent to clients (lossless writer, blobs stripped, query column order). */
  data: string;
}

/** A parameter-lookup key: definition + query + the values the WHERE clause matches on. */
export interface ParameterLookup {
  /** Stable serialisation, used as the storage key (e.g. `by_list|0|["u1"]`). */
  key: string;
  /** Definition name the lookup belongs to (informational; `key` is authoritative). */
  definition?: string;
  /** Parameter query id within the definition: `"0"`, `"1"`… or `"0.1"` for OR branches. */
  queryId?: string;
  /** The matched values, in the query's match order (normalised as in bucket ids). */
  values?: SqliteValue[];
}

/** Output of a table-based parameter query for one source row. */
export interface EvaluatedParameters {
  lookup: ParameterLookup;
  /** Bucket parameter rows this source row contributes under that lookup key. */
  bucketParameters: SqliteRow[];
}

/** Why a connection has a bucket: `{default: k}` = index k in {@link BucketQuerier.streams}; `{sub: i}` = request subscription i. */
export type SubscriptionReason = { default: number } | { sub: number };

/** A bucket a connection is allowed to sync. */
export interface BucketDescription {
  bucket: string;
  /** Merged priority: the minimum over every reason. */
  priority: 0 | 1 | 2 | 3;
  /** Bucket definition or stream name it came from (the first, when shared). */
  definition: string;
  /** Every reason the connection has this bucket: explicit subscriptions first, then defaults. */
  reasons: SubscriptionReason[];
}

/** One explicit stream subscription of a request (wire `streams.subscriptions[i]`; i is its id). */
export interface StreamSubscription {
  stream: string;
  /** Subscription parameters; the wire's `null` arrives here as `{}`. */
  parameters: Record<string, unknown>;
  overridePriority: 0 | 1 | 2 | 3 | null;
}

/** The request's `streams` field. Absent on the wire = `{ includeDefaults: true, subscriptions: [] }`. */
export interface StreamsRequest {
  /** false drops `auto_subscribe` streams and legacy bucket definitions. */
  includeDefaults: boolean;
  subscriptions: StreamSubscription[];
}

/** One entry of `checkpoint.streams` (first checkpoint of a connection only). */
export interface StreamDescription {
  name: string;
  /** Mirrors `auto_subscribe` (legacy bucket definitions: true). */
  isDefault: boolean;
  /** Per-subscription errors: `'default'` for the implicit subscription, else the request index. */
  errors: Array<{ subscription: 'default' | number; message: string }>;
}

/** What the sync endpoint knows about a connection when resolving buckets. */
export interface RequestParameters {
  /** JWT `sub`. */
  userId: string;
  /** Full JWT payload (claims). */
  jwtClaims: Record<string, unknown>;
  /** Client-supplied, unauthenticated parameters from the sync request (`connection.parameters()`). */
  clientParameters: Record<string, unknown>;
  /** Sync Streams subscriptions; absent = defaults only. */
  streams?: StreamsRequest;
}

/** Limits a querier enforces while resolving (sync-stream passes the configured values). */
export interface QuerierLimits {
  /** Max buckets per connection (TooManyBucketsError above it). */
  maxBuckets?: number;
  /**
   * Max parameter-lookup rows. Legacy bucket definitions count together and throw
   * TooManyParameterResultsError; each stream subscription counts alone and, above the limit,
   * yields no buckets and an error in {@link BucketQuerier.streams} instead.
   */
  maxParameterResults?: number;
}

/**
 * Looks up parameter rows for many keys at once (at one checkpoint). Must return one array per
 * requested lookup, in the same order. A querier may call it several times per resolution
 * (stream lookup stages feed each other; each subscription is looked up on its own). The caller
 * may stop loading after `maxParameterResults + 1` rows per call.
 */
export type ParameterLookupSource = (lookups: ParameterLookup[]) => Promise<SqliteRow[][]>;

export interface BucketQuerier {
  /** Buckets that depend only on the request (computed once per connection). */
  readonly staticBuckets: BucketDescription[];
  /** True when table-based parameter queries are involved and lookups must be re-run per checkpoint. */
  readonly hasDynamicBuckets: boolean;
  /**
   * Lookups whose change means the bucket set must be resolved again: before the first
   * resolution the first-stage lookups; afterwards every lookup the last resolution read.
   */
  readonly lookups: ParameterLookup[];
  /**
   * `checkpoint.streams`: in config order, the default streams / legacy definitions (when
   * defaults are included) plus every known stream a subscription names. Errors found while
   * building the querier are here at once; errors of a resolution are added by it.
   */
  readonly streams: StreamDescription[];
  /** All buckets (static + dynamic), de-duplicated: reasons merged, lowest priority number wins. */
  resolveBuckets(source: ParameterLookupSource): Promise<BucketDescription[]>;
}

/** Level + position for validation issues. Line/column are 1-based positions in the YAML text. */
export interface SyncRulesIssue {
  level: 'fatal' | 'warning';
  message: string;
  /** Stable code, e.g. `SYNC_RULES_SQL_UNSUPPORTED`. */
  code: string;
  location?: { line: number; column: number; startOffset: number; endOffset: number };
}

/** Postgres schema information for schema-aware validation (optional). */
export interface SourceSchema {
  tables: Array<{ schema: string; name: string; columns: Array<{ name: string; pgType: string }> }>;
}

export interface CompileOptions {
  /**
   * Sync-rules version id (the deployed version's numeric id). Used as the `<id>#` bucket prefix
   * when versioned bucket ids are on (the default from edition 2).
   */
  versionId: number;
  /** Default schema for unqualified table names. Default `public`. */
  defaultSchema?: string;
  /** Source schema for schema-aware validation warnings. */
  schema?: SourceSchema;
  /** Max buckets per connection for resolveBuckets (default 10,000). */
  maxBuckets?: number;
}
