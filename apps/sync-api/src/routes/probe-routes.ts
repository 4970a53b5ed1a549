/** Health probes and the process memory debug endpoint (Prometheus metrics: metrics-routes.ts). */
import type { FastifyInstance } from 'fastify';
import { checkAdminToken } from '../auth.ts';
import type { Services } from '../services.ts';

export function registerProbeRoutes(app: FastifyInstance, s: Services): void {
  app.get('/probes/liveness', async () => ({ status: 'live', runner: s.config.SYNC_RUNNER }));

  app.get('/probes/readiness', async (_req, reply) => {
    const serving = s.watcher?.current() ?? null;
    let storage = true;
    await s.storage.query('SELECT 1').catch(() => (storage = false));
    const ready = storage && !s.shuttingDown && (s.watcher === null || serving !== null);
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : s.shuttingDown ? 'draining' : 'not_ready',
      storage,
      active_version: serving?.version.id ?? null,
      checkpoint: serving?.opId.toString() ?? null,
      reason: s.shuttingDown ? 'draining: this process is shutting down' : !storage ? 'storage database unreachable' : serving === null && s.watcher ? 'no active sync rules with a checkpoint yet' : undefined,
    };
  });

  /**
   * Process memory for operators and the memory benchmark. When node runs with --expose-gc, a
   * full GC runs first so heap numbers are live data, not garbage.
   */
  app.get('/api/admin/v1/debug/memory', async (req) => {
    checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    return { data: { gc: Boolean(gc), rss: m.rss, heap_used: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers, connections: s.connections.size } };
  });
}
