/**
 * Syncline's internal tables (all prefixed `sl_`) and their migrations.
 *
 * | table | purpose |
 * |---|---|
 * | `sl_kv` | key/value state: `client_id`, write-checkpoint gate (`target_write_checkpoint`, `last_seen_write_checkpoint`) |
 * | `sl_buckets` | one row per downloaded bucket: positions (`last_op`, `last_applied_op`), checksum parts, progress counters |
 * | `sl_oplog` | the reduced op log: the latest live PUT per (bucket, row key = type/id/subkey; the subkey column holds the last part); indexed by (bucket, op_id) and by row (type, id, bucket, op_id) |
 * | `sl_updated_rows` | rows to re-evaluate at the next complete apply (local writes, removed/cleared buckets) |
 * | `sl_crud` | the upload queue (FIFO by AUTOINCREMENT id, grouped by `tx_id`) |
 * | `sl_tx` | transaction-id counter for `sl_crud` (`current_tx` is non-NULL only inside a writing transaction) |
 * | `sl_untyped` | synced rows whose type has no table in the current schema |
 * | `sl_sync_state` | last sync time per priority (2147483647 = complete sync), survives restarts |
 * | `sl_tab_commits` | browser multi-tab only, created by the leader tab: markers of committed follower transactions (see `adapters/browser/multi-tab-adapter.ts`) |
 * | `sl_stream_subscriptions` | Sync Streams subscriptions per (stream, canonical params): explicit + TTL/expiry, server state, last sync (all times in ms) |
 */
import type { SqliteAdapter } from '../db/sqlite-adapter.ts';

/** Sentinel stored as the gate target while local writes have not been acknowledged. */
export const MAX_OP_ID = 9223372036854775807n;
/** Priority number recording a complete (all priorities) sync. */
export const FULL_SYNC_PRIORITY = 2147483647;

export const KV = {
  clientId: 'client_id',
  target: 'target_write_checkpoint',
  lastSeen: 'last_seen_write_checkpoint',
  lastApplied: 'last_applied_write_checkpoint',
} as const;

