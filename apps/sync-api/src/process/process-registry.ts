/**
 * Registers this process in the storage database (syncline.processes) and heartbeats it every few
 * seconds with its state, open connections, memory, CPU and replication role, so the dashboard's
 * Cluster page sees every process of the deployment. Every other heartbeat also appends a history
 * sample (pruned after 24 h). On shutdown: `markDraining()` when draining starts, `stop()` at the
 * end (the row then reads `stopped`); rows of processes that stopped heartbeating are deleted by
 * whichever process heartbeats next, after PROCESS_REMOVE_AFTER_SECONDS.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  deleteGoneProcesses,
  insertProcessSample,
  PROCESS_REMOVE_AFTER_SECONDS,
  PROCESS_SAMPLE_MS,
  setProcessState,
  upsertProcessHeartbeat,
  type ProcessHeartbeat,
  type ProcessIdentity,
  type ProcessState,
  type Replicator,
} from '@syncline/engine';
import { cpuPercent, type CpuReading } from './cpu-percent.ts';

export const HEARTBEAT_MS = 5_000;

export interface ProcessRegistryOptions {
  db: pg.Pool;
  logger: Logger;
  identity: Omit<ProcessIdentity, 'pid' | 'host'> & Partial<Pick<ProcessIdentity, 'pid' | 'host'>>;
  /** Open sync streams of this process. */
  connections: () => number;
  /** `ready` once the process can serve (an API process: it has a checkpoint), else `starting`. */
  ready: () => boolean;
  /** Versions whose op-log this process may read (the API's serving version, open streams'). */
  versionsRead: () => readonly number[];
  /** A heartbeat stored `versionsRead()` as it was at `at` (performance.now(), taken before the write). */
  versionsReported?: (at: number) => void;
  replicator: Pick<Replicator, 'runningVersions' | 'standbyVersions' | 'metrics'> | null;
  heartbeatMs?: number;
  sampleMs?: number;
}

/** The latest figures of this process (also rendered by /metrics). */
export interface ProcessFigures extends ProcessHeartbeat {
  cpuSecondsTotal: number;
}

export class ProcessRegistry {
  readonly identity: ProcessIdentity;
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private stopped = false;
  private beating: Promise<void> | null = null;
  private lastCpu: CpuReading = { usage: process.cpuUsage(), atMs: performance.now() };
  private lastCpuPercent = 0;
  private lastSampleAt = 0;

  constructor(private readonly o: ProcessRegistryOptions) {
    this.identity = { pid: process.pid, host: hostname(), ...o.identity };
  }

  get id(): string {
    return this.identity.id;
  }

  /** Registers the process now, then heartbeats in the background. */
  async start(): Promise<void> {
    await this.beat().catch((e: unknown) => this.o.logger.warn({ err: e }, 'process registration failed; retried at the next heartbeat'));
    this.timer = setInterval(() => void this.beat().catch((e: unknown) => this.o.logger.warn({ err: e }, 'process heartbeat failed')), this.o.heartbeatMs ?? HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Reports `draining` at once (the shutdown path calls this when it stops accepting streams). */
  async markDraining(): Promise<void> {
    if (this.draining || this.stopped) return;
    this.draining = true;
    await this.beat().catch((e: unknown) => this.o.logger.warn({ err: e }, 'could not report draining'));
  }

  /** Stops heartbeating and marks the row `stopped` (kept for a while so operators see the clean exit). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.beating?.catch(() => {});
    await setProcessState(this.o.db, this.id, 'stopped').catch((e: unknown) => this.o.logger.warn({ err: e }, 'could not mark the process stopped'));
  }

  /** Current figures, measuring CPU since the previous call (used by heartbeats and /metrics). */
  figures(measureCpu = true): ProcessFigures {
    const now: CpuReading = { usage: process.cpuUsage(), atMs: performance.now() };
    if (measureCpu && now.atMs - this.lastCpu.atMs >= 1_000) {
      this.lastCpuPercent = cpuPercent(this.lastCpu, now);
      this.lastCpu = now;
    }
    const mem = process.memoryUsage();
    const r = this.o.replicator;
    let lag: number | null = null;
    if (r) {
      for (const [, m] of r.metrics()) {
        if (m.lastSourceCommitTime && m.lastCheckpointAt) lag = Math.max(lag ?? 0, m.lastCheckpointAt - m.lastSourceCommitTime);
      }
    }
    return {
      state: this.state(),
      connections: this.o.connections(),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      cpuPercent: this.lastCpuPercent,
      cpuSecondsTotal: (now.usage.user + now.usage.system) / 1e6,
      activeVersions: r ? r.runningVersions() : [],
      standbyVersions: r ? r.standbyVersions() : [],
      servingVersions: this.o.versionsRead(),
      replicationLagMs: lag === null ? null : Math.max(0, lag),
    };
  }

  private state(): ProcessState {
    if (this.stopped) return 'stopped';
    if (this.draining) return 'draining';
    return this.o.ready() ? 'ready' : 'starting';
  }

  private beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.writeHeartbeat().finally(() => (this.beating = null));
    return this.beating;
  }

  private async writeHeartbeat(): Promise<void> {
    if (this.stopped) return;
    const at = performance.now();
    const h = this.figures();
    await upsertProcessHeartbeat(this.o.db, this.identity, h);
    this.o.versionsReported?.(at);
    const now = Date.now();
    if (now - this.lastSampleAt >= (this.o.sampleMs ?? PROCESS_SAMPLE_MS) - 500) {
      this.lastSampleAt = now;
      await insertProcessSample(this.o.db, this.identity, h);
      await deleteGoneProcesses(this.o.db, PROCESS_REMOVE_AFTER_SECONDS);
    }
  }
}
