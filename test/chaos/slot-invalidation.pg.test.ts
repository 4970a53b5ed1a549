/**
 * Chaos: the replication slot is invalidated because the replicator is down while the source
 * writes more WAL than `max_slot_wal_keep_size`. Before the invalidation the dashboard health
 * (tRPC health.replication) and /metrics must show the retained WAL approaching the budget; after
 * it they must report the slot invalidated; then the service re-snapshots into a new version and
 * clients end with exactly the source rows (rows deleted while the slot was lost are gone too).
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { VersionHealth } from '@syncline/engine';
import { ChaosClient } from './support/chaos-client.ts';
import { chaosPool, startChaosCluster } from './support/cluster.ts';
import { startChaosService, type ChaosService } from './support/chaos-service.ts';
import { verifyAll, waitCaughtUp } from './support/oracle.ts';
import { startReplicatorChild, sigkill } from './support/replicator-child.ts';
import { envNumber, recordResult } from './support/results.ts';
import { RULES, SCHEMA, USERS, seed, startWriter } from './support/workload.ts';

const ROWS = envNumber('CHAOS_ROWS', 3_000);
const CLIENTS = envNumber('CHAOS_CLIENTS', 3);
const BUDGET_MB = 48;

async function health(svc: ChaosService): Promise<VersionHealth[]> {
  const res = await svc.admin('/api/trpc/health.replication');
  const body = (await res.json()) as { result: { data: { versions: VersionHealth[] } } };
  return body.result.data.versions;
}

async function metrics(svc: ChaosService): Promise<Map<string, number>> {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(syncline_replication_slot_\w+)\{version="(\d+)"[^}]*\} (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}:${m[2]}`, Number(m[3]));
  }
  return out;
}

async function poll<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('chaos: replication slot invalidated', () => {
  it('warns before, reports after, and re-snapshots without serving stale rows', { timeout: 900_000 }, async () => {
    await using cluster = await startChaosCluster('slot', { max_slot_wal_keep_size: `${BUDGET_MB}MB`, max_wal_size: '64MB', min_wal_size: '32MB' });
    const sourceUrl = await cluster.createDatabase('app');
    const storageUrl = await cluster.createDatabase('syncline_storage');
    const source = chaosPool(sourceUrl);
    const storage = chaosPool(storageUrl);
    await source.query(SCHEMA + 'CREATE TABLE filler (id serial PRIMARY KEY, pad text);');
    await seed(source, ROWS);
    const publication = 'pub_chaos';
    await using svc = await startChaosService({ sourceUrl, storageUrl, publication, runner: 'api' });
    const repl = { sourceUrl, storageUrl, publication };
    const v1 = await svc.deploy(RULES);
    let child: ChildProcess | null = await startReplicatorChild(repl);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(`u${i % USERS}`, () => svc.url, () => svc.token(`u${i % USERS}`)).start());
    const writer = startWriter(source, ROWS);
    try {
      await waitCaughtUp(source, storage);
      const before = (await health(svc)).find((v) => v.versionId === v1)!;
      expect(before.walBudgetBytes).toBe(BUDGET_MB * 1024 * 1024);
      expect(before.slotRisk).toBe('ok');

      // The replicator dies; the source keeps writing WAL the slot must retain.
      await sigkill(child);
      child = null;
      const fill = () => source.query(`INSERT INTO filler (pad) SELECT repeat(md5(i::text), 32) FROM generate_series(1, 8000) i`);
      const warned = await poll('a critical slot risk before invalidation', async () => {
        await fill();
        const h = (await health(svc)).find((v) => v.versionId === v1);
        return h && h.walStatus !== 'lost' && h.slotRisk === 'critical' ? h : null;
      });
      const m = await metrics(svc);
      expect(m.get(`syncline_replication_slot_at_risk:${v1}`)).toBe(1);
      expect(m.get(`syncline_replication_slot_wal_budget_used_ratio:${v1}`)).toBeGreaterThan(0.8);
      expect(m.get(`syncline_replication_slot_invalidated:${v1}`)).toBe(0);

      // More WAL and a checkpoint: Postgres invalidates the slot.
      const lost = await poll('the slot invalidated', async () => {
        await fill();
        await source.query('SELECT pg_switch_wal()');
        await source.query('CHECKPOINT');
        const h = (await health(svc)).find((v) => v.versionId === v1);
        return h?.slotRisk === 'lost' ? h : null;
      });
      expect((await metrics(svc)).get(`syncline_replication_slot_invalidated:${v1}`)).toBe(1);
      // Rows deleted while the slot is lost must not survive on clients.
      const { rowCount: deleted } = await source.query('DELETE FROM todos WHERE id % 10 = 3');

      child = await startReplicatorChild(repl);
      const v2 = await poll('a redeployed version', async () => {
        const { rows } = await storage.query<{ id: number }>(`SELECT id FROM syncline.sync_rules_versions WHERE id > $1 ORDER BY id LIMIT 1`, [v1]);
        return rows[0]?.id;
      });
      const w = await writer.stop();
      const result = await verifyAll(source, storage, clients, 300_000);
      const afterHealth = await health(svc);
      await recordResult('slot-invalidation', {
        budgetBytes: BUDGET_MB * 1024 * 1024,
        warnedAt: { walRetainedBytes: warned.walRetainedBytes, safeWalBytes: warned.safeWalBytes, walStatus: warned.walStatus },
        lostReported: { walStatus: lost.walStatus, state: lost.state },
        deletedWhileLost: deleted,
        oldVersion: v1,
        newVersion: v2,
        writerStatements: w.statements,
        ...result,
        problems: result.problems.slice(0, 20),
        checksumFailures: clients.reduce((a, c) => a + c.stats.checksumFailures, 0),
      });
      expect(result.problems.slice(0, 20)).toEqual([]);
      expect(result.versionId).toBe(v2);
      for (const c of clients) expect([...c.buckets.keys()].filter((b) => !b.startsWith(`${v2}#`))).toEqual([]);
      expect(afterHealth.find((v) => v.versionId === v2)?.slotRisk).toBe('ok');
    } finally {
      await writer.stop().catch(() => {});
      await Promise.all(clients.map((c) => c.stop()));
      if (child) await sigkill(child);
      await svc.stop();
      await Promise.allSettled([source.end(), storage.end()]);
    }
  });
});
