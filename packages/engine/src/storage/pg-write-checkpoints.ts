/**
 * Managed write checkpoints (read-your-own-writes): an id per `sub[/client_id]` that is released
 * to the client in the first checkpoint whose LSN has passed the source WAL head read when the
 * id was created — or, when its row commits only after such a checkpoint was processed, as soon
 * as an API process sees the row (every write announces itself on WRITE_CHECKPOINT_CHANNEL).
 */
import type pg from 'pg';

/** LISTEN/NOTIFY channel on the storage database: a write checkpoint was created or raised. */
export const WRITE_CHECKPOINT_CHANNEL = 'syncline_write_checkpoints';

type Queryable = pg.Pool | pg.ClientBase;

/** Increments the user's counter and records the head LSN it must wait for. */
export async function createWriteCheckpoint(db: Queryable, userKey: string, headLsn: string): Promise<bigint> {
  const { rows } = await db.query<{ write_checkpoint: string }>(
    `WITH w AS (
       INSERT INTO syncline.write_checkpoints (user_key, write_checkpoint, lsn) VALUES ($1, 1, $2)
       ON CONFLICT (user_key) DO UPDATE SET write_checkpoint = write_checkpoints.write_checkpoint + 1, lsn = excluded.lsn,
         requested_at = now(), xid = excluded.xid
       RETURNING write_checkpoint)
     SELECT write_checkpoint, pg_notify('${WRITE_CHECKPOINT_CHANNEL}', '') FROM w`,
    [userKey, headLsn],
  );
  return BigInt(rows[0]!.write_checkpoint);
}

/** Client-supplied monotonic id (`/sync/checkpoint-request`): applied only if larger. Returns the stored id. */
export async function requestCheckpoint(db: Queryable, userKey: string, id: bigint, headLsn: string): Promise<bigint> {
  const { rows } = await db.query<{ write_checkpoint: string }>(
    `WITH w AS (
       INSERT INTO syncline.write_checkpoints (user_key, write_checkpoint, lsn) VALUES ($1, $2, $3)
       ON CONFLICT (user_key) DO UPDATE SET
         lsn = CASE WHEN excluded.write_checkpoint > write_checkpoints.write_checkpoint THEN excluded.lsn ELSE write_checkpoints.lsn END,
         write_checkpoint = greatest(write_checkpoints.write_checkpoint, excluded.write_checkpoint),
         requested_at = now(), xid = excluded.xid
       RETURNING write_checkpoint)
     SELECT write_checkpoint, pg_notify('${WRITE_CHECKPOINT_CHANNEL}', '') FROM w`,
    [userKey, id.toString(), headLsn],
  );
  return BigInt(rows[0]!.write_checkpoint);
}

/** The user's write checkpoint if released at a checkpoint with this LSN, else null. */
export async function getReleasedWriteCheckpoint(db: Queryable, userKey: string, checkpointLsn: string): Promise<bigint | null> {
  const { rows } = await db.query<{ write_checkpoint: string }>(
    'SELECT write_checkpoint FROM syncline.write_checkpoints WHERE user_key = $1 AND lsn <= $2',
    [userKey, checkpointLsn],
  );
  return rows[0] ? BigInt(rows[0].write_checkpoint) : null;
}

/**
 * Where an API process last looked at write checkpoints: the checkpoint LSN it released up to and
 * the storage snapshot it read in (`pg_snapshot` text).
 */
export interface WriteCheckpointCursor {
  lsn: string;
  snapshot: string;
}

/**
 * Write checkpoints released at checkpoint LSN `curLsn` that the previous look (`since`) did not
 * release: rows it saw whose LSN lies in (since.lsn, curLsn], and rows committed after its
 * snapshot whose LSN is ≤ curLsn — however late their row committed. Returns the new cursor;
 * `since` = null only starts one (nothing released).
 */
export async function getWriteCheckpointsReleasedSince(
  db: Queryable,
  since: WriteCheckpointCursor | null,
  curLsn: string,
): Promise<{ released: Map<string, bigint>; cursor: WriteCheckpointCursor }> {
  // One statement: the snapshot returned is the one the rows were read in.
  const { rows } = await db.query<{ snapshot: string; user_key: string | null; write_checkpoint: string | null }>(
    `SELECT pg_current_snapshot()::text AS snapshot, w.user_key, w.write_checkpoint::text
       FROM (SELECT 1) one
       LEFT JOIN LATERAL (
         SELECT user_key, write_checkpoint FROM syncline.write_checkpoints
          WHERE $1::text IS NOT NULL AND lsn > $1 AND lsn <= $3
         UNION
         SELECT user_key, write_checkpoint FROM syncline.write_checkpoints
          WHERE $2::pg_snapshot IS NOT NULL AND xid >= pg_snapshot_xmin($2::pg_snapshot) AND lsn <= $3
            AND NOT pg_visible_in_snapshot(xid, $2::pg_snapshot)
       ) w ON true`,
    [since?.lsn ?? null, since?.snapshot ?? null, curLsn],
  );
  const released = new Map<string, bigint>();
  for (const r of rows) {
    if (r.user_key === null || r.write_checkpoint === null) continue;
    const v = BigInt(r.write_checkpoint);
    const prev = released.get(r.user_key);
    if (prev === undefined || v > prev) released.set(r.user_key, v);
  }
  return { released, cursor: { lsn: curLsn, snapshot: rows[0]!.snapshot } };
}
