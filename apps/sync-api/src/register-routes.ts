/** Every HTTP route of the sync API is registered here, in one place. */
import type { FastifyInstance } from 'fastify';
import { registerAdminRoutes } from './routes/admin-routes.ts';
import { registerAuthRoutes } from './routes/auth-routes.ts';
import { registerCompactionRoutes } from './routes/compaction-routes.ts';
import { registerMetricsRoutes } from './routes/metrics-routes.ts';
import { registerProbeRoutes } from './routes/probe-routes.ts';
import { registerSyncRoutes } from './routes/sync-routes.ts';
import { registerSyncRulesRoutes } from './routes/sync-rules-routes.ts';
import type { Services } from './services.ts';

export function registerRoutes(app: FastifyInstance, s: Services): void {
  registerProbeRoutes(app, s);
  registerMetricsRoutes(app, s);
  registerSyncRoutes(app, s);
  registerAuthRoutes(app, s);
  registerSyncRulesRoutes(app, s);
  registerAdminRoutes(app, s);
  registerCompactionRoutes(app, s);
}
