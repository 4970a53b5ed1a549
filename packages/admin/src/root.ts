/** The management API router: one sub-router per entity. */
import { bucketsRouter } from './routers/buckets.ts';
import { clusterRouter } from './routers/cluster.ts';
import { compactionRouter } from './routers/compaction.ts';
import { connectionsRouter } from './routers/connections.ts';
import { healthRouter } from './routers/health.ts';
import { syncRulesRouter } from './routers/sync-rules.ts';
import { usersRouter } from './routers/users.ts';
import { verificationRouter } from './routers/verification.ts';
import { createCallerFactory, createTRPCRouter } from './trpc.ts';

export const adminRouter = createTRPCRouter({
  syncRules: syncRulesRouter,
  users: usersRouter,
  buckets: bucketsRouter,
  verification: verificationRouter,
  connections: connectionsRouter,
  health: healthRouter,
  compaction: compactionRouter,
  cluster: clusterRouter,
});

export type AdminRouter = typeof adminRouter;

/** Server-side caller (used by the REST routes so REST and tRPC share one implementation). */
export const createAdminCaller = createCallerFactory(adminRouter);
