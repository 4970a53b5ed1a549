/**
 * The Cluster view of the admin API: every sync-api process with its role, version, uptime,
 * connections, memory, CPU and status; the active replicator and standbys per version; and the
 * processes' history for charts (downsampled).
 */
import { getVersionsInState } from '../storage/pg-versions.ts';
import { listProcessSamples, listStoredProcesses } from '../storage/pg-processes.ts';
import type { AdminDeps } from './admin-deps.ts';
import { downsampleHistory, processStatus, replicatorsByVersion, type HistoryBucket, type ProcessStatus, type VersionReplicators } from './cluster-view.ts';

/** Heartbeat sample interval of the ProcessRegistry (ms): the finest history resolution. */
export const PROCESS_SAMPLE_MS = 10_000;

export interface ClusterProcess {
  id: string;
  name: string;
  runner: string;
  version: string;
  pid: number;
  host: string;
  status: ProcessStatus;
  startedAt: string;
  heartbeatAt: string;
  uptimeSeconds: number;
  secondsSinceHeartbeat: number;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuPercent: number;
  activeVersions: number[];
  standbyVersions: number[];
  replicationLagMs: number | null;
}

export interface ClusterOverview {
  at: string;
  processes: ClusterProcess[];
  versions: VersionReplicators[];
  /** Open streams of live processes. */
  totalConnections: number;
}

export async function clusterOverview(deps: AdminDeps): Promise<ClusterOverview> {
  const [stored, versions] = await Promise.all([listStoredProcesses(deps.storage), getVersionsInState(deps.storage, ['PROCESSING', 'ACTIVE'])]);
  const now = Date.now();
  const processes: ClusterProcess[] = stored.map((p) => {
    const status = processStatus(p.state, p.secondsSinceHeartbeat);
    return {
      id: p.id,
      name: p.name,
      runner: p.runner,
      version: p.version,
      pid: p.pid,
      host: p.host,
      status,
      startedAt: p.startedAt.toISOString(),
      heartbeatAt: p.heartbeatAt.toISOString(),
      // By the database clock: start → last heartbeat, plus the time since for a live process.
      uptimeSeconds: Math.max(0, Math.round((p.heartbeatAt.getTime() - p.startedAt.getTime()) / 1000 + (status === 'gone' || status === 'stopped' ? 0 : p.secondsSinceHeartbeat))),
      secondsSinceHeartbeat: Math.round(p.secondsSinceHeartbeat * 10) / 10,
      connections: status === 'gone' || status === 'stopped' ? 0 : p.connections,
      rssBytes: p.rssBytes,
      heapUsedBytes: p.heapUsedBytes,
      cpuPercent: p.cpuPercent,
      activeVersions: [...p.activeVersions],
      standbyVersions: [...p.standbyVersions],
      replicationLagMs: p.replicationLagMs,
    };
  });
  return {
    at: new Date(now).toISOString(),
    processes,
    versions: replicatorsByVersion(versions, processes),
    totalConnections: processes.reduce((n, p) => n + p.connections, 0),
  };
}

export interface ClusterHistory {
  minutes: number;
  bucketSeconds: number;
  /** Every process with samples in the window (id → name), including gone ones. */
  processes: Array<{ id: string; name: string }>;
  buckets: HistoryBucket[];
}

/** History of the last `minutes` (1–1440) in at most `points` buckets per process. */
export async function clusterHistory(deps: AdminDeps, opts: { minutes: number; points?: number }): Promise<ClusterHistory> {
  const minutes = Math.min(Math.max(Math.round(opts.minutes), 1), 1440);
  const points = Math.min(Math.max(opts.points ?? 120, 10), 500);
  const samples = await listProcessSamples(deps.storage, minutes);
  const toMs = Date.now();
  const fromMs = toMs - minutes * 60_000;
  const names = new Map<string, string>();
  for (const s of samples) names.set(s.processId, s.processName);
  const buckets = downsampleHistory(
    samples.map((s) => ({ ...s, at: s.sampledAt.getTime() })),
    { fromMs, toMs, maxPoints: points, minBucketMs: PROCESS_SAMPLE_MS },
  );
  return {
    minutes,
    bucketSeconds: Math.max(PROCESS_SAMPLE_MS, Math.ceil((toMs - fromMs) / points)) / 1000,
    processes: [...names].map(([id, name]) => ({ id, name })),
    buckets,
  };
}
