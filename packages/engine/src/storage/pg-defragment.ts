/**
 * Storage side of defragmentation (PostgreSQL): re-emits a bucket's live rows as fresh PUTs in
 * one transaction per batch and makes them visible. Why this is safe next to the replicator is
 * explained in compaction/defragment.ts; the lock order here is the writer's:
 * op_id_counter → bucket_state → sync_rules_versions.
 */
import type pg from 'pg';
import { CHECKPOINT_CHANNEL } from './checkpoint-notify.ts';
import { inTransaction } from './pg-transaction.ts';
import { OP } from './storage-types.ts';

const U32 = 4294967296n;

export interface LiveRowCopies {
  /** Rows re-emitted by this batch (0: nothing left above `afterOpId`). */
  count: number;
  /** op_id of the last original row copied (the next batch's `afterOpId`). */
  cursor: bigint;
  /** op_id of the last copy. */
  lastOp: bigint;
  /** Checkpoint the copies became visible at, or null when the replicator's next checkpoint covers them. */
  checkpoint: string | null;
}

/**
 * Copies up to `limit` PUTs of `bucket` with afterOpId < op_id ≤ upTo that no later PUT/REMOVE of
 * the same row superseded, as new PUTs with new op_ids, and publishes them. Throws `notServed()`
 * (rolling back) when the version stopped being served.
 */
export async function appendLiveRowCopies(
  pool: pg.Pool,
  versionId: number,
  bucket: string,
  upTo: bigint,
  afterOpId: bigint,
  limit: number,
  notServed: () => Error,
): Promise<LiveRowCopies> {
  return inTransaction(pool, async (client) => {
    const counter = await client.query<{ last: string }>('SELECT last FROM syncline.op_id_counter WHERE id = 1 FOR UPDATE');
    const base = BigInt(counter.rows[0]!.last) + 1n;
    const pendingQ = await client.query<{ ops: string | null; params: string | null }>(
      `SELECT (SELECT max(last_op) FROM syncline.bucket_state WHERE version_id = $1)::text AS ops,
              (SELECT max(id) FROM syncline.bucket_parameters WHERE version_id = $1)::text AS params`,
      [versionId],
    );
    const newestReplicated = [pendingQ.rows[0]?.ops, pendingQ.rows[0]?.params].reduce((m, v) => (v && BigInt(v) > m ? BigInt(v) : m), 0n);
    // Live rows at upTo not replaced since (by the replicator, or by an earlier batch of this run).
    const ins = await client.query<{ cursor: string | null; n: string; s: string | null; bytes: string | null }>(
      `WITH c AS (
         SELECT d.op_id, d.source_table, d.source_key, d.table_name, d.row_id, d.checksum, d.data, d.subkey
           FROM syncline.bucket_data d
          WHERE d.version_id = $1 AND d.bucket = $2 AND d.op_id > $3 AND d.op_id <= $4 AND d.op = ${OP.PUT}
            AND NOT EXISTS (
              SELECT 1 FROM syncline.bucket_data n
               WHERE n.version_id = $1 AND n.bucket = $2 AND n.op_id > $4 AND n.op IN (${OP.PUT}, ${OP.REMOVE})
                 AND n.table_name = d.table_name AND n.row_id = d.row_id
                 AND n.source_table = d.source_table AND n.source_key = d.source_key)
          ORDER BY d.op_id LIMIT $5),
       ins AS (
         INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data, subkey)
         SELECT $1, $2, $6::bigint + row_number() OVER (ORDER BY c.op_id) - 1, ${OP.PUT}, c.source_table, c.source_key, c.table_name, c.row_id, c.checksum, c.data, c.subkey
           FROM c
         RETURNING checksum, coalesce(length(data), 0) AS len)
       SELECT (SELECT max(op_id) FROM c)::text AS cursor, count(*)::text AS n, sum(checksum)::text AS s, sum(len)::text AS bytes FROM ins`,
      [versionId, bucket, afterOpId.toString(), upTo.toString(), limit, base.toString()],
    );
    const row = ins.rows[0]!;
    const count = Number(row.n);
    if (count === 0) return { count: 0, cursor: afterOpId, lastOp: 0n, checkpoint: null };
    const lastOp = base + BigInt(count) - 1n;
    await client.query('UPDATE syncline.op_id_counter SET last = $1 WHERE id = 1', [lastOp.toString()]);
    await client.query(
      `UPDATE syncline.bucket_state SET last_op = $3, checksum = (checksum + $4) % 4294967296, op_count = op_count + $5, bytes = bytes + $6
        WHERE version_id = $1 AND bucket = $2`,
      [versionId, bucket, lastOp.toString(), Number(BigInt(row.s ?? '0') % U32), count, Number(row.bytes ?? 0)],
    );
    const checkpoint = await publishCopies(client, versionId, lastOp, newestReplicated, notServed);
    return { count, cursor: BigInt(row.cursor!), lastOp, checkpoint };
  });
}

/** Makes the copies visible: a checkpoint now when that is consistent, else via keepalive_op. */
async function publishCopies(client: pg.PoolClient, versionId: number, lastOp: bigint, newestReplicated: bigint, notServed: () => Error): Promise<string | null> {
  const { rows } = await client.query<{ state: string; last_checkpoint: string | null; last_checkpoint_lsn: string | null; keepalive_op: string | null }>(
    'SELECT state, last_checkpoint, last_checkpoint_lsn, keepalive_op FROM syncline.sync_rules_versions WHERE id = $1 FOR UPDATE',
    [versionId],
  );
  const v = rows[0];
  if (!v || (v.state !== 'ACTIVE' && v.state !== 'ERRORED') || v.last_checkpoint === null) throw notServed();
  const safe = v.keepalive_op === null && newestReplicated <= BigInt(v.last_checkpoint);
  if (!safe) {
    await client.query(
      'UPDATE syncline.sync_rules_versions SET keepalive_op = greatest(coalesce(keepalive_op, 0), $2::bigint) WHERE id = $1',
      [versionId, lastOp.toString()],
    );
    return null;
  }
  await client.query('UPDATE syncline.sync_rules_versions SET last_checkpoint = $2, last_checkpoint_at = now() WHERE id = $1', [versionId, lastOp.toString()]);
  await client.query('SELECT pg_notify($1, $2)', [
    CHECKPOINT_CHANNEL,
    JSON.stringify({ version: versionId, op_id: lastOp.toString(), lsn: v.last_checkpoint_lsn, activated: false }),
  ]);
  return lastOp.toString();
}
