/** Health probes and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import { replicationHealth, type VersionHealth } from '@syncline/engine';
import { checkAdminToken } from '../auth.ts';
import type { Services } from '../services.ts';

type MetricFn = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string | number>, number]>) => void;

/**
 * Replication-slot WAL gauges per deployed version, in every runner mode (they describe the source,
 * so an API process can warn as well): WAL retained vs the `max_slot_wal_keep_size` budget before
 * an invalidation, and `syncline_replication_slot_invalidated` = 1 after one (until the automatic
 * re-snapshot of a new version replaces it).
 */
async function slotMetrics(s: Services, metric: MetricFn): Promise<void> {
  const health = await replicationHealth({ storage: s.storage, source: s.source }).catch(() => null);
  if (!health) return;
  const slots = health.versions.map((v) => ({ labels: { version: v.versionId, slot: v.slotName }, v }));
  const some = (get: (v: VersionHealth) => number | null) =>
    slots.flatMap(({ labels, v }) => {
      const x = get(v);
      return x === null ? [] : [[labels, x] as [Record<string, string | number>, number]];
    });
  metric('syncline_replication_slot_retained_bytes', 'gauge', 'WAL kept on the source by each replication slot (current LSN - restart_lsn)', some((v) => v.walRetainedBytes));
  metric('syncline_replication_slot_lag_bytes', 'gauge', 'WAL not yet acknowledged by each slot (current LSN - confirmed_flush_lsn)', some((v) => v.lagBytes));
  metric('syncline_replication_slot_safe_wal_bytes', 'gauge', 'WAL the source can still write before the slot is invalidated (pg_replication_slots.safe_wal_size)', some((v) => v.safeWalBytes));
  metric('syncline_replication_slot_wal_budget_bytes', 'gauge', 'max_slot_wal_keep_size of the source (absent when unlimited)', some((v) => v.walBudgetBytes));
  metric(
    'syncline_replication_slot_wal_budget_used_ratio',
    'gauge',
    'Retained WAL / max_slot_wal_keep_size; the slot is invalidated at 1',
    some((v) => (v.walBudgetBytes && v.walRetainedBytes !== null ? Math.round((v.walRetainedBytes / v.walBudgetBytes) * 1000) / 1000 : null)),
  );
  metric('syncline_replication_slot_at_risk', 'gauge', '1 when the slot retains > 80 % of its WAL budget or its WAL is unreserved', some((v) => (v.slotRisk === 'critical' ? 1 : 0)));
  metric('syncline_replication_slot_invalidated', 'gauge', '1 when the slot was invalidated (wal_status lost) and the version must re-snapshot', some((v) => (v.slotRisk === 'lost' ? 1 : 0)));
}

export function registerProbeRoutes(app: FastifyInstance, s: Services): void {
  app.get('/probes/liveness', async () => ({ status: 'live', runner: s.config.SYNC_RUNNER }));

  app.get('/probes/readiness', async (_req, reply) => {
    const serving = s.watcher?.current() ?? null;
    let storage = true;
    await s.storage.query('SELECT 1').catch(() => (storage = false));
    const ready = storage && !s.shuttingDown && (s.watcher === null || serving !== null);
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : s.shuttingDown ? 'draining' : 'not_ready',
      storage,
      active_version: serving?.version.id ?? null,
      checkpoint: serving?.opId.toString() ?? null,
      reason: s.shuttingDown ? 'draining: this process is shutting down' : !storage ? 'storage database unreachable' : serving === null && s.watcher ? 'no active sync rules with a checkpoint yet' : undefined,
    };
  });

  /**
   * Process memory for operators and the memory benchmark. When node runs with --expose-gc, a
   * full GC runs first so heap numbers are live data, not garbage.
   */
  app.get('/api/admin/v1/debug/memory', async (req) => {
    checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    return { data: { gc: Boolean(gc), rss: m.rss, heap_used: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers, connections: s.connections.size } };
  });

  app.get('/metrics', async (_req, reply) => {
    const lines: string[] = [];
    const metric: MetricFn = (name, type, help, samples) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/"/g, '\\"')}"`).join(',');
        lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    };
    const m = s.metrics;
    metric('syncline_connections', 'gauge', 'Open sync streams in this process', [[{}, s.connections.size]]);
    metric('syncline_streams_opened_total', 'counter', 'Sync streams opened', [[{}, m.streamsOpened]]);
    metric('syncline_operations_synced_total', 'counter', 'Ops sent to clients', [[{}, m.opsSent]]);
    metric('syncline_data_synced_bytes_total', 'counter', 'Bytes sent on sync streams', [[{}, m.bytesSent]]);
    metric('syncline_write_checkpoints_total', 'counter', 'Write checkpoints created', [[{}, m.writeCheckpoints]]);
    metric('syncline_auth_failures_total', 'counter', 'Rejected client tokens', [[{}, m.authFailures]]);
    if (s.watcher) {
      metric('syncline_checkpoints_total', 'counter', 'Checkpoints observed by this API process', [[{}, s.watcher.checkpointsSeen]]);
      metric('syncline_checksum_cache_entries', 'gauge', 'Buckets in the shared checksum cache', [[{}, s.watcher.checksums.size]]);
    }
    if (s.replicator) {
      const rows: Array<[Record<string, number>, number]> = [];
      const ops: Array<[Record<string, number>, number]> = [];
      const txs: Array<[Record<string, number>, number]> = [];
      const lag: Array<[Record<string, number>, number]> = [];
      const unmatched: Array<[Record<string, number>, number]> = [];
      const unkeyed: Array<[Record<string, number>, number]> = [];
      for (const [version, r] of s.replicator.metrics()) {
        rows.push([{ version }, r.rowsReplicated + r.snapshotRows]);
        ops.push([{ version }, r.opsWritten]);
        txs.push([{ version }, r.transactions]);
        unmatched.push([{ version }, r.unmatchedDeletes]);
        unkeyed.push([{ version }, r.unkeyedChanges]);
        if (r.lastSourceCommitTime && r.lastCheckpointAt) lag.push([{ version }, Math.max(0, (r.lastCheckpointAt - r.lastSourceCommitTime) / 1000)]);
      }
      metric('syncline_replication_rows_total', 'counter', 'Source rows replicated (snapshot + stream)', rows);
      metric('syncline_replication_ops_total', 'counter', 'Bucket ops written', ops);
      metric('syncline_replication_transactions_total', 'counter', 'Source transactions replicated', txs);
      metric('syncline_replication_unmatched_deletes_total', 'counter', 'Deletes (or key changes) whose key matched no stored row; see the UNMATCHED_DELETE log lines', unmatched);
      metric('syncline_replication_unkeyed_changes_total', 'counter', 'Changes skipped because the WAL carried no key values; see the CHANGE_WITHOUT_KEY log lines', unkeyed);
      metric('syncline_replication_lag_seconds', 'gauge', 'Source commit to checkpoint delay of the last transaction', lag);
    }
    await slotMetrics(s, metric);
    const size = await s.storage
      .query<{ bytes: string }>(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'syncline' AND c.relkind = 'r'`)
      .catch(() => ({ rows: [{ bytes: '0' }] }));
    metric('syncline_storage_bytes', 'gauge', 'Size of the syncline storage schema', [[{}, Number(size.rows[0]?.bytes ?? 0)]]);
    reply.type('text/plain; version=0.0.4');
    return lines.join('\n') + '\n';
  });
}
