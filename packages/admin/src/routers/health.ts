/** Replication health per version and persisted samples for charts. */
import { z } from 'zod';
import { listHealthSamples, replicationHealth } from '@syncline/engine';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

export const healthRouter = createTRPCRouter({
  /** Cheap authenticated ping. */
  check: adminProcedure.query(() => ({ ok: true as const, at: new Date().toISOString() })),

  replication: adminProcedure.query(({ ctx }) => replicationHealth(ctx.deps)),

  samples: adminProcedure
    .input(z.object({ minutes: z.number().int().min(1).max(1440).default(60) }).default({ minutes: 60 }))
    .query(({ ctx, input }) => listHealthSamples(ctx.deps, input.minutes)),
});
