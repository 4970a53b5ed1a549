/**
 * Chaos: many clients make their first sync at once over a long op history while a writer keeps
 * changing rows (what the cluster test's last raw clients do). Every client must complete its
 * first checkpoint, see no checksum failure, and end holding exactly what the rules select.
 * (Issue 13: at 300 clients some raw clients never completed their first sync.)
 */
import { describe, expect, it } from 'vitest';
import { ChaosClient } from './support/chaos-client.ts';
import { chaosPool, startChaosCluster } from './support/cluster.ts';
import { startChaosService } from './support/chaos-service.ts';
import { verifyAll, waitCaughtUp } from './support/oracle.ts';
import { envNumber, recordResult } from './support/results.ts';
import { RULES, SCHEMA, USERS, seed, startWriter } from './support/workload.ts';

const ROWS = envNumber('STORM_ROWS', 2_000);
const CLIENTS = envNumber('STORM_CLIENTS', 40);
/** Op history written before the clients connect (ops in storage). */
const HISTORY = envNumber('STORM_HISTORY_OPS', 25_000);

describe('chaos: a storm of first syncs over a long history', () => {
  it('every client completes its first checkpoint with no checksum failure', { timeout: 900_000 }, async () => {
    await using pgc = await startChaosCluster('storm');
    const sourceUrl = await pgc.createDatabase('app');
    const storageUrl = await pgc.createDatabase('syncline_storage');
    const source = chaosPool(sourceUrl);
    const storage = chaosPool(storageUrl);
    await source.query(SCHEMA);
    await seed(source, ROWS);
    await using svc = await startChaosService({ sourceUrl, storageUrl, publication: 'pub_storm' });
    await svc.deploy(RULES);
    await waitCaughtUp(source, storage);
    // The history: whole-table updates (each todo is in two buckets: its list's and the global one).
    const opCount = async () => Number((await storage.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.bucket_data')).rows[0]!.n);
    while ((await opCount()) < HISTORY) {
      await source.query('UPDATE todos SET n = n + 1');
      await waitCaughtUp(source, storage);
    }
    const writer = startWriter(source, ROWS);
    const clients: ChaosClient[] = [];
    try {
      for (let i = 0; i < CLIENTS; i++) {
        const user = `u${i % USERS}`;
        const c = new ChaosClient(user, () => svc.url, () => svc.token(user));
        c.clientId = `storm-${i}`;
        clients.push(c.start());
      }
      const deadline = Date.now() + 300_000;
      while (clients.some((c) => c.lastComplete < 0n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      const waiting = clients.filter((c) => c.lastComplete < 0n);
      await svc.services.connections.flush();
      const registry = (await storage.query('SELECT client_id, ops_sent, bucket_count, last_checkpoint FROM syncline.connections')).rows.filter((r: { client_id: string }) => waiting.some((c) => c.clientId === r.client_id));
      const w = await writer.stop();
      const result = await verifyAll(source, storage, clients);
      const checksumFailures = clients.reduce((a, c) => a + c.stats.checksumFailures, 0);
      await recordResult('first-sync-storm', {
        clients: CLIENTS,
        historyOps: HISTORY,
        writerStatements: w.statements,
        neverCompleted: waiting.length,
        checksumFailures,
        connects: clients.reduce((a, c) => a + c.stats.connects, 0),
        pageReads: svc.services.watcher!.opPages.misses,
        pagesKeptAcrossCheckpoints: svc.services.watcher!.opPages.stableHits,
        problems: result.problems.slice(0, 20),
      });
      expect(
        waiting.map((c) => `${c.clientId}: ${JSON.stringify(c.stats)} pending ${c.pending}`),
        JSON.stringify(registry).slice(0, 3000),
      ).toEqual([]);
      expect(checksumFailures).toBe(0);
      expect(result.problems.slice(0, 20)).toEqual([]);
    } finally {
      await writer.stop().catch(() => {});
      await Promise.all(clients.map((c) => c.stop()));
      await svc.stop();
      await Promise.allSettled([source.end(), storage.end()]);
    }
  });
});
