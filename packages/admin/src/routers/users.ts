/** Per-user inspection: buckets a user gets, "why (not) row R", dev token to reproduce a client. */
import { z } from 'zod';
import { ServiceError } from '@syncline/protocol';
import { explainRow, inspectUser } from '@syncline/engine';
import { userInput, rowInput } from '../inputs.ts';
import { adminProcedure, createTRPCRouter } from '../trpc.ts';

export const usersRouter = createTRPCRouter({
  inspect: adminProcedure.input(userInput).query(({ ctx, input }) => inspectUser(ctx.deps, input)),

  explainRow: adminProcedure
    .input(userInput.extend({ row: rowInput.omit({ versionId: true }) }))
    .query(({ ctx, input }) => explainRow(ctx.deps, { ...input, ...input.row, versionId: input.versionId })),

  /** A short-lived HS256 token for the user (DEV_MODE only), to reproduce their client. */
  devToken: adminProcedure
    .input(z.object({ userId: z.string().min(1).max(256), claims: z.record(z.string(), z.unknown()).default({}), ttlSeconds: z.number().int().min(60).max(86_400).default(3600) }))
    .mutation(async ({ ctx, input }) => {
      if (!ctx.devMode || !ctx.mintDevToken) throw new ServiceError('DEV_MODE_OFF', 'Dev tokens are disabled; set DEV_MODE=true and JWT_SECRET to mint them.');
      const { token, expiresAt } = await ctx.mintDevToken(input.userId, { ttlSeconds: input.ttlSeconds, claims: input.claims });
      return { userId: input.userId, token, expiresAt };
    }),
});
