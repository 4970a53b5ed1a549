/**
 * Prometheus metrics at GET /metrics. Every sample carries `process` (PROCESS_NAME) and `runner`
 * labels, so a cluster's processes can be scraped by one job and told apart; plus
 * `syncline_process_info{process,runner,version} 1` and the process's CPU and memory.
 */
import type { FastifyInstance } from 'fastify';
import { replicationHealth, type VersionHealth } from '@syncline/engine';
import { PrometheusText, type Labels } from '../process/prometheus-text.ts';
import type { Services } from '../services.ts';

/**
 * Replication-slot WAL gauges per deployed version, in every runner mode (they describe the source,
 * so an API process can warn as well): WAL retained vs the `max_slot_wal_keep_size` budget before
 * an invalidation, and `syncline_replication_slot_invalidated` = 1 after one (until the automatic
 * re-snapshot of a new version replaces it).
 */
async function slotMetrics(s: Services, out: PrometheusText): Promise<void> {
  const health = await replicationHealth({ storage: s.storage, source: s.source }).catch(() => null);
  if (!health) return;
  const slots = health.versions.map((v) => ({ labels: { version: v.versionId, slot: v.slotName }, v }));
  const some = (get: (v: VersionHealth) => number | null) =>
    slots.flatMap(({ labels, v }) => {
      const x = get(v);
      return x === null ? [] : [[labels, x] as const];
    });
  out.metric('syncline_replication_slot_retained_bytes', 'gauge', 'WAL kept on the source by each replication slot (current LSN - restart_lsn)', some((v) => v.walRetainedBytes));
  out.metric('syncline_replication_slot_lag_bytes', 'gauge', 'WAL not yet acknowledged by each slot (current LSN - confirmed_flush_lsn)', some((v) => v.lagBytes));
  out.metric('syncline_replication_slot_safe_wal_bytes', 'gauge', 'WAL the source can still write before the slot is invalidated (pg_replication_slots.safe_wal_size)', some((v) => v.safeWalBytes));
  out.metric('syncline_replication_slot_wal_budget_bytes', 'gauge', 'max_slot_wal_keep_size of the source (absent when unlimited)', some((v) => v.walBudgetBytes));
  out.metric(
    'syncline_replication_slot_wal_budget_used_ratio',
    'gauge',
    'Retained WAL / max_slot_wal_keep_size; the slot is invalidated at 1',
    some((v) => (v.walBudgetBytes && v.walRetainedBytes !== null ? Math.round((v.walRetainedBytes / v.walBudgetBytes) * 1000) / 1000 : null)),
  );
  out.metric('syncline_replication_slot_at_risk', 'gauge', '1 when the slot retains > 80 % of its WAL budget or its WAL is unreserved', some((v) => (v.slotRisk === 'critical' ? 1 : 0)));
  out.metric('syncline_replication_slot_invalidated', 'gauge', '1 when the slot was invalidated (wal_status lost) and the version must re-snapshot', some((v) => (v.slotRisk === 'lost' ? 1 : 0)));
}

function processMetrics(s: Services, out: PrometheusText): void {
  const f = s.processes.figures(false);
  const id = s.processes.identity;
  out.metric('syncline_process_info', 'gauge', 'Always 1: this process, its runner mode and version', [[{ version: id.version }, 1]]);
  out.metric('syncline_process_start_time_seconds', 'gauge', 'Start time of the process (seconds since the epoch)', [[{}, Math.round((Date.now() - process.uptime() * 1000) / 1000)]]);
  out.metric('syncline_process_cpu_seconds_total', 'counter', 'User and system CPU time of the process', [[{}, Math.round(f.cpuSecondsTotal * 1000) / 1000]]);
  out.metric('syncline_process_cpu_percent', 'gauge', 'CPU use between the last two heartbeats, in % of one core', [[{}, f.cpuPercent]]);
  out.metric('syncline_process_resident_memory_bytes', 'gauge', 'Resident set size of the process', [[{}, f.rssBytes]]);
  out.metric('syncline_process_heap_used_bytes', 'gauge', 'V8 heap in use', [[{}, f.heapUsedBytes]]);
  out.metric('syncline_process_draining', 'gauge', '1 while the process drains after SIGTERM', [[{}, s.shuttingDown ? 1 : 0]]);
  if (s.replicator) {
    const active = new Set(f.activeVersions);
    out.metric(
      'syncline_replicator_active',
      'gauge',
      '1 for each version this process replicates (holds the lock of), 0 for versions it stands by for',
      [...f.activeVersions.map((v) => [{ version: v }, 1] as const), ...f.standbyVersions.filter((v) => !active.has(v)).map((v) => [{ version: v }, 0] as const)],
    );
  }
}

