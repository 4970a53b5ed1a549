/**
 * Streams pgoutput changes from a version's slot into storage. Decoded messages are queued and a
 * single consumer drains them in chunks: all complete source transactions in a chunk are written
 * in one storage transaction, the checkpoint advances to the last commit — also when the chunk
 * ends inside a transaction, whose changes wait for the next write (CommitBuffer) — and only then
 * is that LSN acknowledged to Postgres (never before the storage commit). Transactions larger than
 * the buffer are flushed partway without a checkpoint.
 */
import { LogicalReplicationService } from 'pg-logical-replication';
import type pg from 'pg';
import type { Logger } from 'pino';
import { withConnectionPurpose } from '../storage/application-name.ts';
import type { PgReplicationWriter, SourceChange } from '../storage/pg-replication-writer.ts';
import { CommitBuffer, type CommittedBatch } from './commit-buffer.ts';
import { lsnToBigInt, bigIntToLsn } from './lsn.ts';
import { PgoutputDecoder, type PgoutputMessage, type RelationMessage } from './pgoutput-decoder.ts';
import { applyResolved, removeSourceTableRows } from './inline-snapshot.ts';
import { emitKeepaliveMessage } from './source-catalog.ts';
import type { ActiveTable, TableRegistry } from './table-registry.ts';
import { readRowsByKey } from './table-snapshot.ts';
import { sourceKeyOf } from './table-evaluator.ts';
import type { ReplicationMetrics } from './replication-metrics.ts';
import { StorageEchoFilter } from './storage-echo-filter.ts';
import { ChangeAnomalies } from './change-anomalies.ts';

export interface WalStreamOptions {
  sourceUrl: string;
  source: pg.Pool;
  slotName: string;
  publication: string;
  writer: PgReplicationWriter;
  registry: TableRegistry;
  logger: Logger;
  metrics: ReplicationMetrics;
  signal: AbortSignal;
  /** Flush mid-transaction after this many buffered changes. */
  maxBufferedChanges?: number;
  /** Interval of `pg_logical_emit_message` heartbeats (ms). */
  heartbeatMs?: number;
  /** The storage schema when storage is the source database: its changes are Syncline's own writes and ignored. */
  storageSchema?: string | null;
}

type Plugin = Parameters<LogicalReplicationService['subscribe']>[0];
const QUEUE_HIGH_WATER = 50_000;
/** How long a stopped stream waits for the replication library to report its connection's end. */
const SUBSCRIBE_SETTLE_MS = 5_000;

