/**
 * Checkpoint advance of one version, inside the storage transaction that stored the changes up to
 * a source commit (PostgreSQL storage).
 */
import type pg from 'pg';
import { normalizeLsn } from '../replication/lsn.ts';
import { CHECKPOINT_CHANNEL } from './checkpoint-notify.ts';

export interface CheckpointAdvance {
  checkpoint: { opId: bigint; lsn: string } | null;
  activated: boolean;
}

/**
 * Advances `(last_checkpoint, lsn)` when the version is consistent (snapshot done, no table
 * snapshot or row removal pending, and past `no_checkpoint_before`); otherwise remembers the ops so the first allowed checkpoint covers
 * them. The first checkpoint of a PROCESSING version activates it and stops the others.
 */
export async function advanceCheckpoint(client: pg.PoolClient, versionId: number, lsnRaw: string, persisted: bigint): Promise<CheckpointAdvance> {
  const lsn = normalizeLsn(lsnRaw);
  const { rows } = await client.query<{
    state: string;
    snapshot_done: boolean;
    no_checkpoint_before: string | null;
    last_checkpoint: string | null;
    last_checkpoint_lsn: string | null;
    keepalive_op: string | null;
    tables_pending: boolean;
  }>(
    // tables_pending: a table snapshot or a retired mapping's row removal is unfinished (e.g. after
    // a crash inside an inline snapshot); a checkpoint now would show clients a half-copied table.
    `SELECT state, snapshot_done, no_checkpoint_before, last_checkpoint, last_checkpoint_lsn, keepalive_op,
            EXISTS (SELECT 1 FROM syncline.source_tables t
                     WHERE t.version_id = v.id AND ((NOT t.snapshot_done AND NOT t.dropped) OR t.removal_pending)) AS tables_pending
       FROM syncline.sync_rules_versions v WHERE id = $1 FOR UPDATE OF v`,
    [versionId],
  );
  const v = rows[0];
  if (!v) throw new Error(`sync rules version ${versionId} disappeared`);
  const keepaliveOp = v.keepalive_op ? BigInt(v.keepalive_op) : 0n;
  const canCheckpoint =
    v.snapshot_done &&
    !v.tables_pending &&
    (v.no_checkpoint_before === null || lsn >= v.no_checkpoint_before) &&
    (v.last_checkpoint_lsn === null || lsn >= v.last_checkpoint_lsn);
  if (!canCheckpoint) {
    const newKeepalive = persisted > keepaliveOp ? persisted : keepaliveOp;
    await client.query(
      `UPDATE syncline.sync_rules_versions SET keepalive_op = $2, last_keepalive_at = now(),
              replicated_lsn = greatest(coalesce(replicated_lsn, ''), $3) WHERE id = $1`,
      [versionId, newKeepalive === 0n ? null : newKeepalive.toString(), lsn],
    );
    return { checkpoint: null, activated: false };
  }
  let opId = v.last_checkpoint ? BigInt(v.last_checkpoint) : 0n;
  if (persisted > opId) opId = persisted;
  if (keepaliveOp > opId) opId = keepaliveOp;
  const changed = opId.toString() !== (v.last_checkpoint ?? '') || lsn !== v.last_checkpoint_lsn;
  let activated = false;
  if (v.state === 'PROCESSING') {
    await client.query(
      `UPDATE syncline.sync_rules_versions SET state = 'STOPPED', stopped_at = now()
        WHERE id <> $1 AND state IN ('ACTIVE', 'ERRORED')`,
      [versionId],
    );
    activated = true;
  }
  await client.query(
    `UPDATE syncline.sync_rules_versions SET last_checkpoint = $2, last_checkpoint_lsn = $3, keepalive_op = NULL,
            last_checkpoint_at = CASE WHEN $4 THEN now() ELSE last_checkpoint_at END, last_keepalive_at = now(),
            last_fatal_error = NULL, replicated_lsn = greatest(coalesce(replicated_lsn, ''), $3),
            state = CASE WHEN state = 'PROCESSING' THEN 'ACTIVE' ELSE state END,
            activated_at = CASE WHEN state = 'PROCESSING' THEN now() ELSE activated_at END
      WHERE id = $1`,
    [versionId, opId.toString(), lsn, changed],
  );
  if (changed || activated) {
    await client.query('SELECT pg_notify($1, $2)', [
      CHECKPOINT_CHANNEL,
      JSON.stringify({ version: versionId, op_id: opId.toString(), lsn, activated }),
    ]);
  }
  return { checkpoint: { opId, lsn }, activated };
}
