/**
 * Composition root of the sync-api process: creates the long-lived components for the configured
 * runner mode (unified | api | replicator) and stops them in reverse order.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import {
  CheckpointWatcher,
  Compactor,
  Replicator,
  compileSyncRules,
  deployFileIfChanged,
  ensureDatabase,
  migrateStorage,
  withApplicationName,
  withConnectionPurpose,
  type SyncRules,
} from '@syncline/engine';
import { jwtAudienceOf, jwtSecretsOf, type SyncApiConfig } from './config.ts';
import { TokenVerifier } from './auth.ts';
import { ConnectionRegistry } from './connection-registry.ts';
import { ApiMetrics } from './api-metrics.ts';
import { WriteAheadBudget } from './write-ahead.ts';
import { ProcessRegistry } from './process/process-registry.ts';
import { processVersion } from './process/process-version.ts';

export interface Services {
  config: SyncApiConfig;
  logger: Logger;
  storage: pg.Pool;
  source: pg.Pool;
  verifier: TokenVerifier;
  /** Present in unified/api mode. */
  watcher: CheckpointWatcher | null;
  /** Present in unified/replicator mode. */
  replicator: Replicator | null;
  /** Scheduled op-log compaction; present in unified/replicator mode. */
  compactor: Compactor | null;
  connections: ConnectionRegistry;
  /** This process's row in syncline.processes (Cluster page); `markDraining()` on SIGTERM. */
  processes: ProcessRegistry;
  metrics: ApiMetrics;
  /** How far HTTP sync streams may produce ahead of clients that are not reading (write-ahead.ts). */
  writeAhead: WriteAheadBudget;
  /** Compiled sync rules per version id (cached). */
  rulesFor(versionId: number, content: string): SyncRules;
  shuttingDown: boolean;
  stop(): Promise<void>;
}

export async function createServices(config: SyncApiConfig, logger: Logger): Promise<Services> {
  // Every connection of this process carries its name (pg_stat_activity.application_name).
  const storageUrl = withApplicationName(config.STORAGE_DATABASE_URL, config.PROCESS_NAME);
  const sourceUrl = withApplicationName(config.SOURCE_DATABASE_URL, config.PROCESS_NAME);
  await ensureDatabase(storageUrl).catch((e: Error) => {
    throw new Error(`Cannot reach or create the storage database (STORAGE_DATABASE_URL): ${e.message}`, { cause: e });
  });
  await migrateStorage(withConnectionPurpose(storageUrl, 'migrate'));
  const storage = new pg.Pool({ connectionString: storageUrl, max: 20 });
  const source = new pg.Pool({ connectionString: sourceUrl, max: 4 });
  storage.on('error', (e) => logger.warn({ error: e.message }, 'storage pool connection error'));
  source.on('error', (e) => logger.warn({ error: e.message }, 'source pool connection error'));
  // Checked-out clients have no pool error listener: without this a dropped connection during a
  // transaction is an uncaught 'error' event that ends the process (the query itself still fails).
  for (const pool of [storage, source]) pool.on('connect', (client) => client.on('error', () => {}));

  if (config.SYNC_RULES_PATH) await deployFromFile(storage, config.SYNC_RULES_PATH, logger);

  const runsApi = config.SYNC_RUNNER !== 'replicator';
  const runsReplication = config.SYNC_RUNNER !== 'api';
  const watcher = runsApi ? new CheckpointWatcher(storageUrl, storage, logger.child({ component: 'checkpoints' })) : null;
  const replicator = runsReplication
    ? new Replicator({
        sourceUrl,
        storageUrl,
        publication: config.PUBLICATION_NAME,
        logger: logger.child({ component: 'replicator' }),
      })
    : null;
  const compactor = runsReplication ? new Compactor({ storage, logger: logger.child({ component: 'compactor' }) }) : null;
  await watcher?.start();
  replicator?.start();
  compactor?.start();
  const connections = new ConnectionRegistry(storage, logger.child({ component: 'connections' }));
  if (runsApi) connections.start();
  const processes = new ProcessRegistry({
    db: storage,
    logger: logger.child({ component: 'processes' }),
    identity: { id: connections.processId, name: config.PROCESS_NAME, runner: config.SYNC_RUNNER, version: processVersion(config.SYNCLINE_BUILD_SHA) },
    connections: () => connections.size,
    ready: () => watcher === null || watcher.current() !== null,
    versionsRead: () => watcher?.versionsRead() ?? [],
    versionsReported: (at) => watcher?.readersReported(at),
    replicator,
  });
  await processes.start();

  const rulesCache = new Map<number, SyncRules>();
  const services: Services = {
    config,
    logger,
    storage,
    source,
    verifier: new TokenVerifier({ secrets: jwtSecretsOf(config), jwksUri: config.JWKS_URI, audience: jwtAudienceOf(config) }),
    watcher,
    replicator,
    compactor,
    connections,
    processes,
    metrics: new ApiMetrics(),
    writeAhead: new WriteAheadBudget(config.STREAM_WRITE_AHEAD_BYTES, config.STREAM_WRITE_AHEAD_TOTAL_BYTES),
    rulesFor(versionId, content) {
      let r = rulesCache.get(versionId);
      if (!r) {
        const compiled = compileSyncRules(content, { versionId, maxBuckets: config.MAX_BUCKETS_PER_CONNECTION });
        if (!compiled.rules) throw new Error(`sync rules of version ${versionId} no longer compile`);
        r = compiled.rules;
        rulesCache.set(versionId, r);
      }
      return r;
    },
    shuttingDown: false,
    async stop() {
      services.shuttingDown = true;
      await processes.markDraining();
      await connections.stop();
      await compactor?.stop();
      await watcher?.stop();
      await replicator?.stop();
      await processes.stop();
      await Promise.allSettled([storage.end(), source.end()]);
    },
  };
  return services;
}

/**
 * Deploys the YAML at SYNC_RULES_PATH when the file changed since it was last deployed from the
 * file (content hash stored with each version). Rules deployed later through the API or the
 * dashboard stay active across restarts while the file is unchanged. Logs which version is in
 * effect and where it came from.
 */
async function deployFromFile(storage: pg.Pool, path: string, logger: Logger): Promise<void> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`SYNC_RULES_PATH: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const { rules, issues } = compileSyncRules(content, { versionId: 0 });
  if (!rules) {
    const list = issues.filter((i) => i.level === 'fatal').map((i) => `  ${i.location ? `${i.location.line}:${i.location.column} ` : ''}${i.message}`);
    throw new Error(`SYNC_RULES_PATH: ${path} is invalid:\n${list.join('\n')}`);
  }
  const r = await deployFileIfChanged(storage, content, path);
  if (r.deployed) {
    logger.info(
      { version: r.deployed.id, source: 'file', path, previousFromFile: r.lastFromFile?.id ?? null },
      'sync rules file changed since it was last deployed: deployed it as a new version',
    );
    return;
  }
  const latest = r.latest;
  logger.info(
    { path, fileVersion: r.lastFromFile?.id ?? latest?.id ?? null, version: latest?.id ?? null, source: latest?.deploySource ?? 'unknown', state: latest?.state ?? null },
    latest && latest.id !== r.lastFromFile?.id && latest.content !== content
      ? `sync rules file unchanged since version ${r.lastFromFile?.id}: keeping version ${latest.id} (deployed via ${latest.deploySource ?? 'unknown'}); edit the file to deploy it again`
      : 'sync rules file unchanged: not redeployed',
  );
}
