/**
 * STORAGE_DATABASE_URL = the source database, with the default `FOR ALL TABLES` publication: the
 * replicator must not replicate its own storage writes (each checkpoint would cause the next one,
 * forever). Checkpoints advance only for source writes, and data replicates as usual.
 */
import pino from 'pino';
import { describe, expect, it, inject } from 'vitest';
import { createTestDatabase } from '@syncline/test-utils';
import { deployVersion, getVersion, migrateStorage, normalizeLsn, Replicator } from '@syncline/engine';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';

const RULES = `
bucket_definitions:
  global:
    data:
      - SELECT * FROM items
`;

describe('storage in the source database', () => {
  it('does not replicate its own storage writes: no checkpoint without a source write', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'same');
    const pool = db.pool();
    await pool.query(`CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT i, 'n' || i FROM generate_series(1, 100) i`);
    await migrateStorage(db.url);
    const v = (await deployVersion(pool, RULES, null)).id;
    // Heartbeats far apart, so anything that moves the checkpoint in the window below is a loop.
    const r = new Replicator({ sourceUrl: db.url, storageUrl: db.url, publication: `pub_${db.name}`, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' }), pollMs: 100, heartbeatMs: 600_000 });
    r.start();
    try {
      const caughtUp = async () => {
        const target = normalizeLsn((await pool.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn);
        for (let i = 0; i < 600; i++) {
          const cur = await getVersion(pool, v);
          if (cur?.state === 'ACTIVE' && cur.lastCheckpointLsn && cur.lastCheckpointLsn >= target) return cur;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error('not caught up');
      };
      await caughtUp();
      const sample = async () =>
        (
          await pool.query<{ lsn: string | null; replicated: string | null; tx: string | null }>(
            `SELECT v.last_checkpoint_lsn AS lsn, v.replicated_lsn AS replicated, s.transactions::text AS tx
               FROM syncline.sync_rules_versions v LEFT JOIN syncline.replication_stats s ON s.version_id = v.id WHERE v.id = $1`,
            [v],
          )
        ).rows[0];
      await new Promise((res) => setTimeout(res, 500));
      const before = await sample();
      await new Promise((res) => setTimeout(res, 2000));
      expect(await sample()).toEqual(before);

      // Source writes still replicate and checkpoint.
      await pool.query(`INSERT INTO items VALUES (101, 'new'); UPDATE items SET name = 'changed' WHERE id = 1; DELETE FROM items WHERE id = 2`);
      const after = await caughtUp();
      expect(after.lastCheckpointLsn! > before!.lsn!).toBe(true);
      expect((await checkBucketConsistency(pool, pool, v)).problems).toEqual([]);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM syncline.bucket_data WHERE version_id = $1 AND table_name NOT IN ('items')`, [v]);
      expect(rows[0]!.n).toBe('0');
    } finally {
      await r.stop();
    }
  });
});
