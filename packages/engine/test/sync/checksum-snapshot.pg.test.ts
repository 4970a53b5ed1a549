/**
 * Bucket checksums at a checkpoint must come from one consistent view of storage: a flush that
 * commits while the checksum is being read must not change the result (issue 11 §1.4).
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { PgBucketReader } from '@syncline/engine';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';

const SCHEMA = `CREATE TABLE items (id text PRIMARY KEY, v integer NOT NULL);`;
const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT id, v FROM items
`;
const BUCKET = (version: number) => `${version}#everything[]`;

/** Sum of the stored op checksums of `bucket` up to `checkpoint`, recomputed from the op-log. */
async function opLogChecksum(storage: pg.Pool, versionId: number, bucket: string, checkpoint: bigint): Promise<{ checksum: number; count: number }> {
  const { rows } = await storage.query<{ s: string | null; c: string }>(
    'SELECT (sum(checksum) % 4294967296)::text AS s, count(*)::text AS c FROM syncline.bucket_data WHERE version_id = $1 AND bucket = $2 AND op_id <= $3',
    [versionId, bucket, checkpoint.toString()],
  );
  return { checksum: Number(rows[0]!.s ?? 0), count: Number(rows[0]!.c) };
}

/**
 * A pool for the reader whose first read of bucket_state is held back until `between` has run: a
 * replicator flush that commits right after the reader looked at bucket_state.
 */
function pausingPool(url: string, between: () => Promise<void>): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  let fired = false;
  (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
    const result = await query(...args);
    const text = typeof args[0] === 'string' ? args[0] : '';
    if (!fired && text.includes('syncline.bucket_state')) {
      fired = true;
      await between();
    }
    return result;
  };
  return pool;
}

async function insertAndCatchUp(h: ReplicationHarness, version: number, id: string): Promise<bigint> {
  await h.source.query('INSERT INTO items VALUES ($1, $2)', [id, id.length]);
  const v = await h.waitCaughtUp(version);
  return v.lastCheckpoint!;
}

describe('bucket checksums at a checkpoint', () => {
  it('are exact when a flush commits while they are being read', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const version = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(version);
    const c1 = await insertAndCatchUp(h, version, 'a');
    // bucket_state is now ahead of c1 (the stream still serves c1, e.g. a connection that is behind).
    await insertAndCatchUp(h, version, 'b');

    const reader = new PgBucketReader(pausingPool(h.storageUrl, async () => void (await insertAndCatchUp(h, version, 'c'))));
    try {
      const got = await reader.getChecksums(version, [BUCKET(version)], c1);
      const expected = await opLogChecksum(h.storage, version, BUCKET(version), c1);
      expect(expected.count).toBe(1);
      expect(got.get(BUCKET(version))).toEqual({ bucket: BUCKET(version), ...expected });
    } finally {
      await reader.pool.end();
    }
  });
});
