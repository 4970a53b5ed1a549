/** Verification runs and their mismatches in storage (syncline.verification_runs / _mismatches). */
import type pg from 'pg';
import { ServiceError } from '@syncline/protocol';

export type RunState = 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED';
export type RunPhase = 'checksums' | 'rows' | 'done';
export type MismatchKind = 'checksum' | 'missing_row' | 'unexpected_row' | 'data_differs';

export interface VerificationRun {
  id: number;
  versionId: number;
  userId: string | null;
  state: RunState;
  phase: RunPhase;
  bucketsTotal: number;
  bucketsChecked: number;
  rowsChecked: number;
  rowBuckets: number;
  checksumMismatches: number;
  rowMismatches: number;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface Mismatch {
  id: number;
  kind: MismatchKind;
  bucket: string;
  table: string | null;
  rowId: string | null;
  expected: string | null;
  stored: string | null;
}

interface RunRow {
  id: number;
  version_id: number;
  user_id: string | null;
  state: RunState;
  phase: RunPhase;
  buckets_total: number;
  buckets_checked: number;
  rows_checked: string;
  row_buckets: number;
  checksum_mismatches: number;
  row_mismatches: number;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

function toRun(r: RunRow): VerificationRun {
  return {
    id: r.id,
    versionId: r.version_id,
    userId: r.user_id,
    state: r.state,
    phase: r.phase,
    bucketsTotal: r.buckets_total,
    bucketsChecked: r.buckets_checked,
    rowsChecked: Number(r.rows_checked),
    rowBuckets: r.row_buckets,
    checksumMismatches: r.checksum_mismatches,
    rowMismatches: r.row_mismatches,
    error: r.error,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
  };
}

export async function createRun(db: pg.Pool, versionId: number, userId: string | null, processId: string): Promise<VerificationRun> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO syncline.verification_runs (version_id, user_id, state, phase, process_id) VALUES ($1, $2, 'RUNNING', 'checksums', $3) RETURNING *`,
    [versionId, userId, processId],
  );
  return toRun(rows[0]!);
}

export type RunProgress = Partial<Pick<VerificationRun, 'phase' | 'bucketsTotal' | 'bucketsChecked' | 'rowsChecked' | 'rowBuckets' | 'checksumMismatches' | 'rowMismatches'>>;

export async function updateRun(db: pg.Pool, id: number, p: RunProgress): Promise<void> {
  await db.query(
    `UPDATE syncline.verification_runs SET phase = coalesce($2, phase), buckets_total = coalesce($3, buckets_total),
            buckets_checked = coalesce($4, buckets_checked), rows_checked = coalesce($5, rows_checked),
            row_buckets = coalesce($6, row_buckets), checksum_mismatches = coalesce($7, checksum_mismatches),
            row_mismatches = coalesce($8, row_mismatches)
      WHERE id = $1`,
    [id, p.phase ?? null, p.bucketsTotal ?? null, p.bucketsChecked ?? null, p.rowsChecked ?? null, p.rowBuckets ?? null, p.checksumMismatches ?? null, p.rowMismatches ?? null],
  );
}

export async function finishRun(db: pg.Pool, id: number, state: Exclude<RunState, 'RUNNING'>, error: string | null): Promise<void> {
  await db.query(
    `UPDATE syncline.verification_runs SET state = $2, error = $3, finished_at = now(), phase = CASE WHEN $2 = 'DONE' THEN 'done' ELSE phase END WHERE id = $1`,
    [id, state, error],
  );
}

export async function addMismatches(db: pg.Pool, runId: number, list: Array<Omit<Mismatch, 'id'>>): Promise<void> {
  if (list.length === 0) return;
  await db.query(
    `INSERT INTO syncline.verification_mismatches (run_id, kind, bucket, table_name, row_id, expected, stored)
     SELECT $1, u.k, u.b, u.t, u.r, u.e, u.s FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(k, b, t, r, e, s)`,
    [runId, list.map((m) => m.kind), list.map((m) => m.bucket), list.map((m) => m.table), list.map((m) => m.rowId), list.map((m) => m.expected), list.map((m) => m.stored)],
  );
}

/** Marks RUNNING runs of other (gone) processes as FAILED; runs of `processId` are left alone. */
export async function failOrphanedRuns(db: pg.Pool, processId: string, olderThanSeconds: number): Promise<void> {
  await db.query(
    `UPDATE syncline.verification_runs SET state = 'FAILED', error = 'Interrupted: the process running it stopped.', finished_at = now()
      WHERE state = 'RUNNING' AND process_id IS DISTINCT FROM $1 AND started_at < now() - make_interval(secs => $2)`,
    [processId, olderThanSeconds],
  );
}

export async function getRun(db: pg.Pool, id: number): Promise<VerificationRun> {
  const { rows } = await db.query<RunRow>('SELECT * FROM syncline.verification_runs WHERE id = $1', [id]);
  if (!rows[0]) throw new ServiceError('NOT_FOUND', `Verification run ${id} does not exist.`);
  return toRun(rows[0]);
}

export async function listRuns(db: pg.Pool, opts: { limit?: number; before?: number } = {}): Promise<VerificationRun[]> {
  const { rows } = await db.query<RunRow>(
    'SELECT * FROM syncline.verification_runs WHERE ($2::int IS NULL OR id < $2) ORDER BY id DESC LIMIT $1',
    [Math.min(Math.max(opts.limit ?? 20, 1), 200), opts.before ?? null],
  );
  return rows.map(toRun);
}

export async function listMismatches(db: pg.Pool, runId: number, opts: { after?: number; limit?: number } = {}): Promise<{ mismatches: Mismatch[]; next: number | null }> {
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const { rows } = await db.query<{ id: number; kind: MismatchKind; bucket: string; table_name: string | null; row_id: string | null; expected: string | null; stored: string | null }>(
    'SELECT id, kind, bucket, table_name, row_id, expected, stored FROM syncline.verification_mismatches WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3',
    [runId, opts.after ?? 0, limit + 1],
  );
  const mismatches = rows.slice(0, limit).map((r) => ({ id: r.id, kind: r.kind, bucket: r.bucket, table: r.table_name, rowId: r.row_id, expected: r.expected, stored: r.stored }));
  return { mismatches, next: rows.length > limit ? mismatches[mismatches.length - 1]!.id : null };
}

/** Id of a run still RUNNING for the version, if any. */
export async function findRunningRun(db: pg.Pool, versionId: number): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM syncline.verification_runs WHERE state = 'RUNNING' AND version_id = $1 LIMIT 1`, [versionId]);
  return rows[0]?.id ?? null;
}
