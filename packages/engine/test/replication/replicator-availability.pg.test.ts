/**
 * Availability of the replicator: cleanup of a stopped version runs in the background and never
 * delays a deploy; a job whose advisory-lock session dies stops at once, another replicator takes
 * over, and a writer whose lease was taken over cannot commit (fencing).
 */
import pino from 'pino';
import { describe, expect, it, inject } from 'vitest';
import { assertReplicationLease, getSubkeySalt, getVersion, normalizeLsn, Replicator, takeReplicationLease, type ReplicatorOptions } from '@syncline/engine';
import { PgReplicationWriter } from '../../src/storage/pg-replication-writer.ts';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';

const LOCK_CLASS = 0x5359;
const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, description text);
  INSERT INTO lists SELECT 'l' || i, 'u' || (i % 3), 'list ' || i FROM generate_series(1, 20) i;
  INSERT INTO todos SELECT 't' || i, 'l' || (1 + i % 20), 'todo ' || i FROM generate_series(1, 2000) i;
`;
const RULES = `
bucket_definitions:
  by_list:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

function replicator(h: ReplicationHarness, o: Partial<ReplicatorOptions> = {}): Replicator {
  const r = new Replicator({ sourceUrl: h.db.url, storageUrl: h.storageUrl, publication: h.publication, logger, pollMs: 100, heartbeatMs: 500, ...o });
  r.start();
  return r;
}

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('replicator availability', () => {
  it('cleans up a large stopped version in the background: new deploys start while its cleanup is still running', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v1 = await h.deploy(RULES);
    // A cleanup that pauses (practically) forever between its batches stands in for a huge version.
    const r = replicator(h, { cleanupBatch: 1000, cleanupPauseMs: 3_600_000 });
    let r2: Replicator | null = null;
    try {
      await h.waitCaughtUp(v1);
      // A large op-log for v1 (what a big deployment leaves behind when it is replaced).
      const ROWS = 100_000;
      await h.storage.query(
        `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, checksum, data)
         SELECT $1::int, $1::text || '#big[]', (1000000000 + i)::bigint, 1, 0, repeat('x', 100) FROM generate_series(1, $2::int) i`,
        [v1, ROWS],
      );
      const v2 = await h.deploy(RULES.replace('by_list', 'by_list2'));
      await h.waitCaughtUp(v2);
      await until('cleanup of v1 running', () => r.cleaningVersions().includes(v1));
      // A deploy while the cleanup is in progress starts, snapshots and activates.
      const started = performance.now();
      const v3 = await h.deploy(RULES.replace('by_list', 'by_list3'));
      await h.waitCaughtUp(v3, 30_000);
      const activationMs = Math.round(performance.now() - started);
      expect((await h.version(v1)).state).toBe('STOPPED');
      expect(r.cleaningVersions()).toContain(v1);
      expect((await checkBucketConsistency(h.source, h.storage, v3)).problems).toEqual([]);
      // Stopping the process interrupts its cleanup; another one finishes it (default throttle).
      await r.stop();
      const cleanupStarted = performance.now();
      r2 = replicator(h);
      await until('v1 and v2 terminated', async () => (await h.version(v1)).state === 'TERMINATED' && (await h.version(v2)).state === 'TERMINATED', 60_000);
      process.stdout.write(
        `[availability] deploy activated in ${activationMs} ms during a cleanup; cleanup of ${ROWS} rows (batches of 5000, 50 ms pauses) took ${Math.round(performance.now() - cleanupStarted)} ms\n`,
      );
      const left = await h.storage.query('SELECT 1 FROM syncline.bucket_data WHERE version_id = $1 LIMIT 1', [v1]);
      expect(left.rowCount).toBe(0);
      expect((await h.version(v3)).state).toBe('ACTIVE');
    } finally {
      await r.stop();
      await r2?.stop();
    }
  });

  it('stops a job whose lock session is terminated; a replicator takes over with a new lock session; data stays consistent', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v = await h.deploy(RULES);
    const a = replicator(h, { lockCheckMs: 200 });
    let b: Replicator | null = null;
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        n++;
        await h.source.query(`INSERT INTO todos VALUES ($1, $2, 'w')`, [`w${n}`, `l${1 + (n % 20)}`]);
        if (n % 20 === 0) await h.source.query(`UPDATE todos SET description = 'u' || $1 WHERE id = $2`, [n, `t${1 + (n % 2000)}`]);
      }
    })();
    try {
      await h.waitCaughtUp(v);
      b = replicator(h, { lockCheckMs: 200 });
      await new Promise((r) => setTimeout(r, 500));
      expect(a.runningVersions()).toEqual([v]);
      expect(b.runningVersions()).toEqual([]);

      let overlap = 0;
      const rb = b;
      const monitor = setInterval(() => {
        if (a.runningVersions().includes(v) && rb.runningVersions().includes(v)) overlap++;
      }, 5);
      const { rows } = await h.storage.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [LOCK_CLASS, v],
      );
      expect(rows.length).toBe(1);
      const t0 = performance.now();
      await h.storage.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      const { rows: wal } = await h.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const target = normalizeLsn(wal[0]!.lsn);
      await until('the first replicator stops its job', () => !a.runningVersions().includes(v));
      const stoppedMs = performance.now() - t0;
      // Either process may win the lock now (the first one is alive, only its lock session died; it
      // backs off for 0.25–0.5 s, and under load the second one's tick can be slower than that).
      await until('a replicator runs the job again', () => a.runningVersions().includes(v) || rb.runningVersions().includes(v));
      await until('a checkpoint past the takeover point', async () => {
        const cur = await getVersion(h.storage, v);
        return cur !== null && cur.lastCheckpointLsn !== null && cur.lastCheckpointLsn >= target;
      });
      const takeoverMs = performance.now() - t0;
      clearInterval(monitor);
      process.stdout.write(`[availability] lock lost → old job stopped in ${Math.round(stoppedMs)} ms, new checkpoint from the ${rb.runningVersions().includes(v) ? 'other' : 'same'} replicator after ${Math.round(takeoverMs)} ms\n`);
      expect(overlap).toBe(0);
      expect([...a.runningVersions(), ...rb.runningVersions()]).toEqual([v]);

      writing = false;
      await writer;
      await h.waitCaughtUp(v);
      expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
      expect(n).toBeGreaterThan(0);
    } finally {
      writing = false;
      await writer;
      await a.stop();
      await b?.stop();
    }
  });

  it('a standby waits on the lock itself: it takes over when the active replicator stops, without waiting for its next poll', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v = await h.deploy(RULES);
    const a = replicator(h);
    let b: ReturnType<typeof replicator> | undefined;
    try {
      // Started only once `a` holds the lock: started together, either may win it, and a `b` that
      // won would never hand over (its next supervision pass is an hour away).
      await h.waitCaughtUp(v);
      await until('the first replicator runs the job', () => a.runningVersions().includes(v));
      // A standby whose supervision pass (practically) never comes again: only a blocking lock wait
      // can let it take over.
      b = replicator(h, { pollMs: 3_600_000 });
      await until('the second replicator is a standby', () => b!.standbyVersions().includes(v));
      expect(a.runningVersions()).toEqual([v]);
      expect(b.runningVersions()).toEqual([]);
      const t0 = performance.now();
      await a.stop();
      await h.source.query(`INSERT INTO todos VALUES ('after-stop', 'l1', 'x')`);
      const { rows: wal } = await h.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const target = normalizeLsn(wal[0]!.lsn);
      await until('the standby runs the job', () => b!.runningVersions().includes(v), 30_000);
      const takeoverMs = performance.now() - t0;
      await until('a checkpoint past the fault', async () => ((await getVersion(h.storage, v))?.lastCheckpointLsn ?? '') >= target, 30_000);
      process.stdout.write(`[availability] active replicator stopped → standby job started after ${Math.round(takeoverMs)} ms, first new checkpoint after ${Math.round(performance.now() - t0)} ms\n`);
      expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
    } finally {
      await a.stop();
      await b?.stop();
    }
  });

  it('a writer whose lease was taken over cannot commit', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    const v = await h.deploy(RULES);
    h.startReplicator();
    await h.waitCaughtUp(v);
    await h.stopReplicator();

    const epoch = await takeReplicationLease(h.storage, v);
    const writer = new PgReplicationWriter(h.storage, v, logger, await getSubkeySalt(h.storage, v));
    writer.fence = (client) => assertReplicationLease(client, v, epoch);
    const lsnNow = async () => normalizeLsn((await h.source.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, 'test', 'x')::text AS lsn`)).rows[0]!.lsn);
    const first = await lsnNow();
    await writer.flush([], { lsn: first, transactions: 1 });
    expect((await h.version(v)).lastCheckpointLsn).toBe(first);

    // Another process takes the version over.
    expect(await takeReplicationLease(h.storage, v)).toBe(epoch + 1);
    await expect(writer.flush([], { lsn: await lsnNow(), transactions: 1 })).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await h.version(v)).lastCheckpointLsn).toBe(first);
  });
});
