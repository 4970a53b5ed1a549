/**
 * Op pages carry each op's wire subkey (pg-bucket-reader.ts, from the source table and key); REMOVE
 * checksums are computed by the replicator from `opaqueSubkey` in Node. A client supersedes a row's
 * PUT by the REMOVE with the same (type, id, subkey), and validates checksums of REMOVEs that hash
 * the subkey, so both must be the same string for every key text.
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@syncline/test-utils';
import { deployVersion, getSubkeySalt, migrateStorage } from '../../src/index.ts';
import { opaqueSubkey } from '../../src/replication/opaque-subkey.ts';
import { PgBucketReader } from '../../src/storage/pg-bucket-reader.ts';

const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT * FROM items
`;

const KEYS = ['["1"]', '["é", "😀", null]', '["a\\\\b", "\\"q\\"", "tab\\t"]', '[42,"x/y"]', JSON.stringify(['x'.repeat(20_000)])];

async function opsOf(pool: pg.Pool, versionId: number, sourceTable: number): Promise<Array<{ subkey: string | null; rowId: string | null }>> {
  await pool.query(
    `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
     SELECT $1, 'b', o, 3, $2, k, 'items', o::text, 0, '{}' FROM unnest($3::text[]) WITH ORDINALITY AS u(k, o)`,
    [versionId, sourceTable, KEYS],
  );
  // A MOVE has no source row: no subkey.
  await pool.query(`INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, checksum) VALUES ($1, 'b', $2, 1, 0)`, [versionId, KEYS.length + 1]);
  const reader = new PgBucketReader(pool);
  const { results } = await reader.getOps(versionId, [{ bucket: 'b', after: 0n }], BigInt(KEYS.length + 1), 100);
  return results[0]!.ops.map((o) => ({ subkey: o.subkey, rowId: o.rowId }));
}

describe('wire subkeys of op pages', () => {
  it('are the subkeys the replicator hashes, for any key text, with and without a salt', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'wiresubkey');
    await migrateStorage(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      const salted = await deployVersion(pool, RULES, null);
      const salt = await getSubkeySalt(pool, salted.id);
      expect(salt).toMatch(/^[0-9a-f]{64}$/);
      const ops = await opsOf(pool, salted.id, 31);
      expect(ops.map((o) => o.subkey)).toEqual([...KEYS.map((k) => opaqueSubkey(salt, 31, k)), null]);
      for (const k of KEYS) expect(ops.map((o) => o.subkey).join()).not.toContain(k.slice(0, 4));

      // A version deployed before opaque subkeys (no salt) keeps `<table id>/<key>`.
      const legacy = await deployVersion(pool, RULES, null);
      await pool.query(`UPDATE syncline.sync_rules_versions SET subkey_salt = NULL WHERE id = $1`, [legacy.id]);
      expect((await opsOf(pool, legacy.id, 7)).map((o) => o.subkey)).toEqual([...KEYS.map((k) => opaqueSubkey(null, 7, k)), null]);
    } finally {
      await pool.end();
    }
  });
});
