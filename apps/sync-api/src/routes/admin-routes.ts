/**
 * The management API: the tRPC router of @syncline/admin at `/api/trpc` (fetch adapter), the same
 * procedures as REST under `/api/admin/v1/…` (declared in @syncline/admin's `restRoutes`), and the
 * OpenAPI description at `/api/admin/v1/openapi.json`. Every procedure needs
 * `Authorization: Bearer <ADMIN_TOKEN>`. Also owns the process's verification runner and the
 * periodic health sampler used by the dashboard's charts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { TRPCError } from '@trpc/server';
import { adminRouter, createAdminCaller, openApiDocument, restInput, restRoutes, type AdminContext } from '@syncline/admin';
import { loadSourceSchema, recordHealthSample, VerificationRunner, type AdminDeps, type SourceSchema } from '@syncline/engine';
import { ServiceError } from '@syncline/protocol';
import { checkAdminToken, mintDevToken } from '../auth.ts';
import { jwtAudienceOf } from '../config.ts';
import type { Services } from '../services.ts';

const HEALTH_SAMPLE_MS = 15_000;
const SCHEMA_CACHE_MS = 30_000;

function isAdmin(header: string | undefined, token: string): boolean {
  try {
    checkAdminToken(header, token);
    return true;
  } catch {
    return false;
  }
}

/** Unwraps what a server-side tRPC call threw into the ServiceError the error handler renders. */
function toRestError(e: unknown): unknown {
  if (!(e instanceof TRPCError)) return e;
  if (e.cause instanceof ServiceError) return e.cause;
  if (e.code === 'BAD_REQUEST' || e.code === 'PARSE_ERROR') return new ServiceError('BAD_REQUEST', `Invalid input: ${e.message}`);
  if (e.code === 'UNAUTHORIZED') return new ServiceError('ADMIN_AUTH', e.message);
  return e;
}

export function registerAdminRoutes(app: FastifyInstance, s: Services): void {
  const deps: AdminDeps = { storage: s.storage, source: s.source, rulesFor: (id, content) => s.rulesFor(id, content) };
  const verification = new VerificationRunner(deps, { onError: (runId, err) => s.logger.warn({ err, runId }, 'verification run failed') });
  let schemaCache: { at: number; schema: SourceSchema | null } | null = null;
  const jwtSecret = s.config.JWT_SECRET;
  const baseContext: Omit<AdminContext, 'isAdmin'> = {
    deps,
    verification,
    compactor: s.compactor,
    devMode: s.config.DEV_MODE,
    mintDevToken: jwtSecret
      ? (userId, opts) => mintDevToken(jwtSecret, userId, { ...opts, audience: jwtAudienceOf(s.config)?.[0], kid: s.config.JWT_SECRET_KID })
      : null,
    async sourceSchema() {
      if (!schemaCache || Date.now() - schemaCache.at > SCHEMA_CACHE_MS) {
        schemaCache = { at: Date.now(), schema: await loadSourceSchema(s.source).catch(() => null) };
      }
      return schemaCache.schema;
    },
  };
  const contextFor = (req: FastifyRequest): AdminContext => ({ ...baseContext, isAdmin: isAdmin(req.headers.authorization, s.config.ADMIN_TOKEN) });

  // Health samples for the charts (only processes that serve the API sample).
  let sampler: NodeJS.Timeout | null = null;
  if (s.watcher) {
    const sample = () => void recordHealthSample(deps).catch((err: unknown) => s.logger.debug({ err }, 'health sample failed'));
    sampler = setInterval(sample, HEALTH_SAMPLE_MS);
    sampler.unref();
    setTimeout(sample, 1_000).unref();
  }
  app.addHook('onClose', async () => {
    if (sampler) clearInterval(sampler);
    await verification.stop();
  });

  const trpcHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(req.url, 'http://localhost');
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    let body: string | undefined;
    if (req.method === 'POST') body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? null);
    const res = await fetchRequestHandler({
      endpoint: '/api/trpc',
      req: new Request(url, { method: req.method, headers, body }),
      router: adminRouter,
      createContext: () => contextFor(req),
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') req.log.error({ err: error.cause ?? error, path }, 'admin procedure failed');
      },
    });
    reply.code(res.status);
    res.headers.forEach((v, k) => void reply.header(k, v));
    reply.header('cache-control', 'no-store');
    return reply.send(await res.text());
  };
  app.get('/api/trpc/*', trpcHandler);
  app.post('/api/trpc/*', trpcHandler);

  for (const route of restRoutes) {
    app.route({
      method: route.method,
      url: route.path,
      handler: async (req) => {
        checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);
        const input = restInput(route, (req.params ?? {}) as Record<string, string>, (req.query ?? {}) as Record<string, unknown>, req.method === 'POST' ? req.body : undefined);
        const caller = createAdminCaller(contextFor(req)) as unknown as Record<string, Record<string, (input: unknown) => Promise<unknown>>>;
        const [group, name] = route.procedure.split('.') as [string, string];
        try {
          return { data: await caller[group]![name]!(input) };
        } catch (e) {
          throw toRestError(e);
        }
      },
    });
  }

  app.get('/api/admin/v1/openapi.json', async () => openApiDocument());
}