export async function streamWal(o: WalStreamOptions): Promise<void> {
  const maxBuffered = o.maxBufferedChanges ?? 10_000;
  const decoder = new PgoutputDecoder();
  const queue: PgoutputMessage[] = [];
  const signals: { wake: (() => void) | null; drained: (() => void) | null } = { wake: null, drained: null };
  let failure: Error | null = null;
  const echo = new StorageEchoFilter(o.storageSchema ?? null);
  const anomalies = new ChangeAnomalies(o.metrics, o.logger);

  const { rows } = await o.source.query<{ confirmed_flush_lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1',
    [o.slotName],
  );
  const confirmed = rows[0]?.confirmed_flush_lsn;
  // The library acknowledges lsn+1; keep "what we passed" so a re-ack never moves backwards.
  let ackedLsn = confirmed ? bigIntToLsn(lsnToBigInt(confirmed) - 1n) : '0/0';

  const service = new LogicalReplicationService(
    { connectionString: withConnectionPurpose(o.sourceUrl, 'wal') },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  const plugin = {
    name: 'pgoutput',
    options: {},
    parse: (buffer: Buffer) => decoder.decode(buffer),
    start: (client: pg.Client, slot: string, lsn: string) =>
      client.query(
        `START_REPLICATION SLOT "${slot}" LOGICAL ${lsn} (proto_version '1', publication_names '${o.publication}', messages 'true')`,
      ),
  } as unknown as Plugin;

  service.on('data', async (_lsn: string, msg: PgoutputMessage) => {
    queue.push(msg);
    signals.wake?.();
    if (queue.length >= QUEUE_HIGH_WATER) await new Promise<void>((r) => (signals.drained = r));
  });
  const buffer = new CommitBuffer<SourceChange>();
  // Set while a drained chunk is being handled (from splice to its flush).
  let busy = false;
  // A keepalive position to confirm once the loop sees that nothing is pending (see below).
  let idleKeepalive: string | null = null;
  const libIdle = () => {
    // pg-logical-replication (flowControl) queues XLogData but emits keepalives at once.
    const lib = service as unknown as { _messageQueue?: unknown[]; _processing?: boolean };
    return (lib._messageQueue?.length ?? 0) === 0 && !lib._processing;
  };
  service.on('heartbeat', async (lsn: string, _ts: number, shouldRespond: boolean) => {
    if (!shouldRespond) return;
    // Idle: every WAL byte the server sent up to `lsn` has been handled and nothing is pending,
    // so that position can be stored as a checkpoint and confirmed. Without it a fast shutdown of
    // the source hangs forever: each walsender waits until its client confirms all it was sent.
    if (libIdle() && queue.length === 0 && !busy && buffer.idle) {
      // The library confirms lsn + 1, and the walsender's shutdown waits for confirmed == sent
      // exactly, so pass lsn - 1: the wire then carries the keepalive's position itself.
      const upTo = bigIntToLsn(lsnToBigInt(lsn) - 1n);
      if (lsnToBigInt(upTo) > lsnToBigInt(ackedLsn)) {
        idleKeepalive = upTo; // store it as a checkpoint first, then confirm it (in the loop)
        signals.wake?.();
      } else {
        await service.acknowledge(upTo).catch(() => {});
      }
      return;
    }
    await service.acknowledge(ackedLsn).catch(() => {});
  });
  service.on('error', (e: Error) => {
    failure = e;
    signals.wake?.();
  });

  const onAbort = () => signals.wake?.();
  o.signal.addEventListener('abort', onAbort);
  const heartbeat = setInterval(() => {
    emitKeepaliveMessage(o.source).catch((e) => o.logger.warn({ err: e }, 'heartbeat message failed'));
  }, o.heartbeatMs ?? 10_000);

  const subscribed = service.subscribe(plugin, o.slotName).catch((e: Error) => {
    failure ??= e;
    signals.wake?.();
  });
  // An initial heartbeat moves an idle, freshly snapshotted version to its first checkpoint.
  await emitKeepaliveMessage(o.source).catch(() => {});


  const write = async (batch: SourceChange[], commit: CommittedBatch<SourceChange> | null) => {
    if (!commit && batch.length === 0) return;
    const started = performance.now();
    // Rows whose update carried unchanged TOAST values without a stored image are re-read from the
    // source by key inside the same storage transaction, before the checkpoint advances.
    const stats = await o.writer.flush(
      batch,
      commit ? { lsn: commit.lsn, transactions: commit.transactions, oldestCommitTime: commit.oldestCommitTime } : undefined,
      undefined,
      { reread: rereadRows },
    );
    o.metrics.recordFlush(stats.ops, commit ? commit.transactions : 0, performance.now() - started);
    for (const [id, n] of stats.unmatchedDeletes) anomalies.unmatchedDeletes(tableName(id), n);
    o.logger.debug({ changes: batch.length, ops: stats.ops, lsn: commit?.lsn, checkpoint: stats.checkpoint?.opId.toString() }, 'flush');
    if (commit) {
      if (stats.activated) o.logger.info({ version: o.writer.versionId, checkpoint: stats.checkpoint?.opId.toString() }, 'version activated');
      // Only now, after the storage commit, may Postgres forget the WAL up to this position.
      ackedLsn = commit.lsn;
      await service.acknowledge(commit.lsn);
    }
  };
  /**
   * Writes every complete transaction with a checkpoint at the last commit (the open transaction's
   * changes stay buffered), so checkpoints advance even when no chunk ends between transactions;
   * a transaction larger than the buffer is written in parts, without a checkpoint.
   */
  const flushCommitted = async () => {
    const committed = buffer.takeCommitted();
    if (committed) await write(committed.changes, committed);
    if (buffer.size >= maxBuffered) await write(buffer.takeAll(), null);
  };
  /** Writes everything buffered without a checkpoint (before inline table work). */
  const flushAll = () => write(buffer.takeAll(), null);

  try {
    while (!o.signal.aborted) {
      if (failure) throw failure;
      if (queue.length === 0 && idleKeepalive) {
        const upTo = idleKeepalive;
        idleKeepalive = null;
        if (libIdle() && buffer.idle) {
          buffer.keepalive(upTo);
          await flushCommitted();
        }
        continue;
      }
      if (queue.length === 0) {
        await new Promise<void>((r) => (signals.wake = r));
        signals.wake = null;
        continue;
      }
      busy = true;
      const chunk = queue.splice(0, queue.length);
      signals.drained?.();
      signals.drained = null;
      for (const msg of chunk) {
        switch (msg.tag) {
          case 'begin':
            buffer.begin();
            echo.begin();
            break;
          case 'commit':
            if (echo.commitIsEcho()) buffer.skipTransaction();
            else buffer.commit(msg.endLsn, msg.commitTime);
            o.metrics.lastSourceCommitTime = msg.commitTime;
            break;
          case 'relation':
            if (!echo.relation(msg.relationOid, msg.schema)) await handleRelation(msg);
            break;
          case 'insert':
          case 'update':
          case 'delete':
            if (!echo.change(msg.relationOid)) handleRow(msg);
            break;
          case 'truncate': {
            const oids = msg.relationOids.filter((oid) => !echo.change(oid));
            if (oids.length > 0) await handleTruncate(oids);
            break;
          }
          case 'message':
            if (!msg.transactional && msg.prefix === 'syncline') buffer.keepalive(msg.lsn);
            break;
          default:
            break;
        }
        if (buffer.size >= maxBuffered) await flushCommitted();
      }
      await flushCommitted();
      busy = false;
    }
  } finally {
    clearInterval(heartbeat);
    o.signal.removeEventListener('abort', onAbort);
    signals.drained?.();
    await service.stop().catch(() => {});
    // A stop that lands while the library is still starting replication can leave its subscribe
    // promise pending forever; the connection is closed either way, so wait a bounded time only.
    let bounded: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      subscribed.then(() => true),
      new Promise<boolean>((r) => (bounded = setTimeout(() => r(false), SUBSCRIBE_SETTLE_MS))),
    ]);
    clearTimeout(bounded);
    if (!settled) o.logger.warn({ slot: o.slotName }, 'replication connection did not report its end after stop; continuing without it');
  }

  function handleRow(msg: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>): void {
    const table = o.registry.get(msg.relationOid);
    if (!table) return;
    o.metrics.rowsReplicated++;
    if (msg.tag === 'insert') {
      pushUpsert(table, msg.new);
    } else if (msg.tag === 'update') {
      // pgoutput sends the old key (or FULL old row) only when the identity columns changed.
      const old = msg.old ?? msg.key;
      if (old) {
        const oldKey = sourceKeyOf(old, table.keyColumns);
        const newKey = sourceKeyOf(mergeUndefined(msg.new, old), table.keyColumns);
        if (!oldKey) anomalies.unkeyedChange(qualifiedName(table), 'update');
        else if (newKey && oldKey !== newKey) buffer.push({ sourceTable: table.info.id, evaluator: table.evaluator, key: oldKey, row: null });
      }
      pushUpsert(table, msg.new, msg.old);
    } else {
      const old = msg.old ?? msg.key;
      const key = old ? sourceKeyOf(old, table.keyColumns) : null;
      if (key) buffer.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row: null });
      else anomalies.unkeyedChange(qualifiedName(table), 'delete');
    }
  }

  function qualifiedName(table: ActiveTable): string {
    return `${table.info.schemaName}.${table.info.tableName}`;
  }

  function tableName(sourceTableId: number): string {
    const t = o.registry.all().find((x) => x.info.id === sourceTableId);
    return t ? qualifiedName(t) : `source table ${sourceTableId}`;
  }

  function pushUpsert(table: ActiveTable, row: Record<string, string | null | undefined>, old?: Record<string, string | null | undefined> | null): void {
    const key = sourceKeyOf(old ? mergeUndefined(row, old) : row, table.keyColumns);
    if (!key) {
      anomalies.unkeyedChange(qualifiedName(table), old === undefined ? 'insert' : 'update');
      return;
    }
    const oldImage = old && table.info.replicaIdentity === 'full' ? (old as Record<string, string | null>) : undefined;
    buffer.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row, oldImage });
  }

  async function handleRelation(rel: RelationMessage): Promise<void> {
    const desc = await o.registry.describe(o.source, rel.relationOid);
    if (!desc) return;
    const walColumns = rel.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    const r = await o.registry.resolve({ ...desc, replicaIdentity: rel.replicaIdentity }, walColumns);
    if (r.kind === 'known' || (r.kind === 'ignored' && r.replaced.length === 0)) return;
    // A table that appeared, changed identity or left the rules while streaming: remove the old
    // mapping's rows, then snapshot it inline (durable and resumable, see inline-snapshot.ts); no
    // checkpoint until the stream has passed the snapshot's end.
    await flushAll();
    if (r.kind === 'new') o.logger.info({ table: `${desc.schema}.${desc.name}` }, 'snapshotting table discovered while streaming');
    await applyResolved({ source: o.source, writer: o.writer, registry: o.registry, logger: o.logger, signal: o.signal }, r);
    if (r.kind === 'new') o.registry.setColumns(r.table, walColumns);
    await emitKeepaliveMessage(o.source).catch(() => {});
  }

  async function rereadRows(keys: Array<{ sourceTable: number; key: string }>): Promise<SourceChange[]> {
    const out: SourceChange[] = [];
    for (const table of o.registry.all()) {
      const mine = keys.filter((k) => k.sourceTable === table.info.id).map((k) => JSON.parse(k.key) as (string | null)[]);
      if (mine.length === 0) continue;
      o.logger.info({ table: table.info.tableName, rows: mine.length }, 're-reading rows whose TOAST values were not sent');
      const rows = await readRowsByKey(o.source, table, mine);
      const found = new Set<string>();
      for (const row of rows) {
        const key = sourceKeyOf(row, table.keyColumns)!;
        found.add(key);
        out.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row });
      }
      for (const k of mine) {
        const key = JSON.stringify(k);
        if (!found.has(key)) out.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row: null });
      }
    }
    return out;
  }

  async function handleTruncate(oids: number[]): Promise<void> {
    await flushAll();
    for (const oid of oids) {
      const table = o.registry.get(oid);
      if (table) await removeSourceTableRows(o.writer, table);
    }
  }
}

function mergeUndefined(row: Record<string, string | null | undefined>, old: Record<string, string | null | undefined>): Record<string, string | null | undefined> {
  const out = { ...row };
  for (const k in old) if (out[k] === undefined) out[k] = old[k];
  return out;
}
