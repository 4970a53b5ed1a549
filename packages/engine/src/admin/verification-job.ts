/**
 * Checksum verification of one sync-rules version (optionally one user's buckets):
 *  (a) recomputes every bucket's checksum and op count from the op-log and compares them with the
 *      incrementally maintained bucket_state;
 *  (b) re-evaluates the rules over the current source rows and compares each bucket's expected
 *      rows with the op-log's reduced state (latest PUT/REMOVE per row).
 * Runs in the background of the process that started it; progress and mismatches are stored, so
 * any process can report them.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { opChecksumPut, ServiceError } from '@syncline/protocol';
import { lsnToBigInt } from '../replication/lsn.ts';
import { emitKeepaliveMessage, type SourceTableDescription } from '../replication/source-catalog.ts';
import type { SyncRules } from '../sync-rules/index.ts';
import { loadVersion, type AdminDeps } from './admin-deps.ts';
import { scanRows, tablesForRules, toSqliteRow } from './source-rows.ts';
import { resolveUserBuckets, type UserRequest } from './user-inspection.ts';
import { addMismatches, createRun, failOrphanedRuns, findRunningRun, finishRun, getRun, updateRun, type Mismatch, type VerificationRun } from '../storage/pg-verification-runs.ts';
import { auditBucketStates, countBuckets } from '../storage/pg-bucket-audit.ts';
import { findLiveSourceTableId } from '../storage/pg-source-tables.ts';
import { getVersion } from '../storage/pg-versions.ts';

export interface VerificationRequest {
  versionId?: number | null;
  /** Verify only this user's buckets (claims/params as for inspection). */
  user?: UserRequest | null;
}

export interface VerificationOptions {
  /** Mismatches stored per run (counts keep going beyond it). Default 1,000. */
  maxMismatches?: number;
  /** How long phase (b) waits for replication to reach the source snapshot it read. Default 30 s. */
  catchUpTimeoutMs?: number;
  /** Called when a background run fails unexpectedly (for logging). */
  onError?: (runId: number, error: unknown) => void;
}

const CHECKSUM_BATCH = 200;
const U32 = 4294967296n;

export class VerificationRunner {
  readonly processId = randomUUID();
  private readonly running = new Map<number, { abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly deps: AdminDeps,
    private readonly options: VerificationOptions = {},
  ) {}

  /** Starts a run and returns it at once; poll `getRun` for progress. */
  async start(req: VerificationRequest): Promise<VerificationRun> {
    const { version, rules } = await loadVersion(this.deps, req.versionId);
    await failOrphanedRuns(this.deps.storage, this.processId, 60);
    const busy = await findRunningRun(this.deps.storage, version.id);
    if (busy !== null) throw new ServiceError('CONFLICT', `Verification run ${busy} is still running for version ${version.id}; wait for it or cancel it.`);
    const run = await createRun(this.deps.storage, version.id, req.user?.userId ?? null, this.processId);
    const abort = new AbortController();
    const done = this.execute(run.id, version.id, rules, req, abort.signal)
      .then(() => finishRun(this.deps.storage, run.id, abort.signal.aborted ? 'CANCELLED' : 'DONE', null))
      .catch(async (e: unknown) => {
        this.options.onError?.(run.id, e);
        const message = e instanceof ServiceError ? e.message : `Verification failed: ${(e as Error)?.message ?? String(e)}`;
        await finishRun(this.deps.storage, run.id, abort.signal.aborted ? 'CANCELLED' : 'FAILED', message).catch(() => {});
      })
      .finally(() => this.running.delete(run.id));
    this.running.set(run.id, { abort, done });
    return run;
  }

  /** Cancels a run of this process; returns false when it is not running here. */
  async cancel(runId: number): Promise<boolean> {
    const r = this.running.get(runId);
    if (!r) return false;
    r.abort.abort();
    await r.done;
    return true;
  }

  /** Resolves when the run (of this process) has finished. */
  async wait(runId: number): Promise<VerificationRun> {
    await this.running.get(runId)?.done;
    return getRun(this.deps.storage, runId);
  }

