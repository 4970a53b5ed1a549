/**
 * Under sustained multi-row transactional load the WAL consumer's drained chunks almost never end
 * exactly between two transactions; checkpoints must still advance while the load lasts (here: a
 * backlog of large transactions the replicator catches up on), not only once the stream goes quiet.
 */
import { describe, expect, it, inject } from 'vitest';
import { createReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';
import { normalizeLsn } from '@syncline/engine';

const TRANSACTIONS = 25;
const ROWS_PER_TRANSACTION = 1200;

describe('checkpoint interval', () => {
  it('advances checkpoints while catching up on back-to-back multi-row transactions', { timeout: 300_000 }, async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), `CREATE TABLE items (id int PRIMARY KEY, v text);`);
    const v = await h.deploy(`
bucket_definitions:
  everything:
    data:
      - SELECT * FROM items
`);
    h.startReplicator();
    await h.waitCaughtUp(v);
    await h.stopReplicator();

    for (let t = 0; t < TRANSACTIONS; t++) {
      const from = t * ROWS_PER_TRANSACTION + 1;
      await h.source.query(`INSERT INTO items SELECT i, 'row ' || i FROM generate_series($1::int, $2::int) i`, [from, from + ROWS_PER_TRANSACTION - 1]);
    }
    const { rows } = await h.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const end = normalizeLsn(rows[0]!.lsn);

    h.startReplicator();
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { lastCheckpointLsn } = await h.version(v);
      if (lastCheckpointLsn && lastCheckpointLsn >= end) break;
      if (Date.now() > deadline) throw new Error(`no checkpoint at or past ${end} within 60 s (last ${lastCheckpointLsn})`);
      if (lastCheckpointLsn) seen.add(lastCheckpointLsn);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Before the fix only the start position (and at most a chance hit) was ever checkpointed
    // until the whole backlog was consumed.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    await h.waitCaughtUp(v);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
  });
});
