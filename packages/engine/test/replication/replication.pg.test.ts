import { describe, expect, it, inject } from 'vitest';
import { createReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, description text, big_note text, n bigint);
`;
const RULES = `
bucket_definitions:
  by_list:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
  global_lists:
    data:
      - SELECT id, name FROM lists
`;

async function bucketRows(storage: import('pg').Pool, version: number, bucket: string) {
  const { rows } = await storage.query<{ op: number; row_id: string; data: string | null }>(
    'SELECT op, row_id, data FROM syncline.bucket_data WHERE version_id = $1 AND bucket = $2 ORDER BY op_id',
    [version, `${version}#${bucket}`],
  );
  return rows;
}

describe('replication', () => {
  it('snapshots, streams inserts/updates/deletes and keeps op-log, checksums and lookups consistent', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A'), ('l2', 'u2', 'B')`);
    await h.source.query(`INSERT INTO todos SELECT 't' || i, CASE WHEN i % 2 = 0 THEN 'l1' ELSE 'l2' END, 'todo ' || i, NULL, i FROM generate_series(1, 500) i`);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);

    // A row moving between buckets produces REMOVE in the old bucket and PUT in the new one.
    await h.source.query(`UPDATE todos SET list_id = 'l2' WHERE id = 't2'`);
    await h.source.query(`DELETE FROM todos WHERE id = 't4'`);
    await h.source.query(`INSERT INTO todos VALUES ('t9999', 'l1', 'new', NULL, 9223372036854775807)`);
    await h.waitCaughtUp(v);
    const l1 = await bucketRows(h.storage, v, 'by_list["l1"]');
    expect(l1.filter((r) => r.row_id === 't2').map((r) => r.op)).toEqual([1, 2]);
    expect(l1.filter((r) => r.row_id === 't4').map((r) => r.op)).toEqual([1, 2]);
    expect(l1.find((r) => r.row_id === 't9999')?.data).toContain('"n":9223372036854775807');
    expect((await bucketRows(h.storage, v, 'by_list["l2"]')).filter((r) => r.row_id === 't2').map((r) => r.op)).toEqual([1]);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
  });

  it('updates and tombstones parameter lookups when a parameter row changes owner', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A')`);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v);
    await h.source.query(`UPDATE lists SET owner_id = 'u2' WHERE id = 'l1'`);
    const after = await h.waitCaughtUp(v);
    const { rows } = await h.storage.query<{ lookup: string; bucket_parameters: string }>(
      `SELECT DISTINCT ON (lookup) lookup, bucket_parameters FROM syncline.bucket_parameters
        WHERE version_id = $1 AND id <= $2 ORDER BY lookup, id DESC`,
      [v, after.lastCheckpoint!.toString()],
    );
    const byLookup = Object.fromEntries(rows.map((r) => [r.lookup, r.bucket_parameters]));
    const u1 = Object.entries(byLookup).find(([k]) => k.includes('"u1"'));
    const u2 = Object.entries(byLookup).find(([k]) => k.includes('"u2"'));
    expect(u1?.[1]).toBe('[]');
    expect(u2?.[1]).toContain('l1');
  });

  it('fills unchanged TOAST columns from the stored row image on update', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const big = 'x'.repeat(200_000);
    await h.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A')`);
    await h.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'first', $1, 1)`, [big]);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v);
    await h.source.query(`UPDATE todos SET description = 'second' WHERE id = 't1'`);
    await h.waitCaughtUp(v);
    const ops = (await bucketRows(h.storage, v, 'by_list["l1"]')).filter((r) => r.row_id === 't1');
    const last = JSON.parse(ops[ops.length - 1]!.data!) as { description: string; big_note: string };
    expect(last.description).toBe('second');
    expect(last.big_note.length).toBe(200_000);
  });

  it('re-reads a row whose unchanged TOAST value was not sent and no image was kept', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A')`);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v);
    // Inserted small (no image kept), then made large and TOASTed, then updated without touching it.
    await h.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'first', 'small', 1)`);
    await h.waitCaughtUp(v);
    await h.storage.query(`UPDATE syncline.current_data SET data = NULL`);
    await h.source.query(`UPDATE todos SET big_note = (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 5000) i) WHERE id = 't1'`);
    await h.waitCaughtUp(v);
    await h.storage.query(`UPDATE syncline.current_data SET data = NULL`);
    await h.source.query(`UPDATE todos SET description = 'second' WHERE id = 't1'`);
    await h.waitCaughtUp(v);
    const ops = (await bucketRows(h.storage, v, 'by_list["l1"]')).filter((r) => r.row_id === 't1');
    const last = JSON.parse(ops[ops.length - 1]!.data!) as { description: string; big_note: string };
    expect(last.description).toBe('second');
    expect(last.big_note.length).toBe(160_000);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
  });

  it('supports REPLICA IDENTITY FULL, truncate, and a table created while streaming', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA + `ALTER TABLE todos REPLICA IDENTITY FULL;`);
    await h.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A')`);
    await h.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'a', NULL, 1), ('t2', 'l1', 'b', NULL, 2)`);
    const rules = RULES + `
  extra:
    data:
      - SELECT * FROM late_table
`;
    const v = await h.deploy(rules);
    h.startReplicator();
    await h.waitCaughtUp(v);
    await h.source.query(`UPDATE todos SET description = 'a2' WHERE id = 't1'`);
    await h.source.query(`DELETE FROM todos WHERE id = 't2'`);
    await h.waitCaughtUp(v);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);

    await h.source.query(`TRUNCATE todos`);
    await h.waitCaughtUp(v);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
    expect((await bucketRows(h.storage, v, 'by_list["l1"]')).filter((r) => r.row_id === 't1').at(-1)?.op).toBe(2);

    await h.source.query(`CREATE TABLE late_table (id text PRIMARY KEY, v text)`);
    await h.source.query(`INSERT INTO late_table VALUES ('x1', 'one')`);
    await h.source.query(`INSERT INTO late_table VALUES ('x2', 'two')`);
    await h.waitCaughtUp(v);
    const report = await checkBucketConsistency(h.source, h.storage, v);
    expect(report.problems).toEqual([]);
    expect([...(report.actual.get(`${v}#extra[]`)?.keys() ?? [])].sort()).toEqual(['late_table/x1', 'late_table/x2']);
  });

  it('deploys new rules while writes continue: the new version snapshots, activates, and the old one is terminated', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO lists SELECT 'l' || i, 'u' || (i % 3), 'n' FROM generate_series(1, 50) i`);
    const v1 = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v1);
    let writing = true;
    let i = 0;
    const writer = (async () => {
      while (writing) {
        i++;
        await h.source.query(`INSERT INTO todos VALUES ($1, 'l' || (1 + $2 % 50), 'w', NULL, $2)`, [`w${i}`, i]);
      }
    })();
    const v2 = await h.deploy(RULES.replace('global_lists', 'all_lists'));
    await h.waitCaughtUp(v2, 60_000);
    writing = false;
    await writer;
    await h.waitCaughtUp(v2);
    expect((await checkBucketConsistency(h.source, h.storage, v2)).problems).toEqual([]);
    for (let t = 0; t < 100; t++) {
      if ((await h.version(v1)).state === 'TERMINATED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const old = await h.version(v1);
    expect(old.state).toBe('TERMINATED');
    const slots = await h.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [old.slotName]);
    expect(slots.rowCount).toBe(0);
    const leftovers = await h.storage.query('SELECT 1 FROM syncline.bucket_data WHERE version_id = $1 LIMIT 1', [v1]);
    expect(leftovers.rowCount).toBe(0);
    expect(i).toBeGreaterThan(0);
  });
});
