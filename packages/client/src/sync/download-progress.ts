/**
 * Download progress (reference client §2.11): per bucket, ops downloaded since the last complete
 * sync against the checkpoint's target count. If compaction made a target smaller than what was
 * already counted, all counters restart from zero rather than report more than 100 %.
 */
import type { DownloadProgress } from './sync-status.ts';
import type { BucketCounters } from './bucket-storage.ts';
import type { Checkpoint } from './sync-lines.ts';

export interface BucketProgress {
  priority: number;
  atLast: number;
  sinceLast: number;
  targetCount: number;
}

export function initialProgress(checkpoint: Checkpoint, counters: ReadonlyMap<string, BucketCounters>): Map<string, BucketProgress> {
  const out = new Map<string, BucketProgress>();
  let reset = false;
  for (const b of checkpoint.buckets.values()) {
    const c = counters.get(b.bucket) ?? { atLast: 0, sinceLast: 0 };
    const targetCount = b.count ?? c.atLast + c.sinceLast;
    if (targetCount < c.atLast + c.sinceLast) reset = true;
    out.set(b.bucket, { priority: b.priority, atLast: c.atLast, sinceLast: c.sinceLast, targetCount });
  }
  if (reset) for (const p of out.values()) Object.assign(p, { atLast: 0, sinceLast: 0 });
  return out;
}

export function addDownloaded(progress: Map<string, BucketProgress>, bucket: string, count: number): void {
  const p = progress.get(bucket);
  if (p) p.sinceLast += count;
}

function summarise(progress: ReadonlyMap<string, BucketProgress>, maxPriority: number): Omit<DownloadProgress, 'untilPriority'> {
  let downloaded = 0;
  let total = 0;
  for (const p of progress.values()) {
    if (p.priority > maxPriority) continue;
    const target = Math.max(0, p.targetCount - p.atLast);
    total += target;
    downloaded += Math.min(p.sinceLast, target);
  }
  return { downloadedOperations: downloaded, totalOperations: total, downloadedFraction: total === 0 ? 1 : downloaded / total };
}

/** Progress over the named buckets only (unknown names count nothing). */
export function summariseBuckets(progress: ReadonlyMap<string, BucketProgress>, names: readonly string[]): Omit<DownloadProgress, 'untilPriority'> {
  const subset = new Map<string, BucketProgress>();
  for (const n of names) {
    const p = progress.get(n);
    if (p) subset.set(n, p);
  }
  return summarise(subset, Number.MAX_SAFE_INTEGER);
}

export function toDownloadProgress(progress: ReadonlyMap<string, BucketProgress>): DownloadProgress {
  const snapshot = new Map([...progress].map(([k, v]) => [k, { ...v }]));
  return { ...summarise(snapshot, Number.MAX_SAFE_INTEGER), untilPriority: (p) => summarise(snapshot, p) };
}
