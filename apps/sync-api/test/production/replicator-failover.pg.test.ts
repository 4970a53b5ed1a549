/**
 * Replicator failover with real processes (compiled bundle): two `SYNC_RUNNER=replicator`
 * processes share one storage database, one active and one standby on the version's advisory lock.
 * SIGKILL of the active one, and terminating the backend that holds the lock while its process
 * lives, both hand replication over within 5 s (a change committed after the fault reaches a
 * client of the API process), leases stay strictly increasing (never two jobs on one epoch), and
 * the client ends with every source row exactly once.
 */
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildSyncApi, createServiceEnv, createTestDatabase, startSyncApiProcess, type SyncApiProcess, type TestDatabase } from '@syncline/test-utils';
import type { SyncLine } from '@syncline/protocol';
import { mintDevToken } from '../../src/auth.ts';
import { openSyncStream, type OpenStream } from '../support/sync-client.ts';

/** Failover bound from the design targets (functional limit, not a timing benchmark). */
const FAILOVER_BOUND_MS = 5_000;
const LOCK_CLASS = 0x5359; // replicator.ts: 'SY'
const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT id, label FROM items
`;

let db: TestDatabase;
let storage: pg.Pool;
let dir: string;
let env: Record<string, string>;
let jwtSecret: string;
const replicators: SyncApiProcess[] = [];
let api: SyncApiProcess;
let stream: OpenStream;
let nextId = 0;

const startReplicator = async (name: string) => {
  const p = await startSyncApiProcess({ env, runner: 'replicator', name });
  replicators.push(p);
  return p;
};
const jobStarts = () => replicators.flatMap((r) => r.logs().filter((l) => l.msg === 'replication job starting').map((l) => ({ process: r.name, lease: l.lease as number, at: l.time as number })));
const rowIdsIn = (lines: SyncLine[]) => lines.flatMap((l) => ('data' in l ? l.data.data.map((op) => op.object_id) : []));

/** Inserts one row and returns how long until the API's client stream delivers it. */
async function timeToClient(): Promise<number> {
  const id = `row-${++nextId}`;
  const t0 = Date.now();
  await db.pool().query('INSERT INTO items (id, label) VALUES ($1, $2)', [id, 'x']);
  await stream.until((l) => 'data' in l && l.data.data.some((op) => op.object_id === id), 20_000);
  return Date.now() - t0;
}

async function lockHolderPid(): Promise<number | null> {
  const { rows } = await storage.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [LOCK_CLASS]);
  return rows[0]?.pid ?? null;
}

beforeAll(async () => {
  await buildSyncApi();
  db = await createTestDatabase(inject('pgAdminUrl'), 'failover');
  const storageUrl = await db.createSibling('storage');
  storage = new pg.Pool({ connectionString: storageUrl, max: 2 });
  storage.on('error', () => {});
  await db.pool().query('CREATE TABLE items (id text PRIMARY KEY, label text)');
  await db.pool().query(`INSERT INTO items SELECT 'seed-' || i, 's' FROM generate_series(1, 100) i`);
  ({ env, jwtSecret, dir } = await createServiceEnv({ db, storageUrl, rules: RULES }));
  const r1 = await startReplicator('replicator-1');
  await r1.waitForLog((l) => l.msg === 'replication job starting');
  await startReplicator('replicator-2');
  api = await startSyncApiProcess({ env, runner: 'api', name: 'api-1', waitFor: 'ready' });
  stream = await openSyncStream(api.url, (await mintDevToken(jwtSecret, 'u1', { ttlSeconds: 3600 })).token);
  await stream.until((l) => 'checkpoint_complete' in l, 30_000);
}, 180_000);

afterAll(async () => {
  await stream?.[Symbol.asyncDispose]();
  await api?.[Symbol.asyncDispose]();
  for (const r of replicators) await r[Symbol.asyncDispose]();
  await storage?.end();
  await db?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('replicator failover (two replicator processes, one storage database)', () => {
  it('one job runs; the standby waits on the lock', async () => {
    expect(await timeToClient()).toBeLessThan(FAILOVER_BOUND_MS);
    expect(jobStarts().map((j) => j.process)).toEqual(['replicator-1']);
  });

  it('SIGKILL of the active replicator: the standby takes over and the next change reaches the client within 5 s', async () => {
    const [r1, r2] = replicators as [SyncApiProcess, SyncApiProcess];
    await r1.stop('SIGKILL');
    const ms = await timeToClient();
    expect(ms).toBeLessThan(FAILOVER_BOUND_MS);
    expect(jobStarts().filter((j) => j.process === 'replicator-2')).toHaveLength(1);
    await r2.waitForLog((l) => l.msg === 'replication job starting');
  });

  it('terminating the lock session of a live replicator stops its job; replication resumes within 5 s, fenced by a new lease', async () => {
    const r2 = replicators[1]!;
    await startReplicator('replicator-3');
    const pid = await lockHolderPid();
    expect(pid).not.toBeNull();
    const before = jobStarts().length;
    await storage.query('SELECT pg_terminate_backend($1)', [pid]);
    await r2.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('replication lock lost'), 10_000);
    expect(await timeToClient()).toBeLessThan(FAILOVER_BOUND_MS);
    const starts = jobStarts();
    expect(starts.length).toBe(before + 1);
    // Every takeover took a new lease: epochs strictly increase in the order jobs started.
    const leases = starts.sort((a, b) => a.at - b.at).map((j) => j.lease);
    expect(leases).toEqual([...leases].sort((a, b) => a - b));
    expect(new Set(leases).size).toBe(leases.length);
  });

  it('nothing lost or duplicated: a fresh client gets every source row exactly once', async () => {
    await timeToClient();
    const fresh = await openSyncStream(api.url, (await mintDevToken(jwtSecret, 'u2', { ttlSeconds: 3600 })).token);
    const lines = await fresh.until((l) => 'checkpoint_complete' in l, 30_000);
    await fresh[Symbol.asyncDispose]();
    const ids = rowIdsIn(lines);
    const source = (await db.pool().query<{ id: string }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
    expect([...ids].sort()).toEqual(source);
    const checkpoint = lines.find((l) => 'checkpoint' in l) as Extract<SyncLine, { checkpoint: unknown }>;
    expect(checkpoint.checkpoint.buckets.reduce((n, b) => n + b.count, 0)).toBe(source.length);
  });
});
