/**
 * Op-log compaction (issue 8): fragmentation report (buckets ranked by ops per live row and by
 * size), compact now (every fragmented bucket or the given ones), defragment one bucket, and the
 * scheduled Compactor's status. Runs through the process's Compactor when it has one (so its status
 * records the run), else directly; either way one run per version at a time across processes
 * (CONFLICT while another runs).
 */
import { z } from 'zod';
import { ServiceError } from '@syncline/protocol';
import {
  CompactionError,
  compactionToServiceError,
  defragmentBucket,
  getFragmentationReport,
  getServingVersion,
  runCompaction,
  type BucketCompactionStats,
  type CompactorStatus,
} from '@syncline/engine';
import { optionalVersion } from '../inputs.ts';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

const bucketName = z.string().min(1).max(1000);


async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw compactionToServiceError(e);
  }
}

const stats = (b: BucketCompactionStats) => ({ bucket: b.bucket, scanned: b.scanned, moved: b.moved, removed: b.removed, bytesFreed: b.bytesFreed });

export interface CompactionStatus extends CompactorStatus {
  /** False when this process has no Compactor (API-only runner): no scheduled runs, no history. */
  scheduled: boolean;
}

export const compactionRouter = createTRPCRouter({
  /** Buckets ranked by ops per live row and by size (from bucket_state; no op-log scan). */
  fragmentation: adminProcedure
    .input(z.object({ versionId: optionalVersion, limit: z.number().int().min(1).max(1000).default(50) }).default({ limit: 50 }))
    .query(async ({ ctx, input }) => {
      const report = await getFragmentationReport(ctx.deps.storage, input.versionId ?? undefined, { limit: input.limit });
      if (!report) {
        throw input.versionId
          ? new ServiceError('NOT_FOUND', `Sync-rules version ${input.versionId} does not exist.`)
          : new ServiceError('NO_SYNC_RULES', 'No served sync-rules version yet: deploy sync rules first.');
      }
      return report;
    }),

  status: adminProcedure.query(({ ctx }): CompactionStatus => {
    const s = ctx.compactor?.getStatus();
    return { scheduled: ctx.compactor !== null, running: s?.running ?? false, lastRun: s?.lastRun ?? null, lastError: s?.lastError ?? null };
  }),

  /** Compacts the given buckets of the serving version, or every fragmented one (≥ 100 ops, > 2 ops per live row). */
  compactNow: adminProcedure
    .input(z.object({ buckets: z.array(bucketName).min(1).max(10_000).nullish() }).default({}))
    .mutation(async ({ ctx, input }) => {
      const buckets = input.buckets ?? undefined;
      const r = await mapped(() => (ctx.compactor ? ctx.compactor.compactNow({ buckets }) : runCompaction(ctx.deps.storage, { buckets })));
      const list = r.buckets.map(stats);
      return {
        versionId: r.versionId,
        checkpoint: r.checkpoint,
        buckets: list,
        totals: {
          buckets: list.length,
          moved: list.reduce((n, b) => n + b.moved, 0),
          removed: list.reduce((n, b) => n + b.removed, 0),
          bytesFreed: list.reduce((n, b) => n + b.bytesFreed, 0),
        },
        parameters: r.parameters,
        durationMs: r.durationMs,
      };
    }),

  /** Re-emits a bucket's live rows as fresh PUTs, then compacts it (for buckets compaction cannot shrink). */
  defragment: adminProcedure.input(z.object({ bucket: bucketName })).mutation(async ({ ctx, input }) => {
    const r = await mapped(async () => {
      if (ctx.compactor) return ctx.compactor.defragment(input.bucket);
      const v = await getServingVersion(ctx.deps.storage);
      if (!v) throw new CompactionError('NO_ACTIVE_VERSION', 'No served sync-rules version: nothing to defragment.');
      return defragmentBucket(ctx.deps.storage, v.id, input.bucket);
    });
    return { versionId: r.versionId, bucket: r.bucket, rowsEmitted: r.rowsEmitted, checkpoint: r.checkpoint, before: stats(r.before), after: r.after ? stats(r.after) : null };
  }),
});
