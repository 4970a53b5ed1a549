/**
 * The end-of-scenario check: replication caught up with the source, the stored op-log and every
 * bucket checksum equal the rules evaluated over the source rows (computed by SQL there), and
 * every client holds exactly the rows of its buckets — nothing lost, nothing duplicated or stale.
 */
import type pg from 'pg';
import { getVersion, normalizeLsn } from '@syncline/engine';
// eslint-disable-next-line no-restricted-imports -- the chaos suite drives the real service from outside every workspace
import { checkBucketConsistency } from '../../../packages/engine/test/support/bucket-consistency.ts';
import type { ChaosClient } from './chaos-client.ts';

export interface OracleResult {
  versionId: number;
  rowsChecked: number;
  bucketsChecked: number;
  clientRowsChecked: number;
  problems: string[];
}

/** The serving (ACTIVE) version id once it has a checkpoint at or past the source's current WAL. */
export async function waitCaughtUp(source: pg.Pool, storage: pg.Pool, timeoutMs = 180_000): Promise<number> {
  const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  const target = normalizeLsn(rows[0]!.lsn);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const { rows: v } = await storage
      .query<{ id: number }>(`SELECT id FROM syncline.sync_rules_versions WHERE state = 'ACTIVE' ORDER BY id DESC LIMIT 1`)
      .catch(() => ({ rows: [] as Array<{ id: number }> }));
    if (v[0]) {
      const version = await getVersion(storage, v[0].id).catch(() => null);
      last = JSON.stringify({ id: v[0].id, lsn: version?.lastCheckpointLsn, error: version?.lastFatalError });
      if (version?.lastCheckpointLsn && version.lastCheckpointLsn >= target) return v[0].id;
    }
    if (Date.now() > deadline) {
      const { rows: all } = await storage.query('SELECT id, state, last_checkpoint_lsn, last_fatal_error FROM syncline.sync_rules_versions ORDER BY id');
      throw new Error(`not caught up to ${target} within ${timeoutMs} ms: ${last} ${JSON.stringify(all)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Buckets user `u` should hold: the global one and one per list it owns (evaluated on the source). */
export async function bucketsOf(source: pg.Pool, versionId: number, userId: string): Promise<Set<string>> {
  const { rows } = await source.query<{ id: number }>('SELECT id FROM lists WHERE owner_id = $1', [userId]);
  return new Set([`${versionId}#everything[]`, ...rows.map((r) => `${versionId}#by_owner[${r.id}]`)]);
}

/**
 * Drops the given keys from a row's JSON. Column-level DDL (ADD/DROP/RENAME COLUMN, a type
 * change) writes no row changes to the WAL, so rows not changed since keep their old shape (as in
 * PowerSync); scenarios with such DDL compare the other columns exactly and ignore those.
 */
export function normalizer(ignore: string[]): (data: string | undefined) => string | undefined {
  if (ignore.length === 0) return (d) => d;
  return (d) => {
    if (d === undefined) return d;
    const o = JSON.parse(d) as Record<string, unknown>;
    for (const k of ignore) delete o[k];
    return JSON.stringify(o);
  };
}

/** What the storage side of the oracle found; the client side (`checkClient`) compares against `expected`. */
export interface StorageVerdict {
  versionId: number;
  /** The serving version's last checkpoint: every client must complete it. */
  target: bigint;
  /** Rows per bucket the rules select from the source (`table/id` → data). */
  expected: Map<string, Map<string, string>>;
  rowsChecked: number;
  bucketsChecked: number;
  problems: string[];
}

/** Replication caught up, and the stored op-log and checksums equal the rules evaluated over the source. */
export async function verifyStorage(source: pg.Pool, storage: pg.Pool, timeoutMs = 180_000, ignoreColumns: string[] = []): Promise<StorageVerdict> {
  const versionId = await waitCaughtUp(source, storage, timeoutMs);
  const version = (await getVersion(storage, versionId))!;
  const report = await checkBucketConsistency(source, storage, versionId, version.lastCheckpoint ?? undefined);
  const norm = normalizer(ignoreColumns);
  const problems = ignoreColumns.length === 0 ? [...report.problems] : report.problems.filter((p) => p.includes('bucket_state checksum'));
  if (ignoreColumns.length > 0) {
    for (const b of new Set([...report.expected.keys(), ...report.actual.keys()])) {
      const e = report.expected.get(b) ?? new Map<string, string>();
      const a = report.actual.get(b) ?? new Map<string, string>();
      for (const [k, v] of e) if (norm(a.get(k)) !== norm(v)) problems.push(`${b} ${k}: expected ${v}, stored ${a.get(k) ?? '(missing)'}`);
      for (const k of a.keys()) if (!e.has(k)) problems.push(`${b} ${k}: stored but not expected`);
    }
  }
  let rowsChecked = 0;
  for (const m of report.expected.values()) rowsChecked += m.size;
  return { versionId, target: version.lastCheckpoint ?? 0n, expected: report.expected, rowsChecked, bucketsChecked: report.expected.size, problems };
}

/** The parts of a ChaosClient the oracle reads (a client host passes its own clients). */
export type OracleClient = Pick<ChaosClient, 'userId' | 'lastComplete' | 'pending' | 'buckets' | 'nextComplete'>;

/**
 * One client against the storage verdict: it completes the target checkpoint (waiting up to
 * `timeoutMs`), then holds exactly the rows of the buckets it `should` hold and no other bucket.
 */
export async function checkClient(
  c: OracleClient,
  verdict: Pick<StorageVerdict, 'versionId' | 'target' | 'expected'>,
  should: ReadonlySet<string>,
  timeoutMs: number,
  ignoreColumns: string[] = [],
): Promise<{ problems: string[]; rowsChecked: number }> {
  const { versionId, target } = verdict;
  const norm = normalizer(ignoreColumns);
  const problems: string[] = [];
  let rowsChecked = 0;
  const deadline = Date.now() + timeoutMs;
  while ((c.lastComplete < target || c.pending || ![...c.buckets.keys()].some((b) => b.startsWith(`${versionId}#`))) && Date.now() < deadline) {
    await Promise.race([c.nextComplete(), new Promise((r) => setTimeout(r, 500))]);
  }
  if (c.lastComplete < target) {
    problems.push(`client ${c.userId}: last complete checkpoint ${c.lastComplete} < ${target}`);
    return { problems, rowsChecked };
  }
  for (const name of should) {
    const expected = verdict.expected.get(name) ?? new Map<string, string>();
    const actual = c.buckets.get(name)?.rows;
    if (!actual) {
      problems.push(`client ${c.userId}: bucket ${name} missing`);
      continue;
    }
    for (const [k, v] of expected) {
      rowsChecked++;
      if (norm(actual.get(k)) !== norm(v)) problems.push(`client ${c.userId} ${name} ${k}: expected ${v}, has ${actual.get(k) ?? '(missing)'}`);
    }
    for (const k of actual.keys()) if (!expected.has(k)) problems.push(`client ${c.userId} ${name} ${k}: has a row the rules do not select`);
  }
  for (const [name, b] of c.buckets) if (!should.has(name) && b.rows.size > 0) problems.push(`client ${c.userId}: holds bucket ${name} it should not have`);
  return { problems, rowsChecked };
}

export async function verifyAll(source: pg.Pool, storage: pg.Pool, clients: ChaosClient[], timeoutMs = 180_000, ignoreColumns: string[] = []): Promise<OracleResult> {
  const verdict = await verifyStorage(source, storage, timeoutMs, ignoreColumns);
  const problems = [...verdict.problems];
  let clientRowsChecked = 0;
  for (const c of clients) {
    // The writer has stopped, so the source rows (and the expected buckets) no longer change.
    const r = await checkClient(c, verdict, await bucketsOf(source, verdict.versionId, c.userId), timeoutMs, ignoreColumns);
    problems.push(...r.problems);
    clientRowsChecked += r.rowsChecked;
  }
  return { versionId: verdict.versionId, rowsChecked: verdict.rowsChecked, bucketsChecked: verdict.bucketsChecked, clientRowsChecked, problems };
}
