/**
 * Write checkpoints are released by LSN however late their row commits (issue 11 §1.5): the
 * cursor an API process keeps (checkpoint LSN + storage snapshot) picks up rows committed after
 * its last look even when their LSN was already covered, without a new checkpoint.
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createWriteCheckpoint, getWriteCheckpointsReleasedSince, migrateStorage, normalizeLsn } from '@syncline/engine';
import { createTestDatabase } from '@syncline/test-utils';

const lsn = (s: string) => normalizeLsn(s);

describe('write checkpoint cursor', () => {
  it('releases a row that commits after a look at a checkpoint past its LSN, and each row once', async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'wcc');
    await migrateStorage(db.url);
    const pool = db.pool();
    const late = new pg.Client({ connectionString: db.url });
    await late.connect();
    try {
      await createWriteCheckpoint(pool, 'early', lsn('0/100'));
      let { cursor } = await getWriteCheckpointsReleasedSince(pool, null, lsn('0/50'));
      // A checkpoint past 0/100: the committed row is released by LSN.
      let r = await getWriteCheckpointsReleasedSince(pool, cursor, lsn('0/200'));
      expect([...r.released]).toEqual([['early', 1n]]);
      cursor = r.cursor;

      // A row for LSN 0/150 whose transaction is still open while the look at 0/200 happens…
      await late.query('BEGIN');
      await createWriteCheckpoint(late, 'late', lsn('0/150'));
      r = await getWriteCheckpointsReleasedSince(pool, cursor, lsn('0/200'));
      expect(r.released.size).toBe(0);
      cursor = r.cursor;
      await late.query('COMMIT');
      // …is released by the next look at the same checkpoint, and only once.
      r = await getWriteCheckpointsReleasedSince(pool, cursor, lsn('0/200'));
      expect([...r.released]).toEqual([['late', 1n]]);
      r = await getWriteCheckpointsReleasedSince(pool, r.cursor, lsn('0/200'));
      expect(r.released.size).toBe(0);

      // A row past the checkpoint waits for a checkpoint that covers it.
      await createWriteCheckpoint(pool, 'ahead', lsn('0/300'));
      r = await getWriteCheckpointsReleasedSince(pool, r.cursor, lsn('0/200'));
      expect(r.released.size).toBe(0);
      r = await getWriteCheckpointsReleasedSince(pool, r.cursor, lsn('0/300'));
      expect([...r.released]).toEqual([['ahead', 1n]]);
    } finally {
      await late.end();
    }
  });
});
