/**
 * The real sync API (apps/sync-api/src/main.ts) for the e2e run: an embedded Postgres (or the server
 * in TEST_DATABASE_URL) with fresh source and storage databases, demo data (e2e/fixtures) and demo
 * sync rules deployed at startup, DEV_MODE on, and sync-api on a free port. Resolves once the rules
 * are ACTIVE (readiness answers 200). Two more sync-api processes join the same storage database
 * (PROCESS_NAME sync-api-api, runner api; sync-api-replicator, a standby replicator) for the Cluster page. Publishes the storage database URL for tests that corrupt
 * storage on purpose, and the source database URL for tests that change demo rows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChildService, waitForHttp } from './child-service.ts';
import { freePort } from './free-port.ts';

export interface RealSyncApi {
  readonly url: string;
  /** Storage database URL (tests corrupt a bucket on purpose to see verification report it). */
  readonly storageUrl: string;
  /** Source database URL (tests update demo rows to fragment a bucket's op-log). */
  readonly sourceUrl: string;
  /**
   * The other processes of the cluster on the same storage database (Cluster page tests): an `api`
   * runner and a standby `replicator`, next to the `unified` one at `url`.
   */
  readonly cluster: Array<{ name: string; runner: string; url: string }>;
  stop(): Promise<void>;
}

export async function startRealSyncApi(opts: {
  repoRoot: string;
  adminToken: string;
  logDir: string;
  env: NodeJS.ProcessEnv;
}): Promise<RealSyncApi> {
  // Loaded lazily: only this path needs Postgres.
  const { startEmbeddedPostgres, createTestDatabase } = await import('@syncline/test-utils');
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  };
  try {
    let adminUrl = opts.env.TEST_DATABASE_URL;
    if (!adminUrl) {
      const root = await mkdtemp(path.join(tmpdir(), 'syncline-e2e-pg-'));
      await chmod(root, 0o755);
      cleanups.push(() => rm(root, { recursive: true, force: true }));
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(root, 'data'),
        port: await freePort(),
        settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
      });
      cleanups.push(() => pg.stop());
      adminUrl = pg.url('postgres');
    }
    const db = await createTestDatabase(adminUrl, 'e2e');
    cleanups.push(async () => {
      await db[Symbol.asyncDispose]();
    });
    const storageUrl = await db.createSibling('storage');
    const fixtures = path.join(opts.repoRoot, 'apps/dashboard/e2e/fixtures');
    const seed = db.pool();
    await seed.query(await readFile(path.join(fixtures, 'demo-schema.sql'), 'utf8'));

    const jwtSecret = randomBytes(32).toString('base64url');
    const startProcess = async (name: string, runner: 'unified' | 'api' | 'replicator', extra: Record<string, string> = {}) => {
      const port = await freePort();
      const service = startChildService({
        name,
        command: path.join(opts.repoRoot, 'node_modules/.bin/tsx'),
        args: ['apps/sync-api/src/main.ts'],
        cwd: opts.repoRoot,
        logDir: opts.logDir,
        env: {
          ...opts.env,
          SOURCE_DATABASE_URL: db.url,
          STORAGE_DATABASE_URL: storageUrl,
          SYNC_API_PORT: String(port),
          SYNC_API_HOST: '127.0.0.1',
          ADMIN_TOKEN: opts.adminToken,
          JWT_SECRET: jwtSecret,
          SYNC_RUNNER: runner,
          PROCESS_NAME: name,
          DEV_MODE: 'true',
          PUBLICATION_NAME: `pub_${db.name}`,
          LOG_LEVEL: 'info',
          EXIT_ON_STDIN_CLOSE: 'true', // never outlives a killed e2e run
          ...extra,
        },
      });
      cleanups.push(() => service.stop());
      const url = `http://127.0.0.1:${port}`;
      await waitForHttp(`${url}/probes/liveness`, service, 60_000);
      return { service, url };
    };
    const main = await startProcess('sync-api', 'unified', { SYNC_RULES_PATH: path.join(fixtures, 'demo-sync-rules.yaml') });
    // Readiness is 503 until the demo rules are ACTIVE with a checkpoint.
    await waitForHttp(`${main.url}/probes/readiness`, main.service, 60_000);
    // Two more real processes on the same storage: an API process and a standby replicator.
    const [api, replicator] = await Promise.all([startProcess('sync-api-api', 'api'), startProcess('sync-api-replicator', 'replicator')]);
    const cluster = [
      { name: 'sync-api-api', runner: 'api', url: api.url },
      { name: 'sync-api-replicator', runner: 'replicator', url: replicator.url },
    ];
    return { url: main.url, storageUrl, sourceUrl: db.url, cluster, stop: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
