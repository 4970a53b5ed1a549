/**
 * Op pages as `PgBucketReader.getOps` reads them from a real `bucket_data`: every stored field
 * reaches its op (the reader takes rows as positional arrays, so a column out of place would move
 * a value into another field), the subkey is the opaque hash of the source row — the string the
 * replicator hashes into REMOVE checksums — for any key text, or `<table id>/<key>` for a version
 * without a salt, and ops without a source row have none; a subkey stored with the op is read as is.
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@syncline/test-utils';
import { deployVersion, getSubkeySalt, migrateStorage } from '../../src/index.ts';
import { opaqueSubkey } from '../../src/replication/opaque-subkey.ts';
import { listBucketOpsAfter } from '../../src/storage/pg-bucket-inspection.ts';
import { PgBucketReader } from '../../src/storage/pg-bucket-reader.ts';
import { OP } from '../../src/storage/storage-types.ts';

const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT * FROM items
`;

const KEYS = ['["1"]', '["é", "😀", null]', '["a\\\\b", "\\"q\\"", "tab\\t"]', '[42,"x/y"]', JSON.stringify(['x'.repeat(20_000)])];

/** Stores, in bucket `b`, a PUT per key (op ids 1…), then a REMOVE, a MOVE and a CLEAR; reads them back. */
async function storeAndRead(pool: pg.Pool, versionId: number, sourceTable: number) {
  await pool.query(
    `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
     SELECT $1, 'b', o, $4, $2, k, 'items', 'row-' || o, 4000000000 + o, '{"n":' || o || '}' FROM unnest($3::text[]) WITH ORDINALITY AS u(k, o)`,
    [versionId, sourceTable, KEYS, OP.PUT],
  );
  const n = KEYS.length;
  await pool.query(
    `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data, target_op) VALUES
       ($1, 'b', $2, ${OP.REMOVE}, $5, $6, 'items', 'row-1', 17, NULL, NULL),
       ($1, 'b', $3, ${OP.MOVE}, NULL, NULL, NULL, NULL, 18, NULL, $4),
       ($1, 'b', $4, ${OP.CLEAR}, NULL, NULL, NULL, NULL, 19, NULL, NULL)`,
    [versionId, n + 1, n + 2, n + 3, sourceTable, KEYS[0]],
  );
  const { results, resumeFrom } = await new PgBucketReader(pool).getOps(versionId, [{ bucket: 'b', after: 0n }], BigInt(n + 3), 100);
  expect(resumeFrom).toBe(1);
  expect(results.map((r) => [r.bucket, r.hasMore])).toEqual([['b', false]]);
  return results[0]!.ops;
}

describe('op pages read from Postgres', () => {
  it('carry every stored field, and the opaque subkey of the source row for any key text, with and without a salt', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'bucketreader');
    await migrateStorage(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      const salted = await deployVersion(pool, RULES, null);
      const salt = await getSubkeySalt(pool, salted.id);
      expect(salt).toMatch(/^[0-9a-f]{64}$/);
      const n = KEYS.length;
      const expected = (subkey: (key: string) => string) => [
        ...KEYS.map((k, i) => ({ opId: BigInt(i + 1), op: 'PUT', table: 'items', rowId: `row-${i + 1}`, subkey: subkey(k), checksum: 4000000001 + i, data: `{"n":${i + 1}}`, targetOp: null })),
        { opId: BigInt(n + 1), op: 'REMOVE', table: 'items', rowId: 'row-1', subkey: subkey(KEYS[0]!), checksum: 17, data: null, targetOp: null },
        { opId: BigInt(n + 2), op: 'MOVE', table: null, rowId: null, subkey: null, checksum: 18, data: null, targetOp: BigInt(n + 3) },
        { opId: BigInt(n + 3), op: 'CLEAR', table: null, rowId: null, subkey: null, checksum: 19, data: null, targetOp: null },
      ];
      const ops = await storeAndRead(pool, salted.id, 31);
      expect(ops).toEqual(expected((k) => opaqueSubkey(salt, 31, k)));
      // Never the key itself.
      for (const o of ops) for (const k of KEYS) expect(o.subkey ?? '').not.toContain(k.slice(0, 4));

      // A version deployed before opaque subkeys (no salt) keeps `<table id>/<key>`.
      const legacy = await deployVersion(pool, RULES, null);
      await pool.query(`UPDATE syncline.sync_rules_versions SET subkey_salt = NULL WHERE id = $1`, [legacy.id]);
      expect(await storeAndRead(pool, legacy.id, 7)).toEqual(expected((k) => `7/${k}`));

      // Ops the replicator wrote carry their subkey (hashed once, at write time): it is read as
      // stored, so a stored value that is not the hash of the source key is what the client gets.
      const stored = '0f0e0d0c-0b0a-4908-8706-050403020100';
      await pool.query(
        `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data, subkey)
         VALUES ($1, 'stored', 1, ${OP.PUT}, 31, '["1"]', 'items', 'row-1', 5, '{}', $2), ($1, 'stored', 2, ${OP.REMOVE}, 31, '["2"]', 'items', 'row-2', 6, NULL, NULL)`,
        [salted.id, stored],
      );
      const read = await new PgBucketReader(pool).getOps(salted.id, [{ bucket: 'stored', after: 0n }], 2n, 100);
      expect(read.results[0]!.ops.map((o) => o.subkey)).toEqual([stored, opaqueSubkey(salt, 31, '["2"]')]);
      // The dashboard's op listing reads the same column.
      const listed = await listBucketOpsAfter(pool, salted.id, { bucket: 'stored', afterOpId: '0', limit: 10, op: null, rowId: null });
      expect(listed.map((o) => o.subkey)).toEqual([stored, null]);
    } finally {
      await pool.end();
    }
  });
});
