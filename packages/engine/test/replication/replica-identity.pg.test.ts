import { describe, expect, it, inject } from 'vitest';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';
import { readRowsByKey } from '../../src/replication/table-snapshot.ts';
import type { ActiveTable } from '../../src/replication/table-registry.ts';

/**
 * Tables keyed by their replica identity rather than a well-behaved primary key:
 * REPLICA IDENTITY FULL without a primary key (the whole row is the key) and
 * REPLICA IDENTITY USING INDEX on a table that also has a primary key.
 */

/** Waits for the version to catch up, failing fast (a stuck job retries forever). */
const CATCH_UP_MS = 30_000;

async function expectConsistent(h: ReplicationHarness, v: number): Promise<Map<string, Map<string, string>>> {
  await h.waitCaughtUp(v, CATCH_UP_MS);
  const report = await checkBucketConsistency(h.source, h.storage, v);
  expect(report.problems.slice(0, 10)).toEqual([]);
  return report.actual;
}

const rowsOf = (actual: Map<string, Map<string, string>>, bucket: string) => [...(actual.get(bucket)?.keys() ?? [])].sort();

describe('snapshot paging by key', () => {
  it('pages tables with a primary key or identity index in key order, and whole-row keys by block range', async () => {
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE keyed (id int PRIMARY KEY, body text);
       CREATE TABLE by_index (code text NOT NULL, body text);
       CREATE UNIQUE INDEX by_index_code ON by_index (code);
       ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_code;
       CREATE TABLE whole (a text, b text);
       ALTER TABLE whole REPLICA IDENTITY FULL;
       INSERT INTO keyed SELECT i, 'k' || i FROM generate_series(1, 100) i;
       INSERT INTO by_index SELECT 'c' || i, 'x' FROM generate_series(1, 100) i;
       INSERT INTO whole SELECT 'w' || i, NULL FROM generate_series(1, 100) i;`,
    );
    const v = await h.deploy(`
bucket_definitions:
  all:
    data:
      - SELECT id, body FROM keyed
      - SELECT code AS id, body FROM by_index
      - SELECT a AS id, b FROM whole
`);
    h.startReplicator();
    await expectConsistent(h, v);
    // The resume position says how a table was paged: a JSON array of the last key, or a block.
    const { rows } = await h.storage.query<{ table_name: string; snapshot_last_key: string }>(
      'SELECT table_name, snapshot_last_key FROM syncline.source_tables WHERE version_id = $1 ORDER BY table_name',
      [v],
    );
    const paging = Object.fromEntries(rows.map((r) => [r.table_name, Array.isArray(JSON.parse(r.snapshot_last_key)) ? 'key' : 'block']));
    expect(paging).toEqual({ by_index: 'key', keyed: 'key', whole: 'block' });
  });
});

describe('REPLICA IDENTITY FULL without a primary key', () => {
  it('snapshots every row of a multi-chunk table, including rows with NULLs in the leading columns', async () => {
    // NULLs sort last, so they all fall into the second snapshot chunk (10,000 rows a chunk).
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE readings (sensor text, id text, value int, note text);
       ALTER TABLE readings REPLICA IDENTITY FULL;`,
    );
    // An exact duplicate row first and last: in different chunks, both map to one stored key.
    await h.source.query(`INSERT INTO readings VALUES ('s1', 'dup', 1, NULL)`);
    await h.source.query(
      `INSERT INTO readings SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE 's' || (i % 7) END, 'r' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE i END, NULL
         FROM generate_series(1, 12000) i`,
    );
    await h.source.query(`INSERT INTO readings VALUES ('s1', 'dup', 1, NULL)`);
    // Statistics size the block ranges (~10,000 rows a chunk): this table takes two.
    await h.source.query('ANALYZE readings');
    const v = await h.deploy(`
bucket_definitions:
  all_readings:
    data:
      - SELECT id, sensor, value FROM readings
`);
    h.startReplicator();
    const actual = await expectConsistent(h, v);
    expect(actual.get(`${v}#all_readings[]`)?.size).toBe(12001);

    // Streaming changes of rows with NULLs find their stored state by the whole-row key.
    await h.source.query(`DELETE FROM readings WHERE id IN ('r10', 'r20')`);
    await h.source.query(`UPDATE readings SET value = 1 WHERE id = 'r30'`);
    await h.source.query(`UPDATE readings SET sensor = NULL WHERE id = 'r1'`);
    const after = await expectConsistent(h, v);
    expect(after.get(`${v}#all_readings[]`)?.size).toBe(11999);
  });

  it('resumes a block-range snapshot from a position of a rewritten table by re-reading it, without duplicates', async () => {
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE notes (id text, body text);
       ALTER TABLE notes REPLICA IDENTITY FULL;
       INSERT INTO notes SELECT 'n' || i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'body ' || i END FROM generate_series(1, 3000) i;`,
    );
    const v = await h.deploy(`
bucket_definitions:
  all_notes:
    data:
      - SELECT * FROM notes
`);
    h.startReplicator();
    await expectConsistent(h, v);
    const before = await h.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.bucket_data WHERE version_id = $1', [v]);
    // As if the replicator died mid-snapshot and the table was rewritten (VACUUM FULL) meanwhile:
    // the stored block position refers to other relfilenodes, so the walk restarts at block 0 and
    // merges the rows already stored instead of appending them again.
    await h.stopReplicator();
    await h.source.query('VACUUM FULL notes');
    await h.storage.query(`UPDATE syncline.source_tables SET snapshot_done = false, snapshot_last_key = '{"ctid":{"block":3,"relfiles":"1"}}' WHERE version_id = $1`, [v]);
    await h.storage.query('UPDATE syncline.sync_rules_versions SET snapshot_done = false WHERE id = $1', [v]);
    h.startReplicator();
    await h.source.query(`DELETE FROM notes WHERE id = 'n8'`);
    const actual = await expectConsistent(h, v);
    expect(actual.get(`${v}#all_notes[]`)?.size).toBe(2999);
    const { rows } = await h.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.current_data WHERE version_id = $1', [v]);
    expect(rows[0]!.n).toBe('2999');
    const after = await h.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.bucket_data WHERE version_id = $1', [v]);
    expect(Number(after.rows[0]!.n)).toBeGreaterThan(Number(before.rows[0]!.n));
  });

  it('replicates tables with json, xml and point columns (no ordering operator)', async () => {
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE shapes (id text, doc json, x xml, p point);
       ALTER TABLE shapes REPLICA IDENTITY FULL;
       INSERT INTO shapes VALUES ('a', '{"k": 1}', '<a>1</a>', '(1,2)'), ('b', '[1, 2]', '<b/>', '(3,4)'), ('c', NULL, NULL, NULL);`,
    );
    const v = await h.deploy(`
bucket_definitions:
  all_shapes:
    data:
      - SELECT * FROM shapes
`);
    h.startReplicator();
    expect(rowsOf(await expectConsistent(h, v), `${v}#all_shapes[]`)).toEqual(['shapes/a', 'shapes/b', 'shapes/c']);

    await h.source.query(`UPDATE shapes SET p = '(5,6)' WHERE id = 'a'`);
    await h.source.query(`DELETE FROM shapes WHERE id = 'b'`);
    await h.source.query(`DELETE FROM shapes WHERE id = 'c'`);
    await h.source.query(`INSERT INTO shapes VALUES ('d', '{"deep": {"x": [1, null]}}', '<d>4</d>', '(7,8)')`);
    expect(rowsOf(await expectConsistent(h, v), `${v}#all_shapes[]`)).toEqual(['shapes/a', 'shapes/d']);
  });

  it('replicates rows of 10 KB (larger than a btree index entry may be)', async () => {
    // md5 text does not compress, so the whole-row key stays ~10 KB even after compression.
    const big = (seed: string) => `(SELECT string_agg(md5('${seed}' || g::text), '') FROM generate_series(1, 320) g)`;
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE blobs (id text, body text);
       ALTER TABLE blobs REPLICA IDENTITY FULL;
       INSERT INTO blobs VALUES ('b1', ${big('one')}), ('b2', ${big('two')}), ('b3', ${big('three')});`,
    );
    const v = await h.deploy(`
bucket_definitions:
  all_blobs:
    data:
      - SELECT * FROM blobs
`);
    h.startReplicator();
    expect(rowsOf(await expectConsistent(h, v), `${v}#all_blobs[]`)).toEqual(['blobs/b1', 'blobs/b2', 'blobs/b3']);

    await h.source.query(`INSERT INTO blobs VALUES ('b4', ${big('four')})`);
    await h.source.query(`UPDATE blobs SET body = ${big('one-again')} WHERE id = 'b1'`);
    await h.source.query(`DELETE FROM blobs WHERE id = 'b2'`);
    const actual = await expectConsistent(h, v);
    expect(rowsOf(actual, `${v}#all_blobs[]`)).toEqual(['blobs/b1', 'blobs/b3', 'blobs/b4']);
    expect(actual.get(`${v}#all_blobs[]`)?.get('blobs/b1')?.length).toBeGreaterThan(10_000);
  });
});

