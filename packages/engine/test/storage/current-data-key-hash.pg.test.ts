import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { opChecksumRemove } from '@syncline/protocol';
import { createTestDatabase } from '@syncline/test-utils';
import { compileSyncRules, deployVersion, getSubkeySalt, MIGRATIONS_FOLDER, migrateStorage } from '../../src/index.ts';
import { createTableEvaluator } from '../../src/replication/table-evaluator.ts';
import { PgReplicationWriter } from '../../src/storage/pg-replication-writer.ts';
import { sourceKeyHash, sourceKeyHashHex } from '../../src/storage/source-key-hash.ts';

const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;

/** Applies the committed migrations that precede the current_data key-hash migration. */
async function migrateToBeforeKeyHash(url: string): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'syncline-mig-'));
  try {
    const journal = JSON.parse(await readFile(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };
    const cut = journal.entries.findIndex((e) => e.tag.endsWith('issue11_hardening'));
    expect(cut).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, cut);
    await mkdir(path.join(dir, 'meta'));
    await writeFile(path.join(dir, 'meta', '_journal.json'), JSON.stringify(journal));
    for (const e of journal.entries) await cp(path.join(MIGRATIONS_FOLDER, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: dir, migrationsSchema: 'syncline_migrations' });
    } finally {
      await client.end();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('current_data keyed by a hash of the source key', () => {
  it('computes the same hash in SQL (migration) and in the replicator, for any key text', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'keyhash');
    const keys = ['["1"]', '["é", "😀", null]', '["a\\\\b", "\\"q\\"", "tab\\t"]', JSON.stringify(['x'.repeat(20_000)])];
    const { rows } = await db.pool().query<{ h: string }>(
      `SELECT encode(substring(sha256(convert_to(k, 'UTF8')) FROM 1 FOR 16), 'hex') AS h FROM unnest($1::text[]) WITH ORDINALITY AS u(k, o) ORDER BY o`,
      [keys],
    );
    expect(rows.map((r) => r.h)).toEqual(keys.map(sourceKeyHashHex));
    expect(new Set(keys.map(sourceKeyHash)).size).toBe(keys.length);
  });

  it('migrates stored rows so the replicator finds them by key afterwards', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'keyhash');
    await migrateToBeforeKeyHash(db.url);
    const storage = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      // A version as the previous schema stored it (inserted in SQL: today's deploy writes newer columns).
      const version = (
        await storage.query<{ id: number }>(
          `INSERT INTO syncline.sync_rules_versions (state, content, comment, slot_name, snapshot_done, no_checkpoint_before)
           VALUES ('ACTIVE', $1, NULL, 'syncline_legacy', true, '0/0') RETURNING id`,
          [RULES],
        )
      ).rows[0]!.id;
      // Rows as the previous schema stored them (source_key was the primary key).
      const stored = [
        { key: '["1"]', owner: 'u1' },
        { key: '["ünï \\"2\\""]', owner: 'u1' },
      ];
      for (const s of stored) {
        await storage.query(
          `INSERT INTO syncline.current_data (version_id, source_table, source_key, data, buckets, lookups) VALUES ($1, 7, $2, NULL, $3, '[]')`,
          [version, s.key, JSON.stringify([[`${version}#by_owner["${s.owner}"]`, 'items', JSON.parse(s.key)[0]]])],
        );
      }
      await migrateStorage(db.url);

      const { rows } = await storage.query<{ source_key: string; h: string }>(`SELECT source_key, encode(key_hash, 'hex') AS h FROM syncline.current_data ORDER BY source_key`);
      expect(rows.map((r) => r.h)).toEqual(rows.map((r) => sourceKeyHashHex(r.source_key)));

      // An update moving each row to another owner's bucket must find the migrated state: a REMOVE
      // from the old bucket, one state row per key.
      const { rules } = compileSyncRules(RULES, { versionId: version });
      const evaluator = createTableEvaluator(rules!, { schema: 'public', name: 'items' }, [{ name: 'id', typeOid: 25 }, { name: 'owner_id', typeOid: 25 }], false);
      const writer = new PgReplicationWriter(storage, version, pino({ level: 'silent' }), await getSubkeySalt(storage, version));
      await writer.flush(
        stored.map((s) => ({ sourceTable: 7, evaluator, key: s.key, row: { id: JSON.parse(s.key)[0] as string, owner_id: 'u2' } })),
        { lsn: '00000000/01000000', transactions: 1 },
      );
      const ops = await storage.query<{ bucket: string; op: number; checksum: string }>('SELECT bucket, op, checksum::text FROM syncline.bucket_data WHERE version_id = $1 ORDER BY op_id', [version]);
      expect(ops.rows.filter((o) => o.op === 2).map((o) => o.bucket)).toEqual([`${version}#by_owner["u1"]`, `${version}#by_owner["u1"]`]);
      // The version existed before opaque subkeys: its clients hold rows under `<table>/<key>`
      // subkeys, so it keeps them (REMOVE checksums hash the subkey sent), while a new version gets a secret.
      expect(await getSubkeySalt(storage, version)).toBeNull();
      expect(ops.rows.filter((o) => o.op === 2).map((o) => Number(o.checksum))).toEqual(stored.map((s) => opChecksumRemove(`7/${s.key}`)));
      const fresh = await deployVersion(storage, RULES, null);
      expect(await getSubkeySalt(storage, fresh.id)).toMatch(/^[0-9a-f]{64}$/);
      const count = await storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.current_data WHERE version_id = $1', [version]);
      expect(count.rows[0]!.n).toBe('2');

      // A delete finds it too.
      await writer.flush([{ sourceTable: 7, evaluator, key: stored[0]!.key, row: null }], { lsn: '00000000/02000000', transactions: 1 });
      const left = await storage.query<{ source_key: string }>('SELECT source_key FROM syncline.current_data WHERE version_id = $1', [version]);
      expect(left.rows.map((r) => r.source_key)).toEqual([stored[1]!.key]);
    } finally {
      await storage.end();
    }
  });
});
