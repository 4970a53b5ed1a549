/**
 * Replicates one sync-rules version: slot (created before any table is read), resumable snapshot,
 * then WAL streaming until aborted. Startup decision per reference §7.3.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { compileSyncRules } from '../sync-rules/index.ts';
import { PgReplicationWriter } from '../storage/pg-replication-writer.ts';
import { assertReplicationLease } from '../storage/pg-replication-lease.ts';
import { lastWrittenOpId, markSnapshotDone } from '../storage/pg-source-tables.ts';
import { getSubkeySalt, resetVersionForSnapshot } from '../storage/pg-versions.ts';
import { STORAGE_SCHEMA, storageIsSourceDatabase } from '../storage/pg-storage-identity.ts';
import type { SyncRulesVersion } from '../storage/storage-types.ts';
import { normalizeLsn } from './lsn.ts';
import { ReplicationError } from './replication-errors.ts';
import type { ReplicationMetrics } from './replication-metrics.ts';
import { checkWalLevel, currentWalLsn, describeMatchingTables, ensurePublication } from './source-catalog.ts';
import { TableRegistry } from './table-registry.ts';
import { applyResolved, resumeTableWork } from './inline-snapshot.ts';
import { streamWal } from './wal-stream.ts';

export interface ReplicationJobOptions {
  version: SyncRulesVersion;
  sourceUrl: string;
  source: pg.Pool;
  storage: pg.Pool;
  publication: string;
  logger: Logger;
  metrics: ReplicationMetrics;
  signal: AbortSignal;
  heartbeatMs?: number;
  /** Lease epoch taken with the version's lock: every storage flush commits only while it is current. */
  leaseEpoch?: number;
}

export async function runReplicationJob(o: ReplicationJobOptions): Promise<void> {
  const { version, logger } = o;
  const { rules, issues } = compileSyncRules(version.content, { versionId: version.id });
  if (!rules) {
    throw new Error(`sync rules of version ${version.id} do not compile: ${issues.map((i) => i.message).join('; ')}`);
  }
  await checkWalLevel(o.source);
  await ensurePublication(o.source, o.publication);

  const slot = await slotStatus(o.source, version.slotName);
  if (slot === 'lost' || (version.snapshotDone && slot === 'missing')) {
    throw new ReplicationError('SLOT_LOST', `Replication slot ${version.slotName} of version ${version.id} is ${slot}; a new version must re-snapshot.`);
  }
  if (slot === 'missing') {
    // Fresh start: clear anything stored by an earlier attempt, create the slot before reading.
    await resetVersionForSnapshot(o.storage, version.id);
    await o.source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [version.slotName]);
    logger.info({ slot: version.slotName }, 'replication slot created');
  }

  // We hold the version's lock: a walsender still streaming the slot belongs to a process that lost
  // it. End it, so that process can neither acknowledge anything nor keep us from streaming.
  if (slot === 'ok') await takeOverSlot(o.source, version.slotName, logger);

  const writer = new PgReplicationWriter(o.storage, version.id, logger, await getSubkeySalt(o.storage, version.id));
  const epoch = o.leaseEpoch;
  if (epoch !== undefined) writer.fence = (client) => assertReplicationLease(client, version.id, epoch);
  writer.setLastOpId(await lastWrittenOpId(o.storage, version.id));
  const registry = new TableRegistry(o.storage, version.id, rules, logger);
  await registry.load();
  const ctx = { source: o.source, writer, registry, logger, signal: o.signal };

  // Work a previous run left unfinished (row removals of retired mappings, a snapshot stopped
  // midway — also one started while streaming) is finished before anything else, so no checkpoint
  // is created past a half-copied table.
  const started = performance.now();
  let total = await resumeTableWork(ctx);
  o.metrics.snapshotRows += total;
  if (!version.snapshotDone) {
    const tables = await describeMatchingTables(o.source, rules.sourceTables());
    for (const desc of tables) {
      if (o.signal.aborted) return;
      const rows = await applyResolved(ctx, await registry.resolve(desc));
      total += rows;
      o.metrics.snapshotRows += rows;
    }
    await markSnapshotDone(o.storage, version.id, normalizeLsn(await currentWalLsn(o.source)));
    const secs = (performance.now() - started) / 1000;
    logger.info({ rows: total, seconds: Number(secs.toFixed(2)), rowsPerSecond: Math.round(total / Math.max(secs, 0.001)) }, 'snapshot done');
  }

  // Storage in the source database: a FOR ALL TABLES publication streams our own storage writes
  // back; they are ignored, and transactions made only of them get no checkpoint (no loop).
  const sameDatabase = await storageIsSourceDatabase(o.source, o.storage, version.id, version.slotName);
  if (sameDatabase) logger.info({ schema: STORAGE_SCHEMA }, 'storage is the source database: changes to the storage schema are ignored by replication');

  await streamWal({
    storageSchema: sameDatabase ? STORAGE_SCHEMA : null,
    sourceUrl: o.sourceUrl,
    source: o.source,
    slotName: version.slotName,
    publication: o.publication,
    writer,
    registry,
    logger,
    metrics: o.metrics,
    signal: o.signal,
    heartbeatMs: o.heartbeatMs,
  });
}

async function slotStatus(source: pg.Pool, slot: string): Promise<'missing' | 'lost' | 'ok'> {
  const { rows } = await source.query<{ wal_status: string | null }>('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  if (!rows[0]) return 'missing';
  return rows[0].wal_status === 'lost' ? 'lost' : 'ok';
}

async function takeOverSlot(source: pg.Pool, slot: string, logger: Logger): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { rows } = await source.query<{ active_pid: number | null }>('SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    const pid = rows[0]?.active_pid;
    if (!pid) return;
    if (attempt === 0) logger.warn({ slot, pid }, 'replication slot still streamed by a process that lost the lock: terminating its walsender');
    await source.query('SELECT pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`replication slot ${slot} is still active after terminating its walsender; retrying`);
}