describe('re-reading rows by a whole-row key', () => {
  it('matches NULL key values and non-orderable types', async () => {
    await using h = await createReplicationHarness(
      inject('pgAdminUrl'),
      `CREATE TABLE loose (a text, b json, c point);
       INSERT INTO loose VALUES ('x', '{"k": 1}', '(1,2)'), (NULL, NULL, '(3,4)'), ('y', NULL, NULL), ('z', '[]', '(0,0)');`,
    );
    const table = {
      info: { schemaName: 'public', tableName: 'loose' },
      keyColumns: [{ name: 'a', typeOid: 25 }, { name: 'b', typeOid: 114 }, { name: 'c', typeOid: 600 }],
    } as unknown as ActiveTable;
    const rows = await readRowsByKey(h.source, table, [
      ['x', '{"k": 1}', '(1,2)'],
      [null, null, '(3,4)'],
      ['y', null, null],
      ['nope', null, null],
    ]);
    expect(rows.map((r) => r.a).sort()).toEqual([null, 'x', 'y'].sort());
  });
});

describe('REPLICA IDENTITY USING INDEX on a table that also has a primary key', () => {
  const SCHEMA = `
    CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL, name text);
    CREATE UNIQUE INDEX items_code_idx ON items (code);
    ALTER TABLE items REPLICA IDENTITY USING INDEX items_code_idx;
    INSERT INTO items SELECT i, 'c' || i, 'item ' || i FROM generate_series(1, 20) i;
  `;
  const RULES = `
bucket_definitions:
  all_items:
    data:
      - SELECT * FROM items
`;

  it('applies deletes and key-changing updates (pgoutput sends only the identity-index columns)', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await expectConsistent(h, v);

    await h.source.query(`DELETE FROM items WHERE id = 1`);
    // Changes the primary key but not the identity index: no old key tuple is sent.
    await h.source.query(`UPDATE items SET id = 200 WHERE id = 2`);
    // Changes the identity index column: the old key tuple holds only `code`.
    await h.source.query(`UPDATE items SET code = 'c3-new', name = 'renamed' WHERE id = 3`);
    // Both at once.
    await h.source.query(`UPDATE items SET id = 400, code = 'c4-new' WHERE id = 4`);
    const actual = await expectConsistent(h, v);
    const ids = rowsOf(actual, `${v}#all_items[]`);
    expect(ids).not.toContain('items/1');
    expect(ids).not.toContain('items/2');
    expect(ids).toContain('items/200');
    expect(ids).not.toContain('items/4');
    expect(ids).toContain('items/400');
    expect(ids.length).toBe(19);
    expect(h.replicator?.metrics().get(v)?.unmatchedDeletes).toBe(0);
  });
});
