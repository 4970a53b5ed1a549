/**
 * Pure parts of the Cluster view: a process's status from its last heartbeat, the active replicator
 * and standbys per version, and history downsampled to a bounded number of time buckets.
 */
import type { ProcessState } from '../storage/pg-processes.ts';

/** What the Cluster page shows: the reported state, or `gone` once heartbeats stopped. */
export type ProcessStatus = ProcessState | 'gone';

/** Heartbeats are written every 5 s: three missed ones mean the process is gone. */
export const PROCESS_STALE_SECONDS = 20;
/** Rows of gone or stopped processes are deleted this long after their last heartbeat. */
export const PROCESS_REMOVE_AFTER_SECONDS = 600;

/**
 * A process whose heartbeat is older than `staleSeconds` is `gone` (killed, frozen or cut off from
 * storage), unless it said it stopped; otherwise its own state.
 */
export function processStatus(state: ProcessState, secondsSinceHeartbeat: number, staleSeconds = PROCESS_STALE_SECONDS): ProcessStatus {
  if (state === 'stopped') return 'stopped';
  return secondsSinceHeartbeat > staleSeconds ? 'gone' : state;
}

/** True for statuses of a process that still runs (its versions and connections count). */
export function isLive(status: ProcessStatus): boolean {
  return status !== 'gone' && status !== 'stopped';
}

export interface ReplicationHolder {
  id: string;
  name: string;
  status: ProcessStatus;
  activeVersions: readonly number[];
  standbyVersions: readonly number[];
  replicationLagMs: number | null;
}

export interface VersionReplicators {
  versionId: number;
  state: string;
  /** The live process holding the version's lock, or null while none does (failover in progress). */
  active: { id: string; name: string; lagMs: number | null } | null;
  /** More than one live process claims the version: should never happen (fencing); shown loudly. */
  conflicting: string[];
  /** Live replicators waiting for the version's lock. */
  standbys: Array<{ id: string; name: string }>;
}

/** Active replicator and standbys per version, from the processes' own reports (live ones only). */
export function replicatorsByVersion(versions: ReadonlyArray<{ id: number; state: string }>, processes: readonly ReplicationHolder[]): VersionReplicators[] {
  const live = processes.filter((p) => isLive(p.status));
  return versions.map((v) => {
    const holders = live.filter((p) => p.activeVersions.includes(v.id));
    const first = holders[0];
    return {
      versionId: v.id,
      state: v.state,
      active: first ? { id: first.id, name: first.name, lagMs: first.replicationLagMs } : null,
      conflicting: holders.length > 1 ? holders.map((h) => h.name) : [],
      standbys: live.filter((p) => p.standbyVersions.includes(v.id) && !p.activeVersions.includes(v.id)).map((p) => ({ id: p.id, name: p.name })),
    };
  });
}

export interface SamplePoint {
  processId: string;
  /** ms since epoch */
  at: number;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuPercent: number;
  replicationLagMs: number | null;
}

export interface ProcessPoint {
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  cpuPercent: number;
  replicationLagMs: number | null;
}

export interface HistoryBucket {
  /** Start of the bucket, ISO time. */
  t: string;
  /** Per process id: the mean of its samples in the bucket (lag: the maximum); absent without samples. */
  byProcess: Record<string, ProcessPoint>;
}

/**
 * Groups samples into at most `maxPoints` equal time buckets between `fromMs` and `toMs` (never
 * narrower than `minBucketMs`, the sampling interval, so a bucket holds ≥ 1 sample of a live process).
 * Buckets without any sample are left out; a process missing from a bucket shows as a gap.
 */
export function downsampleHistory(samples: readonly SamplePoint[], opts: { fromMs: number; toMs: number; maxPoints: number; minBucketMs: number }): HistoryBucket[] {
  const span = Math.max(1, opts.toMs - opts.fromMs);
  const bucketMs = Math.max(opts.minBucketMs, Math.ceil(span / Math.max(1, opts.maxPoints)));
  const acc = new Map<number, Map<string, { n: number; connections: number; rss: number; heap: number; cpu: number; lag: number | null }>>();
  for (const s of samples) {
    if (s.at < opts.fromMs || s.at > opts.toMs) continue;
    const b = Math.floor((s.at - opts.fromMs) / bucketMs);
    let bucket = acc.get(b);
    if (!bucket) acc.set(b, (bucket = new Map()));
    const a = bucket.get(s.processId) ?? { n: 0, connections: 0, rss: 0, heap: 0, cpu: 0, lag: null };
    a.n++;
    a.connections += s.connections;
    a.rss += s.rssBytes;
    a.heap += s.heapUsedBytes;
    a.cpu += s.cpuPercent;
    if (s.replicationLagMs !== null) a.lag = Math.max(a.lag ?? 0, s.replicationLagMs);
    bucket.set(s.processId, a);
  }
  return [...acc.keys()]
    .sort((x, y) => x - y)
    .map((b) => {
      const byProcess: Record<string, ProcessPoint> = {};
      for (const [id, a] of acc.get(b)!) {
        byProcess[id] = {
          connections: Math.round((a.connections / a.n) * 10) / 10,
          rssBytes: Math.round(a.rss / a.n),
          heapUsedBytes: Math.round(a.heap / a.n),
          cpuPercent: Math.round((a.cpu / a.n) * 10) / 10,
          replicationLagMs: a.lag,
        };
      }
      return { t: new Date(opts.fromMs + b * bucketMs).toISOString(), byProcess };
    });
}
