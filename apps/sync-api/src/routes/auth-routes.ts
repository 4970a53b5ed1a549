/** `GET /api/admin/v1/whoami` (admin token check for the dashboard) and `POST /api/auth/dev-token`. */
import type { FastifyInstance } from 'fastify';
import { ServiceError } from '@syncline/protocol';
import { z } from 'zod';
import { checkAdminToken, mintDevToken } from '../auth.ts';
import { jwtAudienceOf } from '../config.ts';
import type { Services } from '../services.ts';
import { parseBody } from './sync-routes.ts';

export function registerAuthRoutes(app: FastifyInstance, s: Services): void {
  app.get('/api/admin/v1/whoami', async (req) => {
    checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);
    return { data: { role: 'admin', dev_mode: s.config.DEV_MODE } };
  });

  app.post('/api/auth/dev-token', async (req) => {
    checkAdminToken(req.headers.authorization, s.config.ADMIN_TOKEN);
    if (!s.config.DEV_MODE) throw new ServiceError('DEV_MODE_OFF', 'Dev tokens are disabled; set DEV_MODE=true (npm start does) to mint them.');
    if (!s.config.JWT_SECRET) throw new ServiceError('DEV_MODE_OFF', 'Dev tokens need JWT_SECRET (HS256).');
    const body = parseBody(
      z.object({
        user_id: z.string().min(1).max(256),
        ttl_seconds: z.number().int().positive().max(86_400).optional(),
        claims: z.record(z.string(), z.unknown()).optional(),
      }),
      req.body ?? {},
    );
    const { token, expiresAt } = await mintDevToken(s.config.JWT_SECRET, body.user_id, {
      ttlSeconds: body.ttl_seconds,
      audience: jwtAudienceOf(s.config)?.[0],
      claims: body.claims,
      kid: s.config.JWT_SECRET_KID,
    });
    return { data: { token, expires_at: expiresAt, user_id: body.user_id } };
  });
}
