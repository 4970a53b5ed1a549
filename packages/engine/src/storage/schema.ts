/**
 * Storage schema (schema `syncline` of the storage database). drizzle-kit generates the SQL
 * migrations in /drizzle from this file (`npm run db:generate`); hot paths use raw SQL against the
 * same tables.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  customType,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  real,
  serial,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const synclineSchema = pgSchema('syncline');

/**
 * Text compared byte-wise (`COLLATE "C"`): bucket names, keys and lookups are identifiers, never
 * sorted for humans, and C collation makes their btree indexes ~40% faster to build than a
 * locale collation (measured on COPY into bucket_data).
 */
const keyText = customType<{ data: string }>({
  dataType: () => 'text COLLATE "C"',
});

/** A 64-bit transaction id (`xid8`), compared with `pg_snapshot` values (pg_visible_in_snapshot). */
const xid8 = customType<{ data: string }>({
  dataType: () => 'xid8',
});

/** Raw bytes (`bytea`), passed as a `\\x…` hex string. */
const bytea = customType<{ data: string }>({
  dataType: () => 'bytea',
});

/** One row per deployed sync-rules version (a replication stream with its own slot and data). */
export const syncRulesVersions = synclineSchema.table('sync_rules_versions', {
  id: serial('id').primaryKey(),
  /** PROCESSING | ACTIVE | STOPPED | ERRORED | TERMINATED */
  state: text('state').notNull(),
  content: text('content').notNull(),
  comment: text('comment'),
  slotName: text('slot_name').notNull(),
  snapshotDone: boolean('snapshot_done').notNull().default(false),
  /** No checkpoint may be created before replication has passed this LSN (end of snapshot). */
  noCheckpointBefore: text('no_checkpoint_before'),
  lastCheckpoint: bigint('last_checkpoint', { mode: 'bigint' }),
  lastCheckpointLsn: text('last_checkpoint_lsn'),
  /** Source LSN up to which changes are durably stored (acknowledged to Postgres only up to here). */
  replicatedLsn: text('replicated_lsn'),
  /** Highest op_id persisted while checkpoints were blocked; folded into the next checkpoint. */
  keepaliveOp: bigint('keepalive_op', { mode: 'bigint' }),
  lastCheckpointAt: timestamp('last_checkpoint_at', { withTimezone: true }),
  lastKeepaliveAt: timestamp('last_keepalive_at', { withTimezone: true }),
  lastFatalError: text('last_fatal_error'),
  /**
   * Secret key of this version's wire subkeys (HMAC of source table id + row key; see
   * opaque-subkey.ts): 244 random bits from gen_random_uuid(), never sent anywhere, so a subkey
   * reveals nothing about the row key and cannot be confirmed by guessing. Null for versions
   * deployed before opaque subkeys: they keep their `<table id>/<key>` subkeys (clients already
   * hold rows under them) until the rules are deployed again.
   */
  subkeySalt: text('subkey_salt').default(sql`replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  activatedAt: timestamp('activated_at', { withTimezone: true }),
  stoppedAt: timestamp('stopped_at', { withTimezone: true }),
  /** Where this version came from: file | api | dashboard | rollback | auto-redeploy (null: deployed before this was recorded). */
  deploySource: text('deploy_source'),
  /**
   * The SYNC_RULES_PATH whose content this version holds: set when deployed from the file, or when
   * the file changed to exactly this version's content (then nothing was redeployed).
   */
  deployPath: text('deploy_path'),
  /** sha256 (hex) of `content`: a file is redeployed at startup only when its hash differs from the last file deploy. */
  contentHash: text('content_hash'),
  /**
   * Fencing token of the replication job: bumped each time a process takes the version's advisory
   * lock; a writer whose token is no longer current cannot commit (see pg-replication-lease.ts).
   */
  leaseEpoch: integer('lease_epoch').notNull().default(0),
});

/** Source tables seen by a version, with their identity and snapshot progress. */
export const sourceTables = synclineSchema.table(
  'source_tables',
  {
    id: serial('id').primaryKey(),
    versionId: integer('version_id').notNull(),
    relationOid: integer('relation_oid').notNull(),
    schemaName: text('schema_name').notNull(),
    tableName: text('table_name').notNull(),
    /** [{name, typeOid}] of the replica identity columns. */
    replicaIdColumns: jsonb('replica_id_columns').notNull(),
    replicaIdentity: text('replica_identity').notNull(),
    snapshotDone: boolean('snapshot_done').notNull().default(false),
    snapshotEstimatedCount: bigint('snapshot_estimated_count', { mode: 'number' }),
    snapshotCount: bigint('snapshot_count', { mode: 'number' }).notNull().default(0),
    /**
     * Resume point of the chunked snapshot: JSON array of the last key copied (key order), or
     * `{"ctid":{"block","relfiles"}}`, the next block to read (whole-row keys; see snapshot-paging.ts).
     */
    snapshotLastKey: text('snapshot_last_key'),
    dropped: boolean('dropped').notNull().default(false),
    /**
     * Set (together with `dropped`) when this mapping was replaced or left the rules while
     * streaming: its rows must still be removed from the buckets. Cleared in the transaction that
     * removes the last row; no checkpoint is created while any table of the version has it set.
     */
    removalPending: boolean('removal_pending').notNull().default(false),
  },
  (t) => [index('source_tables_version_idx').on(t.versionId, t.relationOid)],
);

/** The op-log. op: 1 PUT, 2 REMOVE, 3 MOVE, 4 CLEAR. */
export const bucketData = synclineSchema.table(
  'bucket_data',
  {
    versionId: integer('version_id').notNull(),
    bucket: keyText('bucket').notNull(),
    opId: bigint('op_id', { mode: 'bigint' }).notNull(),
    op: smallint('op').notNull(),
    sourceTable: integer('source_table'),
    sourceKey: text('source_key'),
    tableName: text('table_name'),
    rowId: text('row_id'),
    checksum: bigint('checksum', { mode: 'number' }).notNull(),
    data: text('data'),
    /** For MOVE/CLEAR: the op_id that superseded it (clients must not complete a checkpoint below it). */
    targetOp: bigint('target_op', { mode: 'bigint' }),
    /**
     * The opaque subkey clients receive (opaque-subkey.ts), hashed once when the op is written
     * instead of on every read of it. Null for MOVE/CLEAR, for versions without a salt (their
     * subkeys are not UUIDs) and for ops written before this column: readers hash those.
     */
    subkey: uuid('subkey'),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.bucket, t.opId] })],
);

/** Incrementally maintained per-bucket totals: checksum (mod 2^32) and count of all stored ops. */
export const bucketState = synclineSchema.table(
  'bucket_state',
  {
    versionId: integer('version_id').notNull(),
    bucket: keyText('bucket').notNull(),
    lastOp: bigint('last_op', { mode: 'bigint' }).notNull(),
    checksum: bigint('checksum', { mode: 'number' }).notNull(),
    opCount: bigint('op_count', { mode: 'number' }).notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    liveRows: bigint('live_rows', { mode: 'number' }).notNull().default(0),
    compactedAt: timestamp('compacted_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.bucket] }), index('bucket_state_last_op_idx').on(t.versionId, t.lastOp)],
);

/** Per source row: raw row image (TOAST merge), current bucket memberships and lookups. */
export const currentData = synclineSchema.table(
  'current_data',
  {
    versionId: integer('version_id').notNull(),
    sourceTable: integer('source_table').notNull(),
    /**
     * 128-bit SHA-256 prefix of `source_key` (see source-key-hash.ts): the indexed identity of the
     * row. A REPLICA IDENTITY FULL table without a primary key is keyed by its whole row, which can
     * be far larger than a btree entry may be (~2.7 KB), so the key text itself is not indexed.
     */
    keyHash: bytea('key_hash').notNull(),
    /** The source key (JSON array of the key columns' text values), kept to re-read and delete rows by key. */
    sourceKey: keyText('source_key').notNull(),
    /**
     * JSON object of the row in Postgres text format, kept only when the row is large enough that
     * Postgres may have TOASTed a value (unchanged TOAST values are not re-sent on UPDATE); null
     * otherwise and for REPLICA IDENTITY FULL tables.
     */
    data: text('data'),
    /** JSON text [[bucket, table, id], …] (text, not jsonb: only the replicator reads it, and parsing jsonb on every write was a hot spot). */
    buckets: text('buckets').notNull(),
    /** JSON text [lookupKey, …] */
    lookups: text('lookups').notNull(),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.sourceTable, t.keyHash] })],
);

/** Parameter-lookup index; newest row per (lookup, source row) wins; '[]' is a tombstone. */
export const bucketParameters = synclineSchema.table(
  'bucket_parameters',
  {
    id: bigint('id', { mode: 'bigint' }).primaryKey(),
    versionId: integer('version_id').notNull(),
    sourceTable: integer('source_table').notNull(),
    sourceKey: keyText('source_key').notNull(),
    lookup: keyText('lookup').notNull(),
    bucketParameters: text('bucket_parameters').notNull(),
  },
  (t) => [
    index('bucket_parameters_lookup_idx').on(t.versionId, t.lookup, t.id.desc()),
    index('bucket_parameters_version_id_idx').on(t.versionId, t.id),
  ],
);

/** Managed write checkpoints per `sub[/client_id]`. */
export const writeCheckpoints = synclineSchema.table(
  'write_checkpoints',
  {
    userKey: text('user_key').primaryKey(),
    writeCheckpoint: bigint('write_checkpoint', { mode: 'bigint' }).notNull(),
    /** Source WAL head when the checkpoint was created; released once a checkpoint LSN passes it. */
    lsn: text('lsn').notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull().defaultNow(),
    /**
     * Transaction that last wrote the row: API processes pick up rows committed since their last
     * look (not visible in the snapshot they took then) even when their LSN is already covered.
     */
    xid: xid8('xid').default(sql`pg_current_xact_id()`),
  },
  (t) => [index('write_checkpoints_lsn_idx').on(t.lsn), index('write_checkpoints_xid_idx').on(t.xid)],
);

/** The one op_id sequence shared by all versions (ops, parameter rows, checkpoints). */
export const opIdCounter = synclineSchema.table('op_id_counter', {
  id: integer('id').primaryKey().default(1),
  last: bigint('last', { mode: 'bigint' }).notNull().default(sql`0`),
});

/** Open sync streams across all API processes (for the dashboard). */
export const connections = synclineSchema.table(
  'connections',
  {
    id: text('id').primaryKey(),
    processId: text('process_id').notNull(),
    versionId: integer('version_id'),
    userId: text('user_id').notNull(),
    clientId: text('client_id'),
    userAgent: text('user_agent'),
    transport: text('transport').notNull(),
    connectedAt: timestamp('connected_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    bucketCount: integer('bucket_count').notNull().default(0),
    opsSent: bigint('ops_sent', { mode: 'number' }).notNull().default(0),
    bytesSent: bigint('bytes_sent', { mode: 'number' }).notNull().default(0),
    lastCheckpoint: bigint('last_checkpoint', { mode: 'bigint' }),
    disconnectRequested: boolean('disconnect_requested').notNull().default(false),
  },
  (t) => [index('connections_user_idx').on(t.userId), index('connections_process_idx').on(t.processId)],
);

/** Replication counters per version, flushed periodically by the replicator. */
export const replicationStats = synclineSchema.table('replication_stats', {
  versionId: integer('version_id').primaryKey(),
  rowsReplicated: bigint('rows_replicated', { mode: 'number' }).notNull().default(0),
  opsWritten: bigint('ops_written', { mode: 'number' }).notNull().default(0),
  transactions: bigint('transactions', { mode: 'number' }).notNull().default(0),
  lastCommitAt: timestamp('last_commit_at', { withTimezone: true }),
  lagSeconds: integer('lag_seconds'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Checksum verification runs started from the admin API (one row per run, with progress). */
export const verificationRuns = synclineSchema.table(
  'verification_runs',
  {
    id: serial('id').primaryKey(),
    versionId: integer('version_id').notNull(),
    /** When set, only this user's buckets were verified. */
    userId: text('user_id'),
    /** RUNNING | DONE | FAILED | CANCELLED */
    state: text('state').notNull(),
    /** checksums | rows | done */
    phase: text('phase').notNull(),
    bucketsTotal: integer('buckets_total').notNull().default(0),
    bucketsChecked: integer('buckets_checked').notNull().default(0),
    rowsChecked: bigint('rows_checked', { mode: 'number' }).notNull().default(0),
    checksumMismatches: integer('checksum_mismatches').notNull().default(0),
    rowMismatches: integer('row_mismatches').notNull().default(0),
    /** Buckets the rows phase compared against the op-log. */
    rowBuckets: integer('row_buckets').notNull().default(0),
    error: text('error'),
    processId: text('process_id'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('verification_runs_version_idx').on(t.versionId, t.id)],
);

/** Every mismatch a verification run found (bounded per run). */
export const verificationMismatches = synclineSchema.table(
  'verification_mismatches',
  {
    id: serial('id').primaryKey(),
    runId: integer('run_id').notNull(),
    /** checksum | count | missing_row | unexpected_row | data_differs */
    kind: text('kind').notNull(),
    bucket: keyText('bucket').notNull(),
    tableName: text('table_name'),
    rowId: text('row_id'),
    expected: text('expected'),
    stored: text('stored'),
  },
  (t) => [index('verification_mismatches_run_idx').on(t.runId, t.id)],
);

/** Periodic health samples (replication counters, lag, connections) for the dashboard charts. */
export const healthSamples = synclineSchema.table(
  'health_samples',
  {
    id: serial('id').primaryKey(),
    sampledAt: timestamp('sampled_at', { withTimezone: true }).notNull().defaultNow(),
    versionId: integer('version_id'),
    rowsReplicated: bigint('rows_replicated', { mode: 'number' }).notNull().default(0),
    opsWritten: bigint('ops_written', { mode: 'number' }).notNull().default(0),
    transactions: bigint('transactions', { mode: 'number' }).notNull().default(0),
    opsSynced: bigint('ops_synced', { mode: 'number' }).notNull().default(0),
    connections: integer('connections').notNull().default(0),
    lagSeconds: integer('lag_seconds'),
    lagBytes: bigint('lag_bytes', { mode: 'number' }),
  },
  (t) => [index('health_samples_at_idx').on(t.sampledAt)],
);

/**
 * Every sync-api process (any runner), heartbeated every few seconds by its ProcessRegistry: what
 * the dashboard's Cluster page lists. A row whose heartbeat stopped is shown as gone and deleted
 * after a bound; a cleanly stopped process marks its row `stopped`.
 */
export const processes = synclineSchema.table('processes', {
  /** The process's registry id (also `connections.process_id`). */
  id: text('id').primaryKey(),
  /** PROCESS_NAME. */
  name: text('name').notNull(),
  /** unified | api | replicator */
  runner: text('runner').notNull(),
  /** Package version, with `+<sha>` when SYNCLINE_BUILD_SHA is set. */
  version: text('version').notNull(),
  pid: integer('pid').notNull(),
  host: text('host').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
  /** starting | ready | draining | stopped */
  state: text('state').notNull().default('starting'),
  connections: integer('connections').notNull().default(0),
  rssBytes: bigint('rss_bytes', { mode: 'number' }).notNull().default(0),
  heapUsedBytes: bigint('heap_used_bytes', { mode: 'number' }).notNull().default(0),
  /** CPU time over wall time since the previous heartbeat, in % of one core. */
  cpuPercent: real('cpu_percent').notNull().default(0),
  /** Versions this process replicates (holds the advisory lock of). */
  activeVersions: integer('active_versions').array().notNull().default(sql`'{}'::int[]`),
  /** Versions this replicator waits for (another process holds their lock). */
  standbyVersions: integer('standby_versions').array().notNull().default(sql`'{}'::int[]`),
  /** Source commit → checkpoint delay of the last replicated transaction (max over active versions). */
  replicationLagMs: integer('replication_lag_ms'),
  /**
   * Versions whose op-log this process may still read: the version its API serves and every version
   * an open stream is on (empty for a replicator-only process). The cleanup of a stopped version
   * waits until no live process lists it. NULL: a process from before this column (unknown).
   */
  servingVersions: integer('serving_versions').array(),
});

/** Samples of every process's heartbeat (~every 10 s) for the Cluster page's charts; pruned after 24 h. */
export const processSamples = synclineSchema.table(
  'process_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    processId: text('process_id').notNull(),
    /** Kept with each sample so history outlives the process row. */
    processName: text('process_name').notNull(),
    sampledAt: timestamp('sampled_at', { withTimezone: true }).notNull().defaultNow(),
    connections: integer('connections').notNull(),
    rssBytes: bigint('rss_bytes', { mode: 'number' }).notNull(),
    heapUsedBytes: bigint('heap_used_bytes', { mode: 'number' }).notNull(),
    cpuPercent: real('cpu_percent').notNull(),
    replicationLagMs: integer('replication_lag_ms'),
  },
  (t) => [index('process_samples_at_idx').on(t.sampledAt)],
);
