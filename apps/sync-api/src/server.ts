/** Builds the fastify app: body limits, CORS, YAML bodies, one error handler, routes. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ServiceError, toServiceError } from '@syncline/protocol';
import type { Logger } from 'pino';
import { registerRoutes } from './register-routes.ts';
import type { Services } from './services.ts';
import { attachWebSocketTransport } from './websocket/websocket-server.ts';

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function buildServer(s: Services, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    // Per-request logs are off: each sync stream logs one summary line instead.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    forceCloseConnections: true,
    // While app.close() runs after a drain, requests still arriving on open connections reach our
    // routes (a new stream gets 503 SYNC_DRAINING + Retry-After, an upload is still applied)
    // instead of Fastify's generic 503 without a code.
    return503OnClosing: false,
  });
  for (const type of ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  }
  app.addHook('onRequest', async (req, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
    // Draining: no keep-alive, so a client's next request (or WebSocket upgrade) opens a new
    // connection, which a load balancer sends to another process.
    if (s.shuttingDown) reply.header('connection', 'close');
    if (req.method === 'OPTIONS') {
      reply
        .header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
        .header('Access-Control-Allow-Headers', 'Content-Type, Authorization, User-Agent, X-User-Agent')
        .header('Access-Control-Max-Age', '3600')
        .code(204)
        .send();
    }
  });
  app.setErrorHandler((error, req, reply) => {
    const fastifyCode = (error as { code?: string }).code;
    let e: ServiceError;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new ServiceError('BODY_TOO_LARGE', `Request body exceeds ${MAX_BODY_BYTES} bytes.`);
    else if (fastifyCode?.startsWith('FST_ERR_CTP') || (error as { statusCode?: number }).statusCode === 400)
      e = new ServiceError('BAD_REQUEST', `Invalid request body: ${(error as Error).message}`);
    else e = toServiceError(error);
    // A database outage is expected operationally (clients retry): one warning line, no stack.
    if (e.code === 'SYNC_DATABASE_UNAVAILABLE') req.log.warn({ code: e.code, reason: (error as Error).message }, 'request failed: database unavailable');
    else if (e.status >= 500) req.log.error({ err: error, code: e.code }, 'request failed');
    else req.log.debug({ code: e.code, msg: e.message }, 'request rejected');
    if (reply.sent || reply.raw.headersSent) return;
    if (e.code === 'SYNC_DATABASE_UNAVAILABLE') reply.header('retry-after', '5');
    reply.code(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(new ServiceError('NOT_FOUND', `No route ${req.method} ${req.url}`).toJSON());
  });
  registerRoutes(app, s);
  // RSocket over WebSocket on the same port (reference §1.6).
  const webSockets = attachWebSocketTransport(app.server, s, logger);
  app.addHook('preClose', async () => webSockets.close());
  return app;
}