const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE sl_kv (key TEXT PRIMARY KEY NOT NULL, value)`,
    `CREATE TABLE sl_buckets (
       id INTEGER PRIMARY KEY,
       name TEXT NOT NULL UNIQUE,
       last_applied_op INTEGER NOT NULL DEFAULT 0,
       last_op INTEGER NOT NULL DEFAULT 0,
       add_checksum INTEGER NOT NULL DEFAULT 0,
       op_checksum INTEGER NOT NULL DEFAULT 0,
       count_at_last INTEGER NOT NULL DEFAULT 0,
       count_since_last INTEGER NOT NULL DEFAULT 0,
       downloaded_bytes INTEGER NOT NULL DEFAULT 0)`,
    `CREATE TABLE sl_oplog (
       bucket INTEGER NOT NULL,
       op_id INTEGER NOT NULL,
       row_type TEXT NOT NULL,
       row_id TEXT NOT NULL,
       key TEXT NOT NULL,
       data TEXT NOT NULL,
       hash INTEGER NOT NULL)`,
    `CREATE UNIQUE INDEX sl_oplog_by_key ON sl_oplog (bucket, key)`,
    `CREATE INDEX sl_oplog_by_op ON sl_oplog (bucket, op_id)`,
    `CREATE INDEX sl_oplog_by_row ON sl_oplog (row_type, row_id, op_id)`,
    `CREATE TABLE sl_updated_rows (row_type TEXT NOT NULL, row_id TEXT NOT NULL, PRIMARY KEY (row_type, row_id)) WITHOUT ROWID`,
    `CREATE TABLE sl_crud (id INTEGER PRIMARY KEY AUTOINCREMENT, tx_id INTEGER, data TEXT NOT NULL)`,
    `CREATE TABLE sl_tx (id INTEGER PRIMARY KEY, next_tx INTEGER NOT NULL, current_tx INTEGER)`,
    `INSERT INTO sl_tx (id, next_tx, current_tx) VALUES (1, 1, NULL)`,
    `CREATE TABLE sl_untyped (type TEXT NOT NULL, id TEXT NOT NULL, data TEXT, PRIMARY KEY (type, id))`,
    `CREATE TABLE sl_sync_state (priority INTEGER PRIMARY KEY, last_synced_at INTEGER NOT NULL)`,
  ],
  [
    // explicit = subscribe() was called and the subscription has not expired; ttl_ms NULL on an
    // explicit row = never expires. Times are milliseconds since the epoch.
    `CREATE TABLE sl_stream_subscriptions (
       id INTEGER PRIMARY KEY,
       stream_name TEXT NOT NULL,
       params TEXT NOT NULL DEFAULT 'null',
       explicit INTEGER NOT NULL DEFAULT 0,
       ttl_ms INTEGER,
       expires_at INTEGER,
       local_priority INTEGER,
       active INTEGER NOT NULL DEFAULT 0,
       is_default INTEGER NOT NULL DEFAULT 0,
       last_synced_at INTEGER,
       UNIQUE (stream_name, params))`,
  ],
  [
    // One row-ordered index instead of two (by (bucket, key) and by (row_type, row_id, op_id)):
    // with random row ids every insert of a large download touched two random places in two
    // B-trees bigger than the page cache. This one serves the key lookups of the reduction (row
    // type and id are known from the op) and the winner lookups of the apply (covering, op_id
    // included). (bucket, key) stays unique through the reduction (bucket-storage.ts), not a
    // constraint.
    `DROP INDEX IF EXISTS sl_oplog_by_key`,
    `DROP INDEX IF EXISTS sl_oplog_by_row`,
    `CREATE INDEX IF NOT EXISTS sl_oplog_by_row_key ON sl_oplog (row_type, row_id, bucket, key, op_id)`,
  ],
  [
    // The same row order without the key: the key (type/id/subkey, ~80 B with UUID ids and opaque
    // subkeys) repeated type and id and made this the largest B-tree a download writes. Key
    // lookups find a row's ops in a bucket through (row_type, row_id, bucket) and compare the key
    // on the table row (a row has one op per bucket and subkey, almost always one in total).
    `DROP INDEX IF EXISTS sl_oplog_by_row_key`,
    `CREATE INDEX IF NOT EXISTS sl_oplog_by_row_bucket ON sl_oplog (row_type, row_id, bucket, op_id)`,
  ],
  [
    // The op log keeps the subkey instead of the whole key `type/id/subkey`: type and id are
    // columns already, so the key repeated them in every row (~15–25 B per op of a download,
    // written to the WAL and again to the database file). Existing keys are cut after
    // `type/id/` (SQLite counts characters in both length() and substr()).
    `ALTER TABLE sl_oplog RENAME COLUMN key TO subkey`,
    `UPDATE sl_oplog SET subkey = substr(subkey, length(row_type) + length(row_id) + 3)`,
  ],
];

export const INTERNAL_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the internal tables to the latest version. Call inside a write transaction. */
export async function migrateInternalSchema(db: SqliteAdapter, newClientId: () => string): Promise<void> {
  await db.execute(`CREATE TABLE IF NOT EXISTS sl_migrations (version INTEGER PRIMARY KEY)`);
  const { rows } = await db.execute(`SELECT coalesce(max(version), 0) AS v FROM sl_migrations`);
  const current = Number(rows[0]?.['v'] ?? 0);
  for (let version = current + 1; version <= MIGRATIONS.length; version++) {
    for (const sql of MIGRATIONS[version - 1] ?? []) await db.execute(sql);
    await db.execute(`INSERT INTO sl_migrations (version) VALUES (?)`, [version]);
  }
  await db.execute(`INSERT OR IGNORE INTO sl_kv (key, value) VALUES (?, ?)`, [KV.clientId, newClientId()]);
  // A crash inside a writing transaction rolls `current_tx` back; this only repairs foreign writers.
  await db.execute(`UPDATE sl_tx SET current_tx = NULL WHERE current_tx IS NOT NULL`);
}
