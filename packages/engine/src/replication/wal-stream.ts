/**
 * Streams pgoutput changes from a version's slot into storage. Decoded messages are queued and a
 * single consumer drains them in chunks: all complete source transactions in a chunk are written
 * in one storage transaction, the checkpoint advances to the last commit, and only then is that
 * LSN acknowledged to Postgres (never before the storage commit). Large transactions are flushed
 * partway without a checkpoint.
 */
import { LogicalReplicationService } from 'pg-logical-replication';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PgReplicationWriter, SourceChange } from '../storage/pg-replication-writer.ts';
import { raiseNoCheckpointBefore } from '../storage/pg-source-tables.ts';
import { lsnToBigInt, bigIntToLsn, normalizeLsn } from './lsn.ts';
import { PgoutputDecoder, type PgoutputMessage, type RelationMessage } from './pgoutput-decoder.ts';
import { currentWalLsn, emitKeepaliveMessage } from './source-catalog.ts';
import type { ActiveTable, TableRegistry } from './table-registry.ts';
import { readRowsByKey, snapshotTable } from './table-snapshot.ts';
import { sourceKeyOf } from './table-evaluator.ts';
import type { ReplicationMetrics } from './replication-metrics.ts';

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
}

type Plugin = Parameters<LogicalReplicationService['subscribe']>[0];
const QUEUE_HIGH_WATER = 50_000;

