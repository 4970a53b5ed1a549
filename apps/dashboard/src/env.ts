/**
 * The dashboard's configuration: the only module that reads `process.env`.
 *
 * Parsed lazily on first use (not at import) so `next build` can prerender without secrets; a
 * missing or bad value then fails the first request with a message naming the variable.
 *
 * @example
 * const { SYNC_API_URL } = serverEnv();
 */
import { z } from 'zod';

const serverSchema = z.object({
  SYNC_API_URL: z
    .url({ protocol: /^https?$/ })
    .default('http://127.0.0.1:8080')
    .transform((u) => u.replace(/\/+$/, ''))
    .describe('Base URL of the Syncline sync API (admin REST, tRPC and probes are served there).'),
  ADMIN_TOKEN: z
    .string()
    .min(1, 'ADMIN_TOKEN is required (the sync API admin token)')
    .describe('Admin token of the sync API. Used server-side only; never sent to the browser.'),
  DASHBOARD_PORT: z.coerce
    .number()
    .int()
    .min(1)
    .max(65535)
    .default(3000)
    .describe('Port `next start` listens on (passed on the command line by the launcher).'),
  DASHBOARD_SESSION_SECRET: z
    .string()
    .min(32, 'DASHBOARD_SESSION_SECRET must be at least 32 characters')
    .optional()
    .describe('Optional key for signing session cookies; derived from ADMIN_TOKEN when unset.'),
  DASHBOARD_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('URL operators open the dashboard at. https → the session cookie is always Secure; unset → decided by X-Forwarded-Proto (development).'),
  DASHBOARD_SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(12 * 3600)
    .describe('Lifetime of a dashboard login session.'),
});

export type ServerEnv = z.infer<typeof serverSchema>;

let cached: ServerEnv | undefined;

/** Validated server-side configuration. Throws, naming each bad variable, if it is invalid. */
export function serverEnv(): ServerEnv {
  if (typeof window !== 'undefined') {
    throw new Error('serverEnv() must not be called in the browser');
  }
  if (cached) return cached;
  const parsed = serverSchema.safeParse({
    SYNC_API_URL: process.env.SYNC_API_URL || undefined,
    ADMIN_TOKEN: process.env.ADMIN_TOKEN,
    DASHBOARD_PORT: process.env.DASHBOARD_PORT || undefined,
    DASHBOARD_SESSION_SECRET: process.env.DASHBOARD_SESSION_SECRET || undefined,
    DASHBOARD_SESSION_TTL_SECONDS: process.env.DASHBOARD_SESSION_TTL_SECONDS || undefined,
    DASHBOARD_PUBLIC_URL: process.env.DASHBOARD_PUBLIC_URL || undefined,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new Error(`Invalid dashboard configuration — ${problems}`);
  }
  cached = parsed.data;
  return cached;
}

/** The sync API base URL alone: does not require ADMIN_TOKEN (safe for the unauthenticated login page). */
export function syncApiUrl(): string {
  const parsed = serverSchema.shape.SYNC_API_URL.safeParse(process.env.SYNC_API_URL || undefined);
  if (!parsed.success) throw new Error(`Invalid dashboard configuration — SYNC_API_URL: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
