/**
 * Chaos: the replicator runs in its own process and is SIGKILLed at random points (snapshot,
 * streaming, a second version's snapshot and activation) while a writer changes rows and clients
 * sync through a separate API process. Afterwards every client and every bucket checksum must
 * equal the rules evaluated over the source. Short by default; `npm run test:chaos` sets
 * CHAOS_KILLS=100.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@syncline/test-utils';
import { ChaosClient } from './support/chaos-client.ts';
import { chaosPool } from './support/cluster.ts';
import { startChaosService } from './support/chaos-service.ts';
import { verifyAll } from './support/oracle.ts';
import { startReplicatorChild, sigkill } from './support/replicator-child.ts';
import { envNumber, recordResult } from './support/results.ts';
import { RULES, SCHEMA, USERS, seed, startWriter } from './support/workload.ts';

const KILLS = envNumber('CHAOS_KILLS', 5);
const ROWS = envNumber('CHAOS_ROWS', 3_000);
const CLIENTS = envNumber('CHAOS_CLIENTS', 4);

describe('chaos: replicator SIGKILLs', () => {
  it(`survives ${KILLS} SIGKILLs while a writer runs and ${CLIENTS} clients sync`, { timeout: 600_000 + KILLS * 20_000 }, async () => {
    await using db = await createTestDatabase(inject('pgAdminUrl'), 'chaos');
    const storageUrl = await db.createSibling('storage');
    const source = db.pool();
    await source.query(SCHEMA);
    await seed(source, ROWS);
    const publication = `pub_${db.name}`;
    await using svc = await startChaosService({ sourceUrl: db.url, storageUrl, publication, runner: 'api' });
    const storage = chaosPool(storageUrl);
    storage.on('error', () => {});
    const repl = { sourceUrl: db.url, storageUrl, publication };
    const v1 = await svc.deploy(RULES);

    const clients = Array.from({ length: CLIENTS }, (_, i) => new ChaosClient(`u${i % USERS}`, () => svc.url, () => svc.token(`u${i % USERS}`)).start());
    const writer = startWriter(source, ROWS);
    const started = Date.now();
    let child: ChildProcess | null = null;
    let v2: number | null = null;
    try {
      for (let k = 0; k < KILLS; k++) {
        child = await startReplicatorChild(repl);
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1500));
        await sigkill(child);
        child = null;
        if (k === Math.floor(KILLS / 2)) v2 = await svc.deploy(RULES.replace('everything', 'everything').replace('SELECT id, list_id FROM todos', 'SELECT id, list_id, n FROM todos'));
      }
      const w = await writer.stop();
      child = await startReplicatorChild(repl);
      const result = await verifyAll(source, storage, clients);
      const stats = clients.map((c) => c.stats);
      await recordResult('replicator-sigkill', {
        kills: KILLS,
        seconds: Math.round((Date.now() - started) / 1000),
        writerStatements: w.statements,
        versions: [v1, v2],
        ...result,
        problems: result.problems.slice(0, 20),
        clientConnects: stats.reduce((a, s) => a + s.connects, 0),
        checksumFailures: stats.reduce((a, s) => a + s.checksumFailures, 0),
        serverErrors: stats.reduce((a, s) => a + s.serverErrors, 0),
      });
      expect(result.problems.slice(0, 20)).toEqual([]);
      expect(result.versionId).toBe(v2 ?? v1);
      expect(result.rowsChecked).toBeGreaterThan(ROWS / 2);
      expect(stats.flatMap((s) => s.serverErrorSamples)).toEqual([]);
    } finally {
      await writer.stop().catch(() => {});
      await Promise.all(clients.map((c) => c.stop()));
      if (child) await sigkill(child);
      await storage.end();
    }
  });
});
