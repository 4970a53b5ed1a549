/** Live sync streams across all API processes (with the serving process; filter by user or process); disconnect one or all of a user's. */
import { z } from 'zod';
import { listConnections, requestDisconnect, requestDisconnectUser } from '@syncline/engine';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

export const connectionsRouter = createTRPCRouter({
  list: adminProcedure
    .input(z.object({ userId: z.string().max(256).nullish(), processId: z.string().max(100).nullish(), limit: z.number().int().min(1).max(1000).default(200) }).default({ limit: 200 }))
    .query(({ ctx, input }) => listConnections(ctx.deps, input)),

  disconnect: adminProcedure.input(z.object({ id: z.string().min(1).max(100) })).mutation(({ ctx, input }) => requestDisconnect(ctx.deps, input.id)),

  disconnectUser: adminProcedure.input(z.object({ userId: z.string().min(1).max(256) })).mutation(({ ctx, input }) => requestDisconnectUser(ctx.deps, input.userId)),
});
