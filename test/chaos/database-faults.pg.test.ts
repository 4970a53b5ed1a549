/**
 * Chaos: the source and the storage Postgres are two dedicated clusters, and the service reaches
 * each through a TCP proxy. While a writer changes rows and clients sync: all connections are cut,
 * connections are refused for a while, and each server is restarted (fast, and — in the long run —
 * after CHAOS_OUTAGE_MS of downtime). After each fault the service must catch up again; at the end
 * every client and bucket checksum equals the rules over the source.
 */
import { describe, expect, it } from 'vitest';
import { ChaosClient } from './support/chaos-client.ts';
import { chaosPool, startChaosCluster } from './support/cluster.ts';
import { startChaosService } from './support/chaos-service.ts';
import { verifyAll, waitCaughtUp } from './support/oracle.ts';
import { envNumber, recordResult } from './support/results.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';
import { RULES, SCHEMA, USERS, seed, startWriter } from './support/workload.ts';

const ROWS = envNumber('CHAOS_ROWS', 3_000);
const CLIENTS = envNumber('CHAOS_CLIENTS', 3);
/** Downtime of the "long" outages (refused connections, stopped server); the long run uses 30 s. */
const OUTAGE_MS = envNumber('CHAOS_OUTAGE_MS', 3_000);
const ROUNDS = envNumber('CHAOS_DB_ROUNDS', 1);
/** The short version (npm test) cuts and restarts; CHAOS_DB_FAULTS=all adds refusals and outages. */
const ALL = process.env.CHAOS_DB_FAULTS === 'all';


describe('chaos: database restarts and dropped networks', () => {
  it('recovers from cut, refused and restarted source and storage connections', { timeout: 1_800_000 }, async () => {
    await using sourcePg = await startChaosCluster('source');
    // The short version keeps storage on the source's cluster (one initdb less; a restart then hits
    // both at once); the long one gives storage its own cluster so each can fail alone.
    await using ownStorage = ALL ? await startChaosCluster('storage') : null;
    const storagePg = ownStorage ?? sourcePg;
    const sourceUrl = await sourcePg.createDatabase('app');
    const storageUrl = await storagePg.createDatabase('syncline_storage');
    await using sourceProxy = await startTcpProxy('127.0.0.1', sourcePg.port);
    await using storageProxy = await startTcpProxy('127.0.0.1', storagePg.port);
    const source = chaosPool(sourceUrl);
    const storage = chaosPool(storageUrl);
    await source.query(SCHEMA);
    await seed(source, ROWS);
    await using svc = await startChaosService({ sourceUrl: sourceProxy.url(sourceUrl), storageUrl: storageProxy.url(storageUrl), publication: 'pub_chaos' });
    await svc.deploy(RULES);
    await waitCaughtUp(source, storage);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(`u${i % USERS}`, () => svc.url, () => svc.token(`u${i % USERS}`)).start());
    const writer = startWriter(source, ROWS);
    const faults: Array<{ kind: string; recoverySeconds: number }> = [];
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const run = async (kind: string, inject: () => Promise<unknown>) => {
      await pause(1_000 + Math.random() * 1_000);
      const t0 = Date.now();
      await inject();
      await waitCaughtUp(source, storage, 240_000);
      faults.push({ kind, recoverySeconds: Math.round((Date.now() - t0) / 100) / 10 });
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        await run('source network cut', async () => sourceProxy.cut());
        await run('storage network cut', async () => storageProxy.cut());
        if (!ALL) {
          await run('source + storage restart (fast, one cluster)', () => sourcePg.restart());
          continue;
        }
        await run('source restart (fast)', () => sourcePg.restart());
        await run('storage restart (fast)', () => storagePg.restart());
        await run('source network refused', async () => {
          sourceProxy.refuse();
          await pause(OUTAGE_MS);
          sourceProxy.resume();
        });
        await run('storage network refused', async () => {
          storageProxy.refuse();
          await pause(OUTAGE_MS);
          storageProxy.resume();
        });
        await run('source restart (down)', () => sourcePg.restart(OUTAGE_MS));
        await run('storage restart (down)', () => storagePg.restart(OUTAGE_MS));
      }
      const w = await writer.stop();
      const result = await verifyAll(source, storage, clients);
      const stats = clients.map((c) => c.stats);
      await recordResult('database-faults', {
        faults,
        outageMs: OUTAGE_MS,
        writerStatements: w.statements,
        writerErrors: w.errors,
        ...result,
        problems: result.problems.slice(0, 20),
        clientConnects: stats.reduce((a, s) => a + s.connects, 0),
        checksumFailures: stats.reduce((a, s) => a + s.checksumFailures, 0),
        serverErrors: stats.flatMap((s) => s.serverErrorSamples),
      });
      expect(result.problems.slice(0, 20)).toEqual([]);
      expect(result.rowsChecked).toBeGreaterThan(ROWS / 2);
    } finally {
      await writer.stop().catch(() => {});
      await Promise.all(clients.map((c) => c.stop()));
      await svc.stop();
      await Promise.allSettled([source.end(), storage.end()]);
    }
  });
});
