/** Buckets of a version, a bucket's ops, and a source row's bucket memberships. */
import { z } from 'zod';
import { listBucketOps, listBuckets, rowMemberships } from '@syncline/engine';
import { optionalVersion, rowInput } from '../inputs.ts';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

export const bucketsRouter = createTRPCRouter({
  list: adminProcedure
    .input(z.object({ versionId: optionalVersion, prefix: z.string().max(1024).optional(), after: z.string().max(4096).optional(), limit: z.number().int().min(1).max(1000).default(100) }))
    .query(({ ctx, input }) => listBuckets(ctx.deps, input)),

  ops: adminProcedure
    .input(
      z.object({
        versionId: optionalVersion,
        bucket: z.string().min(1).max(4096),
        after: z.string().regex(/^\d{1,20}$/).nullish(),
        limit: z.number().int().min(1).max(500).default(50),
        op: z.enum(['PUT', 'REMOVE', 'MOVE', 'CLEAR']).nullish(),
        rowId: z.string().max(1024).nullish(),
      }),
    )
    .query(({ ctx, input }) => listBucketOps(ctx.deps, input)),

  row: adminProcedure.input(rowInput).query(({ ctx, input }) => rowMemberships(ctx.deps, input)),
});