export function registerMetricsRoutes(app: FastifyInstance, s: Services): void {
  app.get('/metrics', async (_req, reply) => {
    const out = new PrometheusText({ process: s.config.PROCESS_NAME, runner: s.config.SYNC_RUNNER });
    const m = s.metrics;
    processMetrics(s, out);
    out.metric('syncline_connections', 'gauge', 'Open sync streams in this process', [[{}, s.connections.size]]);
    out.metric('syncline_stream_write_ahead_bytes', 'gauge', 'Bytes HTTP sync streams hold ahead of clients that are not reading', [[{}, s.writeAhead.inUse]]);
    out.metric('syncline_streams_opened_total', 'counter', 'Sync streams opened', [[{}, m.streamsOpened]]);
    out.metric('syncline_operations_synced_total', 'counter', 'Ops sent to clients', [[{}, m.opsSent]]);
    out.metric('syncline_data_synced_bytes_total', 'counter', 'Bytes sent on sync streams', [[{}, m.bytesSent]]);
    out.metric('syncline_write_checkpoints_total', 'counter', 'Write checkpoints created', [[{}, m.writeCheckpoints]]);
    out.metric('syncline_auth_failures_total', 'counter', 'Rejected client tokens', [[{}, m.authFailures]]);
    if (s.watcher) {
      out.metric('syncline_checkpoints_total', 'counter', 'Checkpoints observed by this API process', [[{}, s.watcher.checkpointsSeen]]);
      out.metric('syncline_checksum_cache_entries', 'gauge', 'Buckets in the shared checksum cache', [[{}, s.watcher.checksums.size]]);
    }
    if (s.replicator) {
      const rows: Array<[Labels, number]> = [];
      const ops: Array<[Labels, number]> = [];
      const txs: Array<[Labels, number]> = [];
      const lag: Array<[Labels, number]> = [];
      const unmatched: Array<[Labels, number]> = [];
      const unkeyed: Array<[Labels, number]> = [];
      for (const [version, r] of s.replicator.metrics()) {
        rows.push([{ version }, r.rowsReplicated + r.snapshotRows]);
        ops.push([{ version }, r.opsWritten]);
        txs.push([{ version }, r.transactions]);
        unmatched.push([{ version }, r.unmatchedDeletes]);
        unkeyed.push([{ version }, r.unkeyedChanges]);
        if (r.lastSourceCommitTime && r.lastCheckpointAt) lag.push([{ version }, Math.max(0, (r.lastCheckpointAt - r.lastSourceCommitTime) / 1000)]);
      }
      out.metric('syncline_replication_rows_total', 'counter', 'Source rows replicated (snapshot + stream)', rows);
      out.metric('syncline_replication_ops_total', 'counter', 'Bucket ops written', ops);
      out.metric('syncline_replication_transactions_total', 'counter', 'Source transactions replicated', txs);
      out.metric('syncline_replication_unmatched_deletes_total', 'counter', 'Deletes (or key changes) whose key matched no stored row; see the UNMATCHED_DELETE log lines', unmatched);
      out.metric('syncline_replication_unkeyed_changes_total', 'counter', 'Changes skipped because the WAL carried no key values; see the CHANGE_WITHOUT_KEY log lines', unkeyed);
      out.metric('syncline_replication_lag_seconds', 'gauge', 'Source commit to checkpoint delay of the last transaction', lag);
    }
    await slotMetrics(s, out);
    const size = await s.storage
      .query<{ bytes: string }>(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'syncline' AND c.relkind = 'r'`)
      .catch(() => ({ rows: [{ bytes: '0' }] }));
    out.metric('syncline_storage_bytes', 'gauge', 'Size of the syncline storage schema', [[{}, Number(size.rows[0]?.bytes ?? 0)]]);
    reply.type('text/plain; version=0.0.4');
    return out.text();
  });
}