  async stop(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async execute(runId: number, versionId: number, rules: SyncRules, req: VerificationRequest, signal: AbortSignal): Promise<void> {
    let scope: Set<string> | null = null;
    if (req.user) {
      const version = await loadVersion(this.deps, versionId);
      const resolved = await resolveUserBuckets(this.deps, rules, versionId, version.version.lastCheckpoint, req.user);
      if (resolved.error) throw new ServiceError('BAD_REQUEST', resolved.error);
      scope = new Set(resolved.buckets.map((b) => b.bucket));
    }
    const mismatches = new MismatchSink(this.deps.storage, runId, this.options.maxMismatches ?? 1_000);
    await this.verifyChecksums(runId, versionId, scope, mismatches, signal);
    if (signal.aborted) return;
    await updateRun(this.deps.storage, runId, { phase: 'rows' });
    await this.verifyRows(runId, versionId, rules, scope, mismatches, signal);
  }

  private async verifyChecksums(runId: number, versionId: number, scope: Set<string> | null, sink: MismatchSink, signal: AbortSignal): Promise<void> {
    const db = this.deps.storage;
    const total = scope ? scope.size : await countBuckets(db, versionId);
    await updateRun(db, runId, { bucketsTotal: total });
    const scoped = scope ? [...scope].sort() : null;
    let after = '';
    let checked = 0;
    let index = 0;
    for (;;) {
      if (signal.aborted) return;
      const names = scoped ? scoped.slice(index, index + CHECKSUM_BATCH) : null;
      if (scoped && names!.length === 0) break;
      index += CHECKSUM_BATCH;
      const rows = await auditBucketStates(db, versionId, names ? { buckets: names } : { after, limit: CHECKSUM_BATCH });
      for (const r of rows) {
        const recomputed = Number(((r.opLogSum % U32) + U32) % U32);
        if (recomputed !== r.stateChecksum || r.opLogCount !== r.stateOpCount) {
          sink.add({
            kind: 'checksum',
            bucket: r.bucket,
            table: null,
            rowId: null,
            expected: `checksum ${recomputed}, ${r.opLogCount} ops (recomputed from the op-log)`,
            stored: `checksum ${r.stateChecksum}, ${r.stateOpCount} ops (bucket_state)`,
          });
        }
      }
      checked += scoped ? names!.length : rows.length;
      await sink.flush();
      await updateRun(db, runId, { bucketsChecked: checked, checksumMismatches: sink.count('checksum') });
      if (!scoped) {
        if (rows.length < CHECKSUM_BATCH) break;
        after = rows[rows.length - 1]!.bucket;
      }
    }
  }

  private async verifyRows(runId: number, versionId: number, rules: SyncRules, scope: Set<string> | null, sink: MismatchSink, signal: AbortSignal): Promise<void> {
    const tables = (await tablesForRules(this.deps.source, [rules])).filter((t) => rules.tableMatches({ schema: t.schema, name: t.name }).data);
    const client = await this.deps.storage.connect();
    let rowsChecked = 0;
    const seenBuckets = new Set<string>();
    try {
      await client.query(
        `CREATE TEMP TABLE IF NOT EXISTS verify_expected (bucket text, table_name text, row_id text, source_key text, checksum bigint, data text)`,
      );
      for (const t of tables) {
        if (signal.aborted) return;
        await client.query('TRUNCATE verify_expected');
        const sourceTableId = await this.sourceTableId(versionId, t);
        const { snapshotLsn } = await scanRows(this.deps.source, t, {
          signal,
          onBatch: async (batch) => {
            const cols: [string[], string[], string[], string[], number[], string[]] = [[], [], [], [], [], []];
            for (const raw of batch.rows) {
              const key = JSON.stringify(keyOf(t, raw));
              for (const out of rules.evaluateRow({ schema: t.schema, name: t.name }, toSqliteRow(rules, raw, batch.types))) {
                if (scope && !scope.has(out.bucket)) continue;
                cols[0].push(out.bucket);
                cols[1].push(out.table);
                cols[2].push(out.id);
                cols[3].push(key);
                cols[4].push(opChecksumPut(out.table, out.id, out.data));
                cols[5].push(out.data);
              }
            }
            rowsChecked += batch.rows.length;
            if (cols[0].length > 0) {
              await client.query(
                'INSERT INTO verify_expected SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])',
                cols,
              );
            }
            await updateRun(this.deps.storage, runId, { rowsChecked });
          },
        });
        await this.waitForReplication(versionId, snapshotLsn, signal);
        const { rows } = await client.query<{ bucket: string; table_name: string; row_id: string; e_data: string | null; s_data: string | null; e_cs: string | null; s_cs: string | null }>(
          `WITH stored AS (
             SELECT DISTINCT ON (bucket, table_name, row_id, source_key) bucket, table_name, row_id, source_key, op, checksum, data
               FROM syncline.bucket_data
              WHERE version_id = $1 AND source_table = $2 AND op IN (1, 2) AND ($3::text[] IS NULL OR bucket = ANY($3))
              ORDER BY bucket, table_name, row_id, source_key, op_id DESC),
           live AS (SELECT * FROM stored WHERE op = 1),
           joined AS (
             SELECT coalesce(e.bucket, l.bucket) AS bucket, coalesce(e.table_name, l.table_name) AS table_name,
                    coalesce(e.row_id, l.row_id) AS row_id, e.data AS e_data, l.data AS s_data, e.checksum AS e_cs, l.checksum AS s_cs
               FROM verify_expected e FULL OUTER JOIN live l
                 ON e.bucket = l.bucket AND e.table_name = l.table_name AND e.row_id = l.row_id AND e.source_key = l.source_key)
           SELECT bucket, table_name, row_id, e_data, s_data, e_cs::text, s_cs::text
             FROM joined WHERE e_cs IS NULL OR s_cs IS NULL OR e_cs <> s_cs
            ORDER BY bucket, table_name, row_id`,
          [versionId, sourceTableId, scope ? [...scope] : null],
        );
        const distinct = await client.query<{ bucket: string }>(
          `SELECT DISTINCT bucket FROM verify_expected UNION SELECT DISTINCT bucket FROM syncline.bucket_data WHERE version_id = $1 AND source_table = $2 AND ($3::text[] IS NULL OR bucket = ANY($3))`,
          [versionId, sourceTableId, scope ? [...scope] : null],
        );
        for (const r of distinct.rows) seenBuckets.add(r.bucket);
        for (const r of rows) {
          const kind = r.s_cs === null ? 'missing_row' : r.e_cs === null ? 'unexpected_row' : 'data_differs';
          sink.add({ kind, bucket: r.bucket, table: r.table_name, rowId: r.row_id, expected: r.e_data, stored: r.s_data });
        }
        await sink.flush();
        await updateRun(this.deps.storage, runId, { rowsChecked, rowBuckets: seenBuckets.size, rowMismatches: sink.count('row') });
      }
    } finally {
      await client.query('DROP TABLE IF EXISTS verify_expected').catch(() => {});
      client.release();
    }
  }

  private async sourceTableId(versionId: number, t: SourceTableDescription): Promise<number> {
    return (await findLiveSourceTableId(this.deps.storage, versionId, t.relationOid)) ?? -1;
  }

  /** Waits (bounded) until the version's checkpoint LSN has passed the source snapshot we read. */
  private async waitForReplication(versionId: number, lsn: string, signal: AbortSignal): Promise<void> {
    // A heartbeat message makes an idle replication stream advance its checkpoint LSN past it.
    const beat = await emitKeepaliveMessage(this.deps.source).catch(() => lsn);
    const target = lsnToBigInt(lsn) > lsnToBigInt(beat) ? lsnToBigInt(lsn) : lsnToBigInt(beat);
    const deadline = Date.now() + (this.options.catchUpTimeoutMs ?? 30_000);
    while (Date.now() < deadline && !signal.aborted) {
      const at = (await getVersion(this.deps.storage, versionId))?.lastCheckpointLsn;
      if (at && lsnToBigInt(at) >= target) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function keyOf(t: SourceTableDescription, raw: Record<string, string | null>): Array<string | null> {
  const cols = t.keyColumns.length > 0 ? t.keyColumns : t.columns;
  return cols.map((c) => raw[c.name] ?? null);
}

/** Buffers mismatches, stores up to `max` of them, counts all. */
class MismatchSink {
  private pending: Array<Omit<Mismatch, 'id'>> = [];
  private stored = 0;
  private checksums = 0;
  private rows = 0;

  constructor(
    private readonly db: pg.Pool,
    private readonly runId: number,
    private readonly max: number,
  ) {}

  add(m: Omit<Mismatch, 'id'>): void {
    if (m.kind === 'checksum') this.checksums++;
    else this.rows++;
    if (this.stored + this.pending.length < this.max) this.pending.push(m);
  }

  count(kind: 'checksum' | 'row'): number {
    return kind === 'checksum' ? this.checksums : this.rows;
  }

  async flush(): Promise<void> {
    const list = this.pending;
    this.pending = [];
    this.stored += list.length;
    await addMismatches(this.db, this.runId, list);
  }
}
