/**
 * The long-lived Compactor component: compacts fragmented buckets of the serving version every
 * `intervalMs` (and on demand), one run at a time per process (and per version across processes,
 * through the compaction lock). stop() aborts a running run between two batches.
 *
 * @example
 * const compactor = new Compactor({ storage, logger });
 * compactor.start();
 * await compactor.compactNow({ buckets: ['1#global[]'] });
 * await compactor.stop();
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { getServingVersion } from '../storage/pg-versions.ts';
import { CompactionError } from './compaction-errors.ts';
import { runCompaction, type CompactionRunOptions, type CompactionRunReport } from './compaction-run.ts';
import { defragmentBucket, type DefragmentOptions, type DefragmentResult } from './defragment.ts';

export interface CompactorOptions {
  storage: pg.Pool;
  logger: Logger;
  /** Time between scheduled runs (default 10 minutes). */
  intervalMs?: number;
  /** Bucket picking thresholds for scheduled runs (see CompactionRunOptions). */
  minOps?: number;
  minRatio?: number;
  /**
   * Parameter rows, and in scheduled runs the CLEAR pass, only go up to a checkpoint at least this
   * old (default 5 minutes), so every API process has already computed which lookups changed up to
   * it and no connection still resolves parameters, or downloads, below it. On-demand runs CLEAR
   * up to the current checkpoint (the operator asked for it now).
   */
  parameterHorizonMs?: number;
}

export interface CompactorStatus {
  running: boolean;
  lastRun: { at: string; versionId: number; buckets: number; moved: number; removed: number; durationMs: number } | null;
  lastError: string | null;
}

export class Compactor {
  private timer: NodeJS.Timeout | null = null;
  private abort = new AbortController();
  private current: Promise<unknown> | null = null;
  private readonly compactedAt = new Map<string, bigint>();
  private readonly checkpoints: Array<{ at: number; versionId: number; opId: bigint }> = [];
  private status: CompactorStatus = { running: false, lastRun: null, lastError: null };

  constructor(private readonly o: CompactorOptions) {}

  start(): void {
    if (this.timer) return;
    this.abort = new AbortController();
    const interval = this.o.intervalMs ?? 600_000;
    // Sample checkpoints more often than we compact, for the parameter horizon.
    const tick = Math.min(interval, 60_000);
    let sinceRun = 0;
    this.timer = setInterval(() => {
      void this.sampleCheckpoint();
      sinceRun += tick;
      if (sinceRun >= interval && !this.current) {
        sinceRun = 0;
        void this.scheduled();
      }
    }, tick);
    this.timer.unref();
    void this.sampleCheckpoint();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.current?.catch(() => {});
  }

  getStatus(): CompactorStatus {
    return { ...this.status, running: this.current !== null };
  }

  /** On-demand run (admin API). Throws COMPACTION_BUSY while another run holds the version. */
  compactNow(opts: Pick<CompactionRunOptions, 'buckets' | 'minOps' | 'minRatio'> = {}): Promise<CompactionRunReport> {
    return this.exclusive(() => runCompaction(this.o.storage, { ...opts, signal: this.abort.signal, parameterHorizon: this.parameterHorizon() }));
  }

  /** Operator action: re-emit a bucket's live rows so compaction can clear the rest. */
  defragment(bucket: string, opts: DefragmentOptions = {}): Promise<DefragmentResult> {
    return this.exclusive(async () => {
      const v = await getServingVersion(this.o.storage);
      if (!v) throw new CompactionError('NO_ACTIVE_VERSION', 'No served sync-rules version: nothing to defragment.');
      return defragmentBucket(this.o.storage, v.id, bucket, { ...opts, signal: this.abort.signal });
    });
  }

  private async scheduled(): Promise<void> {
    try {
      const horizon = this.parameterHorizon();
      const report = await this.exclusive(() =>
        runCompaction(this.o.storage, {
          minOps: this.o.minOps,
          minRatio: this.o.minRatio,
          signal: this.abort.signal,
          parameterHorizon: horizon,
          clearUpTo: horizon,
          shouldCompact: (b, lastOp) => this.compactedAt.get(b) !== lastOp,
        }),
      );
      // A bucket is done once a CLEAR pass covered all of it; otherwise the next run retries it.
      for (const [b, op] of report.lastOps) if (horizon === undefined || (horizon !== null && horizon >= op)) this.compactedAt.set(b, op);
      if (this.compactedAt.size > 1_000_000) this.compactedAt.clear();
    } catch (e) {
      if (e instanceof CompactionError && (e.code === 'COMPACTION_BUSY' || e.code === 'NO_ACTIVE_VERSION' || e.code === 'COMPACTION_ABORTED')) return;
      // Already logged and recorded by exclusive().
    }
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.current) throw new CompactionError('COMPACTION_BUSY', 'A compaction or defragmentation is already running in this process; retry when it finishes.');
    const p = fn();
    this.current = p;
    try {
      const r = await p;
      if (isRunReport(r)) {
        const moved = r.buckets.reduce((n, b) => n + b.moved, 0);
        const removed = r.buckets.reduce((n, b) => n + b.removed, 0);
        this.status.lastRun = { at: new Date().toISOString(), versionId: r.versionId, buckets: r.buckets.length, moved, removed, durationMs: r.durationMs };
        if (r.buckets.length > 0) this.o.logger.info({ version: r.versionId, buckets: r.buckets.length, moved, removed, ms: r.durationMs }, 'compaction run finished');
      }
      this.status.lastError = null;
      return r;
    } catch (e) {
      const expected = e instanceof CompactionError && e.code !== 'CONCURRENT_MODIFICATION';
      if (!expected) {
        this.status.lastError = e instanceof Error ? e.message : String(e);
        this.o.logger.warn({ err: e }, 'compaction failed');
      }
      throw e;
    } finally {
      this.current = null;
    }
  }

  private async sampleCheckpoint(): Promise<void> {
    try {
      const v = await getServingVersion(this.o.storage);
      if (!v || v.lastCheckpoint === null) return;
      this.checkpoints.push({ at: Date.now(), versionId: v.id, opId: v.lastCheckpoint });
      const keepMs = (this.o.parameterHorizonMs ?? 300_000) * 2 + 120_000;
      while (this.checkpoints.length > 2 && Date.now() - this.checkpoints[0]!.at > keepMs) this.checkpoints.shift();
    } catch {
      // Sampling is best effort; the parameter index is simply not compacted this time.
    }
  }

  /**
   * Newest sampled checkpoint of the serving version older than parameterHorizonMs; null (skip the
   * index this time) when there is none yet; undefined (= the run's checkpoint) when the age is 0.
   */
  private parameterHorizon(): bigint | null | undefined {
    const age = this.o.parameterHorizonMs ?? 300_000;
    if (age === 0) return undefined;
    const latest = this.checkpoints[this.checkpoints.length - 1];
    let best: bigint | null = null;
    for (const c of this.checkpoints) if (c.versionId === latest?.versionId && Date.now() - c.at >= age) best = c.opId;
    return best;
  }
}

function isRunReport(r: unknown): r is CompactionRunReport {
  return typeof r === 'object' && r !== null && 'buckets' in r && Array.isArray((r as CompactionRunReport).buckets);
}
