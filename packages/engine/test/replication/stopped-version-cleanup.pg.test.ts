/**
 * The cleanup of a stopped version deletes its op-log only once no live process reads it: an API
 * process that lists it among the versions it serves (open streams on it, or it has not seen the
 * new version yet), or has not heartbeated since it stopped, holds the cleanup; a gone process
 * (heartbeat older than the stale bound) or a cleanly stopped one does not. A process that never
 * says what it reads (older code) holds it only up to `cleanupReaderWaitMs`.
 */
import pino from 'pino';
import { describe, expect, it, inject } from 'vitest';
import { Replicator, upsertProcessHeartbeat, type ProcessHeartbeat, type ReplicatorOptions } from '@syncline/engine';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';

const SCHEMA = `
  CREATE TABLE todos (id text PRIMARY KEY, owner_id text, description text);
  INSERT INTO todos SELECT 't' || i, 'u' || (i % 3), 'todo ' || i FROM generate_series(1, 500) i;
`;
const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT * FROM todos WHERE owner_id = bucket.owner
`;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

function replicator(h: ReplicationHarness, o: Partial<ReplicatorOptions> = {}): Replicator {
  const r = new Replicator({ sourceUrl: h.db.url, storageUrl: h.storageUrl, publication: h.publication, logger, pollMs: 100, heartbeatMs: 500, ...o });
  r.start();
  return r;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function beat(h: ReplicationHarness, name: string, servingVersions: number[]): Promise<void> {
  const heartbeat: ProcessHeartbeat = {
    state: 'ready',
    connections: 1,
    rssBytes: 0,
    heapUsedBytes: 0,
    cpuPercent: 0,
    activeVersions: [],
    standbyVersions: [],
    servingVersions,
    replicationLagMs: null,
  };
  return upsertProcessHeartbeat(h.storage, { id: name, name, runner: 'api', version: 'test', pid: 1, host: 'test' }, heartbeat);
}

async function opsOf(h: ReplicationHarness, versionId: number): Promise<number> {
  const { rows } = await h.storage.query<{ n: number }>('SELECT count(*)::int AS n FROM syncline.bucket_data WHERE version_id = $1', [versionId]);
  return rows[0]!.n;
}

describe('cleanup of a stopped version', () => {
  it('waits while a live process reads the version, not for a gone or stopped one', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v1 = await h.deploy(RULES);
    const r = replicator(h);
    try {
      await h.waitCaughtUp(v1);
      const held = await opsOf(h, v1);
      expect(held).toBeGreaterThan(0);
      await beat(h, 'api-reading', [v1]);
      await beat(h, 'api-gone', [v1]);
      await h.storage.query(`UPDATE syncline.processes SET heartbeat_at = now() - interval '1 minute' WHERE id = 'api-gone'`);
      await beat(h, 'api-stopped', [v1]);
      await h.storage.query(`UPDATE syncline.processes SET state = 'stopped' WHERE id = 'api-stopped'`);

      const v2 = await h.deploy(RULES.replace('mine:', 'mine2:'));
      await h.waitCaughtUp(v2);
      expect((await h.version(v1)).state).toBe('STOPPED');
      // After the stop, the reading process still lists v1 (a stream on it, or it lags behind).
      await beat(h, 'api-reading', [v1, v2]);
      await new Promise((res) => setTimeout(res, 3_000));
      expect((await h.version(v1)).state).toBe('STOPPED');
      expect(await opsOf(h, v1)).toBe(held);

      // Its last stream on v1 ended: the next heartbeat lists only v2, and the cleanup goes ahead.
      await beat(h, 'api-reading', [v2]);
      await until('v1 terminated', async () => (await h.version(v1)).state === 'TERMINATED', 20_000);
      expect(await opsOf(h, v1)).toBe(0);
      expect(await opsOf(h, v2)).toBeGreaterThan(0);
    } finally {
      await r.stop();
    }
  });

  it('waits for a process that does not say what it reads only up to cleanupReaderWaitMs', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v1 = await h.deploy(RULES);
    const r = replicator(h, { cleanupReaderWaitMs: 6_000 });
    try {
      await h.waitCaughtUp(v1);
      // A process of an older release, heartbeating before v1 stops (so the cleanup sees it however
      // long the new version takes to catch up): its heartbeat has no list of versions read.
      await beat(h, 'api-old', []);
      await h.storage.query(`UPDATE syncline.processes SET serving_versions = NULL WHERE id = 'api-old'`);
      const beforeStop = Date.now();
      const v2 = await h.deploy(RULES.replace('mine:', 'mine2:'));
      await h.waitCaughtUp(v2);
      await until('v1 terminated', async () => (await h.version(v1)).state === 'TERMINATED', 30_000);
      // The wait runs from the stop, which came after `beforeStop`; unheld, the cleanup starts at once.
      expect(Date.now() - beforeStop).toBeGreaterThanOrEqual(6_000);
    } finally {
      await r.stop();
    }
  });
});
