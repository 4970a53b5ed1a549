/** Checksum verification jobs: start, progress, mismatch report, history, cancel. */
import { z } from 'zod';
import { getRun, listMismatches, listRuns } from '@syncline/engine';
import { optionalVersion } from '../inputs.ts';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

const runId = z.number().int().positive();

export const verificationRouter = createTRPCRouter({
  start: adminProcedure
    .input(
      z.object({
        versionId: optionalVersion,
        userId: z.string().min(1).max(256).nullish(),
        claims: z.record(z.string(), z.unknown()).default({}),
        clientParameters: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.verification.start({
        versionId: input.versionId,
        user: input.userId ? { userId: input.userId, claims: input.claims, clientParameters: input.clientParameters } : null,
      }),
    ),

  runs: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(200).default(20), before: runId.optional() }).default({ limit: 20 }))
    .query(({ ctx, input }) => listRuns(ctx.deps.storage, input)),

  run: adminProcedure.input(z.object({ id: runId })).query(({ ctx, input }) => getRun(ctx.deps.storage, input.id)),

  mismatches: adminProcedure
    .input(z.object({ id: runId, after: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(1000).default(100) }))
    .query(({ ctx, input }) => listMismatches(ctx.deps.storage, input.id, input)),

  cancel: adminProcedure.input(z.object({ id: runId })).mutation(async ({ ctx, input }) => ({ id: input.id, cancelled: await ctx.verification.cancel(input.id) })),
});