export async function streamWal(o: WalStreamOptions): Promise<void> {
  const maxBuffered = o.maxBufferedChanges ?? 10_000;
  const decoder = new PgoutputDecoder();
  const queue: PgoutputMessage[] = [];
  const signals: { wake: (() => void) | null; drained: (() => void) | null } = { wake: null, drained: null };
  let failure: Error | null = null;

  const { rows } = await o.source.query<{ confirmed_flush_lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1',
    [o.slotName],
  );
  const confirmed = rows[0]?.confirmed_flush_lsn;
  // The library acknowledges lsn+1; keep "what we passed" so a re-ack never moves backwards.
  let ackedLsn = confirmed ? bigIntToLsn(lsnToBigInt(confirmed) - 1n) : '0/0';

  const service = new LogicalReplicationService(
    { connectionString: o.sourceUrl },
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
  let changes: SourceChange[] = [];
  let inTx = false;
  let txCount = 0;
  let oldestCommit: number | undefined;
  let commitLsn: string | null = null;
  let keepaliveLsn: string | null = null;
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
    if (libIdle() && queue.length === 0 && !busy && !inTx && changes.length === 0 && !commitLsn && !keepaliveLsn) {
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


  const flush = async (withCommit: boolean) => {
    const lsn = withCommit ? maxOf(commitLsn, keepaliveLsn) : null;
    if (!lsn && changes.length === 0) return;
    const batch = changes;
    changes = [];
    const started = performance.now();
    // Rows whose update carried unchanged TOAST values without a stored image are re-read from the
    // source by key inside the same storage transaction, before the checkpoint advances.
    const stats = await o.writer.flush(batch, lsn ? { lsn, transactions: txCount, oldestCommitTime: oldestCommit } : undefined, undefined, {
      reread: rereadRows,
    });
    o.metrics.recordFlush(stats.ops, lsn ? txCount : 0, performance.now() - started);
    o.logger.debug({ changes: batch.length, ops: stats.ops, lsn, checkpoint: stats.checkpoint?.opId.toString() }, 'flush');
    if (lsn) {
      if (stats.activated) o.logger.info({ version: o.writer.versionId, checkpoint: stats.checkpoint?.opId.toString() }, 'version activated');
      ackedLsn = lsn;
      await service.acknowledge(lsn);
      txCount = 0;
      oldestCommit = undefined;
      commitLsn = null;
      keepaliveLsn = null;
    }
  };

  try {
    while (!o.signal.aborted) {
      if (failure) throw failure;
      if (queue.length === 0 && idleKeepalive) {
        const upTo = idleKeepalive;
        idleKeepalive = null;
        if (libIdle() && !inTx && changes.length === 0 && !commitLsn && !keepaliveLsn) {
          keepaliveLsn = upTo;
          await flush(true);
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
            inTx = true;
            break;
          case 'commit':
            inTx = false;
            txCount++;
            oldestCommit ??= msg.commitTime;
            commitLsn = msg.endLsn;
            o.metrics.lastSourceCommitTime = msg.commitTime;
            break;
          case 'relation':
            await handleRelation(msg);
            break;
          case 'insert':
          case 'update':
          case 'delete':
            handleRow(msg);
            break;
          case 'truncate':
            await handleTruncate(msg.relationOids);
            break;
          case 'message':
            if (!msg.transactional && msg.prefix === 'syncline' && !inTx) keepaliveLsn = maxOf(keepaliveLsn, msg.lsn);
            break;
          default:
            break;
        }
        if (changes.length >= maxBuffered) await flush(false);
      }
      if (!inTx && (commitLsn || keepaliveLsn)) await flush(true);
      else if (changes.length >= maxBuffered) await flush(false);
      busy = false;
    }
  } finally {
    clearInterval(heartbeat);
    o.signal.removeEventListener('abort', onAbort);
    signals.drained?.();
    await service.stop().catch(() => {});
    await subscribed;
  }

  function handleRow(msg: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>): void {
    const table = o.registry.get(msg.relationOid);
    if (!table) return;
    o.metrics.rowsReplicated++;
    if (msg.tag === 'insert') {
      pushUpsert(table, msg.new);
    } else if (msg.tag === 'update') {
      const old = msg.old ?? msg.key;
      if (old) {
        const oldKey = sourceKeyOf(old, table.keyColumns);
        const newKey = sourceKeyOf(mergeUndefined(msg.new, old), table.keyColumns);
        if (oldKey && newKey && oldKey !== newKey) changes.push({ sourceTable: table.info.id, evaluator: table.evaluator, key: oldKey, row: null });
      }
      pushUpsert(table, msg.new, msg.old);
    } else {
      const old = msg.old ?? msg.key;
      const key = old ? sourceKeyOf(old, table.keyColumns) : null;
      if (key) changes.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row: null });
    }
  }

  function pushUpsert(table: ActiveTable, row: Record<string, string | null | undefined>, old?: Record<string, string | null | undefined> | null): void {
    const key = sourceKeyOf(old ? mergeUndefined(row, old) : row, table.keyColumns);
    if (!key) {
      o.logger.warn({ table: table.info.tableName }, 'row without key values skipped');
      return;
    }
    const oldImage = old && table.info.replicaIdentity === 'full' ? (old as Record<string, string | null>) : undefined;
    changes.push({ sourceTable: table.info.id, evaluator: table.evaluator, key, row, oldImage });
  }

  async function handleRelation(rel: RelationMessage): Promise<void> {
    const desc = await o.registry.describe(o.source, rel.relationOid);
    if (!desc) return;
    const walColumns = rel.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    const r = await o.registry.resolve({ ...desc, replicaIdentity: rel.replicaIdentity }, walColumns);
    if (r.kind !== 'new') return;
    // A table that appeared (or changed identity) while streaming: drop the old mapping's rows,
    // then snapshot it inline; no checkpoint until the stream has passed the snapshot's end.
    await flush(false);
    if (r.replaced) await removeAllRows(r.replaced);
    o.logger.info({ table: `${desc.schema}.${desc.name}` }, 'snapshotting table discovered while streaming');
    await snapshotTable(o.source, o.writer, r.table, (t, c) => o.registry.setColumns(t, c), o.logger, o.signal);
    o.registry.setColumns(r.table, walColumns);
    const lsn = normalizeLsn(await currentWalLsn(o.source));
    await raiseNoCheckpointBefore(o.writer.pool, o.writer.versionId, lsn);
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
    await flush(false);
    for (const oid of oids) {
      const table = o.registry.get(oid);
      if (table) await removeAllRows(table);
    }
  }

  async function removeAllRows(table: ActiveTable): Promise<void> {
    for (;;) {
      const { rows } = await o.writer.pool.query<{ source_key: string }>(
        'SELECT source_key FROM syncline.current_data WHERE version_id = $1 AND source_table = $2 LIMIT 10000',
        [o.writer.versionId, table.info.id],
      );
      if (rows.length === 0) break;
      await o.writer.flush(rows.map((r) => ({ sourceTable: table.info.id, evaluator: table.evaluator, key: r.source_key, row: null })));
    }
  }
}

function mergeUndefined(row: Record<string, string | null | undefined>, old: Record<string, string | null | undefined>): Record<string, string | null | undefined> {
  const out = { ...row };
  for (const k in old) if (out[k] === undefined) out[k] = old[k];
  return out;
}

function maxOf(a: string | null, b: string | null): string | null {
  if (!a) return b ? normalizeLsn(b) : null;
  if (!b) return normalizeLsn(a);
  return normalizeLsn(a) >= normalizeLsn(b) ? normalizeLsn(a) : normalizeLsn(b);
}
