/**
 * Issue 11 §1.5: a write checkpoint whose storage row commits only after a checkpoint at or past
 * its LSN was processed must still reach the open stream (read-your-writes must not stall).
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { normalizeLsn } from '@syncline/engine';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';
import { waitFor } from './support/wait-for.ts';

const SCHEMA = `CREATE TABLE items (id text PRIMARY KEY, owner text NOT NULL);`;
const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT id, owner FROM items WHERE owner = bucket.owner
`;

describe('write checkpoints committed late', () => {
  it('reach the open stream although a checkpoint past their LSN was processed before their row committed', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    const version = await server.deploy(RULES);
    await server.waitActive(version);
    const token = await server.token('u1');
    const requestWriteCheckpoint = async () => {
      const res = await fetch(`${server.url}/write-checkpoint2.json?client_id=c1`, { headers: { authorization: `Token ${token}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { write_checkpoint: string } }).data.write_checkpoint;
    };
    await using stream = await openSyncStream(server.url, token, { client_id: 'c1' });
    await stream.until(isComplete);
    expect(await requestWriteCheckpoint()).toBe('1');
    const first = await stream.until((l) => 'checkpoint_diff' in l && l.checkpoint_diff.write_checkpoint === '1');
    expect(first.length).toBeGreaterThan(0);
    await stream.until(isComplete);

    // Hold the user's write-checkpoint row so the next request reads the WAL head, then waits.
    const storage = new pg.Client({ connectionString: server.config.STORAGE_DATABASE_URL });
    await storage.connect();
    try {
      await storage.query('BEGIN');
      await storage.query(`SELECT 1 FROM syncline.write_checkpoints WHERE user_key = 'u1/c1' FOR UPDATE`);
      const pending = requestWriteCheckpoint();
      const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%syncline.write_checkpoints%'`;
      await waitFor('the write-checkpoint request to wait for the row lock', async () => (await storage.query<{ n: number }>(waiting)).rows[0]!.n, (n) => n > 0);
      // A checkpoint past the head the request read is processed and streamed meanwhile. The WAL
      // position is read before the insert: it is past the request's head, and the insert's commit
      // (the checkpoint's LSN) is past it. Read after the insert, it could be past every checkpoint
      // this database will produce, as other databases of the cluster write WAL in parallel tests.
      const { rows } = await server.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const past = normalizeLsn(rows[0]!.lsn);
      await server.source.query(`INSERT INTO items VALUES ('i1', 'u1')`);
      const diff = await stream.until(isComplete, 60_000);
      expect(diff.some((l) => 'data' in l && l.data.data.some((op) => op.object_id === 'i1'))).toBe(true);
      await waitFor(`the watcher's checkpoint to pass ${past}`, () => server.services.watcher!.current()?.lsn ?? '', (lsn) => lsn >= past);

      await storage.query('COMMIT');
      expect(await pending).toBe('2');
      const lines: SyncLine[] = await stream.until((l) => 'checkpoint_diff' in l && l.checkpoint_diff.write_checkpoint === '2', 10_000);
      expect(lines.length).toBeGreaterThan(0);
    } finally {
      await storage.end();
    }
  });
});
