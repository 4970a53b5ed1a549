/**
 * Applies one validated upload batch to the source Postgres for one user: one SQL transaction,
 * ownership checked row by row (a user writes only their own lists and the todos in them), and
 * idempotent — the batch key (user, client id, batch id) is recorded in the same transaction, so a
 * retry after a lost response is acknowledged without applying anything twice. PUTs are upserts
 * and DELETEs are by id, so even replays with a fresh key do not duplicate rows.
 */
import type { Pool, PoolClient } from 'pg';
import type { UploadBatch, UploadOp, UploadValue } from './upload-batch.ts';
import { UploadError } from './upload-errors.ts';

export const UPLOADS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS example_uploads (
  user_id text NOT NULL,
  client_id text NOT NULL,
  batch_id bigint NOT NULL,
  ops integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id, batch_id)
)`;

export interface ApplyResult {
  /** False when this batch was applied before (a retry): nothing was written. */
  applied: boolean;
  ops: number;
}

/** Creates the processed-batch table (idempotent; run at startup). */
export async function ensureUploadsTable(pool: Pool): Promise<void> {
  await pool.query(UPLOADS_TABLE_SQL);
}

export async function applyUpload(pool: Pool, userId: string, batch: UploadBatch): Promise<ApplyResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const fresh = await client.query(
      `INSERT INTO example_uploads (user_id, client_id, batch_id, ops) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1`,
      [userId, batch.clientId, batch.batchId, batch.ops.length],
    );
    if (fresh.rowCount === 0) {
      await client.query('COMMIT');
      return { applied: false, ops: batch.ops.length };
    }
    for (const op of batch.ops) {
      if (op.table === 'lists') await applyListOp(client, userId, op);
      else await applyTodoOp(client, userId, op);
    }
    await client.query('COMMIT');
    return { applied: true, ops: batch.ops.length };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

function forbidden(op: UploadOp, what: string): UploadError {
  return new UploadError('FORBIDDEN', `${op.op} ${op.table}/${op.id} rejected: ${what}. Only the owner may change a list and its todos.`);
}

async function listOwner(client: PoolClient, listId: string): Promise<string | null> {
  const r = await client.query<{ owner_id: string }>(`SELECT owner_id FROM lists WHERE id = $1 FOR UPDATE`, [listId]);
  return r.rows[0]?.owner_id ?? null;
}

/** `SET a = $2, b = $3` for whitelisted columns (names come from upload-batch.ts's whitelist). */
function setClause(data: Record<string, UploadValue>, firstParam: number): { sql: string; values: UploadValue[] } {
  const keys = Object.keys(data);
  return { sql: keys.map((k, i) => `${k} = $${firstParam + i}`).join(', '), values: keys.map((k) => data[k] ?? null) };
}

async function applyListOp(client: PoolClient, userId: string, op: UploadOp): Promise<void> {
  const owner = await listOwner(client, op.id);
  if (owner !== null && owner !== userId) throw forbidden(op, 'the list belongs to another user');
  if (op.data['owner_id'] !== undefined && op.data['owner_id'] !== userId) throw forbidden(op, 'owner_id must be your own user id');
  const data: Record<string, UploadValue> = { ...op.data, owner_id: userId };
  if (op.op === 'DELETE') {
    await client.query(`DELETE FROM lists WHERE id = $1`, [op.id]);
  } else if (op.op === 'PUT') {
    await client.query(
      `INSERT INTO lists (id, owner_id, name, created_at) VALUES ($1, $2, $3, COALESCE($4::timestamptz, now()))
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
      [op.id, userId, data['name'], data['created_at'] ?? null],
    );
  } else if (owner !== null) {
    const set = setClause(data, 2);
    await client.query(`UPDATE lists SET ${set.sql} WHERE id = $1`, [op.id, ...set.values]);
  }
  // A PATCH of a list that no longer exists is a no-op (deleted meanwhile).
}

async function applyTodoOp(client: PoolClient, userId: string, op: UploadOp): Promise<void> {
  const existing = await client.query<{ list_id: string }>(`SELECT list_id FROM todos WHERE id = $1 FOR UPDATE`, [op.id]);
  const currentList = existing.rows[0]?.list_id ?? null;
  if (currentList !== null && (await listOwner(client, currentList)) !== userId) throw forbidden(op, 'the todo is in a list of another user');
  if (op.op === 'DELETE') {
    await client.query(`DELETE FROM todos WHERE id = $1`, [op.id]);
    return;
  }
  const targetList = typeof op.data['list_id'] === 'string' ? op.data['list_id'] : null;
  if (targetList !== null && targetList !== currentList) {
    const owner = await listOwner(client, targetList);
    if (owner === null) throw new UploadError('INVALID_VALUE', `${op.op} todos/${op.id} rejected: list ${targetList} does not exist (deleted meanwhile?).`);
    if (owner !== userId) throw forbidden(op, 'the target list belongs to another user');
  }
  if (op.data['owner_id'] !== undefined && op.data['owner_id'] !== userId) throw forbidden(op, 'owner_id must be your own user id');
  const data: Record<string, UploadValue> = { ...op.data, owner_id: userId };
  if (op.op === 'PUT') {
    await client.query(
      `INSERT INTO todos (id, list_id, owner_id, description, completed, priority, created_at, completed_at)
       VALUES ($1, $2, $3, $4, COALESCE($5::boolean, false), COALESCE($6::integer, 0), COALESCE($7::timestamptz, now()), $8::timestamptz)
       ON CONFLICT (id) DO UPDATE SET list_id = EXCLUDED.list_id, description = EXCLUDED.description, completed = EXCLUDED.completed,
         priority = EXCLUDED.priority, completed_at = EXCLUDED.completed_at`,
      [op.id, data['list_id'], userId, data['description'], data['completed'] ?? null, data['priority'] ?? null, data['created_at'] ?? null, data['completed_at'] ?? null],
    );
  } else if (currentList !== null) {
    const set = setClause(data, 2);
    await client.query(`UPDATE todos SET ${set.sql} WHERE id = $1`, [op.id, ...set.values]);
  }
}
