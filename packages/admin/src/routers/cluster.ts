/** The processes of the deployment (Cluster page): who runs, who replicates which version, history. */
import { z } from 'zod';
import { clusterHistory, clusterOverview } from '@syncline/engine';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

export const clusterRouter = createTRPCRouter({
  processes: adminProcedure.query(({ ctx }) => clusterOverview(ctx.deps)),

  history: adminProcedure
    .input(z.object({ minutes: z.number().int().min(1).max(1440).default(60), points: z.number().int().min(10).max(500).default(120) }).default({ minutes: 60, points: 120 }))
    .query(({ ctx, input }) => clusterHistory(ctx.deps, input)),
});
