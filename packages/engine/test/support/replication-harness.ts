/**
 * Test harness for replication: a fresh source + storage database, migrated storage, a deployed
 * version and an in-process Replicator. Disposing stops it and drops both databases and slots.
 */
import pino from 'pino';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@syncline/test-utils';
import { deployVersion, getVersion, migrateStorage, normalizeLsn, Replicator, type SyncRulesVersion } from '@syncline/engine';

export interface ReplicationHarness extends AsyncDisposable {
  db: TestDatabase;
  source: pg.Pool;
  storage: pg.Pool;
  storageUrl: string;
  publication: string;
  replicator: Replicator | null;
  deploy(yaml: string): Promise<number>;
  startReplicator(): Replicator;
  stopReplicator(): Promise<void>;
  version(id: number): Promise<SyncRulesVersion>;
  /** Waits until version `id` is ACTIVE with a checkpoint at or past the source's current WAL position. */
  waitCaughtUp(id: number, timeoutMs?: number): Promise<SyncRulesVersion>;
}

export async function createReplicationHarness(adminUrl: string, schemaSql: string): Promise<ReplicationHarness> {
  const db = await createTestDatabase(adminUrl, 'repl');
  const storageUrl = await db.createSibling('storage');
  await migrateStorage(storageUrl);
  const source = db.pool();
  await source.query(schemaSql);
  const { default: pgModule } = await import('pg');
  const storage = new pgModule.Pool({ connectionString: storageUrl, max: 5 });
  const publication = `pub_${db.name}`;
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const h: ReplicationHarness = {
    db,
    source,
    storage,
    storageUrl,
    publication,
    replicator: null,
    async deploy(yaml) {
      return (await deployVersion(storage, yaml, null)).id;
    },
    startReplicator() {
      const r = new Replicator({ sourceUrl: db.url, storageUrl, publication, logger, pollMs: 200, heartbeatMs: 500 });
      r.start();
      h.replicator = r;
      return r;
    },
    async stopReplicator() {
      await h.replicator?.stop();
      h.replicator = null;
    },
    async version(id) {
      const v = await getVersion(storage, id);
      if (!v) throw new Error(`no version ${id}`);
      return v;
    },
    async waitCaughtUp(id, timeoutMs = 60_000) {
      const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const target = normalizeLsn(rows[0]!.lsn);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await h.version(id);
        if (v.state === 'ACTIVE' && v.lastCheckpointLsn && v.lastCheckpointLsn >= target) return v;
        if (Date.now() > deadline) throw new Error(`version ${id} not caught up to ${target}: ${JSON.stringify({ state: v.state, lsn: v.lastCheckpointLsn, error: v.lastFatalError })}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async [Symbol.asyncDispose]() {
      await h.stopReplicator();
      await storage.end();
      await db[Symbol.asyncDispose]();
    },
  };
  return h;
}
