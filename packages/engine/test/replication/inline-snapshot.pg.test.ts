/**
 * Tables snapshotted while streaming (here: after a replica-identity change) must survive a stop
 * at any point: while the old mapping's rows are removed, and inside the re-snapshot. After a
 * restart every bucket must again hold exactly what the rules select from the source.
 */
import { describe, expect, it, inject } from 'vitest';
import type pg from 'pg';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';

const ROWS = 30_000; // three snapshot chunks and more: a stop lands between them
const SCHEMA = `CREATE TABLE todos (id int PRIMARY KEY, list_id int NOT NULL, description text);`;
const RULES = `
bucket_definitions:
  by_list:
    parameters: SELECT request.user_id() AS list_id
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
  everything:
    data:
      - SELECT id, list_id FROM todos
`;

/** Polls storage until `sql` returns a row with ok = true (every few ms, so the stop lands mid-work). */
async function waitFor(storage: pg.Pool, sql: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await storage.query<{ ok: boolean }>(sql);
    if (rows[0]?.ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${sql}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

async function setUp(rows = ROWS): Promise<{ h: ReplicationHarness; v: number }> {
  const h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
  await h.source.query(`INSERT INTO todos SELECT i, 1 + i % 3, 'todo ' || i FROM generate_series(1, $1) i`, [rows]);
  const v = await h.deploy(RULES);
  h.startReplicator();
  await h.waitCaughtUp(v, 120_000);
  return { h, v };
}

async function changeIdentity(h: ReplicationHarness): Promise<void> {
  await h.source.query(`ALTER TABLE todos REPLICA IDENTITY FULL`);
  // The next change of the table carries the new Relation message.
  await h.source.query(`UPDATE todos SET description = 'changed' WHERE id = 1`);
}

describe('inline snapshots while streaming', () => {
  it('resumes a re-snapshot stopped midway after a replica-identity change', { timeout: 300_000 }, async () => {
    const { h, v } = await setUp();
    await using _h = h;
    await changeIdentity(h);
    await waitFor(h.storage, `SELECT bool_or(NOT snapshot_done AND snapshot_count > 0 AND NOT dropped) AS ok FROM syncline.source_tables WHERE version_id = ${v}`);
    await h.stopReplicator();
    const { rows } = await h.storage.query<{ n: string }>(
      `SELECT count(*) AS n FROM syncline.source_tables WHERE version_id = $1 AND NOT dropped AND NOT snapshot_done`,
      [v],
    );
    expect(Number(rows[0]!.n)).toBe(1); // the stop really landed inside the inline snapshot

    await h.source.query(`UPDATE todos SET description = 'after restart' WHERE id = 2`);
    h.startReplicator();
    await h.waitCaughtUp(v, 120_000);
    const report = await checkBucketConsistency(h.source, h.storage, v);
    expect(report.problems.length).toBe(0);
    expect(report.actual.get(`${v}#everything[]`)?.size).toBe(ROWS);
  });

  it('finishes removing the old rows and re-snapshots when stopped during the removal', { timeout: 300_000 }, async () => {
    const { h, v } = await setUp();
    await using _h = h;
    await changeIdentity(h);
    await waitFor(h.storage, `SELECT bool_or(dropped) AS ok FROM syncline.source_tables WHERE version_id = ${v}`);
    await h.stopReplicator();

    h.startReplicator();
    await h.waitCaughtUp(v, 120_000);
    const report = await checkBucketConsistency(h.source, h.storage, v);
    expect(report.problems.length).toBe(0);
    expect(report.actual.get(`${v}#everything[]`)?.size).toBe(ROWS);
    const { rows } = await h.storage.query<{ n: string }>(
      `SELECT count(*) AS n FROM syncline.current_data c JOIN syncline.source_tables t ON t.id = c.source_table WHERE c.version_id = $1 AND t.dropped`,
      [v],
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('removes the rows of a table renamed out of the rules, and snapshots it when renamed back', { timeout: 300_000 }, async () => {
    const { h, v } = await setUp(100);
    await using _h = h;
    await h.source.query(`ALTER TABLE todos RENAME TO old_todos`);
    await h.source.query(`UPDATE old_todos SET description = 'x' WHERE id = 1`);
    await h.waitCaughtUp(v);
    let report = await checkBucketConsistency(h.source, h.storage, v);
    expect(report.problems).toEqual([]);
    expect(report.actual.get(`${v}#everything[]`)?.size ?? 0).toBe(0);

    await h.source.query(`ALTER TABLE old_todos RENAME TO todos`);
    await h.source.query(`UPDATE todos SET description = 'y' WHERE id = 2`);
    await h.waitCaughtUp(v);
    report = await checkBucketConsistency(h.source, h.storage, v);
    expect(report.problems).toEqual([]);
    expect(report.actual.get(`${v}#everything[]`)?.size).toBe(100);
  });
});
