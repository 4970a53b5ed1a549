/**
 * Managed write checkpoints (read-your-own-writes): an id per `sub[/client_id]` that is released
 * to the client in the first checkpoint whose LSN has passed the source WAL head read when the
 * id was created.
 */
import type pg from 'pg';

type Queryable = pg.Pool | pg.ClientBase;

/** Increments the user's counter and records the head LSN it must wait for. */
export async function createWriteCheckpoint(db: Queryable, userKey: string, headLsn: string): Promise<bigint> {
  const { rows } = await db.query<{ write_checkpoint: string }>(
    `INSERT INTO syncline.write_checkpoints (user_key, write_checkpoint, lsn) VALUES ($1, 1, $2)
     ON CONFLICT (user_key) DO UPDATE SET write_checkpoint = write_checkpoints.write_checkpoint + 1, lsn = excluded.lsn, requested_at = now()
     RETURNING write_checkpoint`,
    [userKey, headLsn],
  );
  return BigInt(rows[0]!.write_checkpoint);
}

/** Client-supplied monotonic id (`/sync/checkpoint-request`): applied only if larger. Returns the stored id. */
export async function requestCheckpoint(db: Queryable, userKey: string, id: bigint, headLsn: string): Promise<bigint> {
  const { rows } = await db.query<{ write_checkpoint: string }>(
    `INSERT INTO syncline.write_checkpoints (user_key, write_checkpoint, lsn) VALUES ($1, $2, $3)
     ON CONFLICT (user_key) DO UPDATE SET
       lsn = CASE WHEN excluded.write_checkpoint > write_checkpoints.write_checkpoint THEN excluded.lsn ELSE write_checkpoints.lsn END,
       write_checkpoint = greatest(write_checkpoints.write_checkpoint, excluded.write_checkpoint),
       requested_at = now()
     RETURNING write_checkpoint`,
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

/** Write checkpoints released between two checkpoint LSNs (prev, cur]. */
export async function getWriteCheckpointsReleasedBetween(db: Queryable, prevLsn: string, curLsn: string): Promise<Map<string, bigint>> {
  const { rows } = await db.query<{ user_key: string; write_checkpoint: string }>(
    'SELECT user_key, write_checkpoint FROM syncline.write_checkpoints WHERE lsn > $1 AND lsn <= $2',
    [prevLsn, curLsn],
  );
  return new Map(rows.map((r) => [r.user_key, BigInt(r.write_checkpoint)]));
}
