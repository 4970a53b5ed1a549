/**
 * The only place in sync-api that reads `process.env`. Every setting is validated once at startup
 * with zod; a bad or missing value stops the process with a message that names it.
 * A YAML file (path in SYNCLINE_CONFIG) may set the same keys in lower_snake_case; env vars win.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

const kid = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
const SECRET_ENTRY = /^(?:([A-Za-z0-9._-]{1,64}):)?([A-Za-z0-9_-]{22,})$/;

function parsePreviousSecrets(v: string | undefined, ctx: z.RefinementCtx): Array<{ kid: string | null; secret: string }> {
  if (v === undefined) return [];
  const out: Array<{ kid: string | null; secret: string }> = [];
  for (const [i, entry] of v.split(',').map((e) => e.trim()).filter((e) => e !== '').entries()) {
    const m = SECRET_ENTRY.exec(entry);
    // The entry itself is a secret: never echo it.
    if (!m) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must be \`kid:secret\` or \`secret\` (kid: A-Z a-z 0-9 . _ -; secret: base64url, ≥ 16 bytes)` });
    else out.push({ kid: m[1] ?? null, secret: m[2]! });
  }
  return out;
}

function uniqueKids(c: { JWT_SECRET?: string; JWT_SECRET_KID?: string; JWT_SECRETS_PREVIOUS: Array<{ kid: string | null }> }): boolean {
  const kids = [...(c.JWT_SECRET && c.JWT_SECRET_KID ? [c.JWT_SECRET_KID] : []), ...c.JWT_SECRETS_PREVIOUS.flatMap((k) => (k.kid ? [k.kid] : []))];
  return new Set(kids).size === kids.length;
}

const fieldsSchema = z.object({
    SOURCE_DATABASE_URL: postgresUrl.describe('Source Postgres (logical replication, wal_level=logical).'),
    STORAGE_DATABASE_URL: postgresUrl
      .optional()
      .describe('Storage Postgres for op-log and state. Default: database `syncline_storage` on the source server.'),
    SYNC_API_PORT: port(8080).describe('HTTP/WebSocket port of the sync API.'),
    SYNC_API_HOST: z.string().default('127.0.0.1').describe('Interface to bind.'),
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').describe('Bearer token for admin endpoints.'),
    JWT_SECRET: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url (A-Z a-z 0-9 - _)')
      .min(22, 'must encode at least 16 bytes')
      .optional()
      .describe('HS256 secret for client JWTs, base64url encoded.'),
    JWT_SECRET_KID: kid
      .optional()
      .describe('The `kid` of JWT_SECRET. Set: only tokens with this kid in their header use it. Unset: only tokens without a kid do.'),
    JWT_SECRETS_PREVIOUS: z
      .string()
      .optional()
      .transform((v, ctx) => parsePreviousSecrets(v, ctx))
      .describe('Older HS256 secrets still accepted during a rotation: comma-separated `kid:secret` or `secret` (no kid) entries, base64url.'),
    JWKS_URI: z.string().url().optional().describe('JWKS endpoint for RS256/ES256/EdDSA client JWTs.'),
    JWT_AUDIENCE: z
      .string()
      .optional()
      .describe('Required `aud` of client JWTs (comma-separated list allowed); required with JWKS_URI. `*` accepts any audience (disables the check).'),
    SYNC_RULES_PATH: z.string().optional().describe('YAML sync rules deployed at startup when they differ from the active version.'),
    SYNC_RUNNER: z.enum(['unified', 'api', 'replicator']).default('unified').describe('Which roles this process runs.'),
    PUBLICATION_NAME: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier').default('syncline'),
    DEV_MODE: z
      .enum(['true', 'false', '1', '0'])
      .default('false')
      .transform((v) => v === 'true' || v === '1')
      .describe('Enables POST /api/auth/dev-token (used by `npm start`).'),
    PROCESS_NAME: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 . _ : -')
      .default(`${hostname()}-${process.pid}`)
      .describe('Name of this process in logs, metrics (`process` label) and the Cluster page. Default: `<hostname>-<pid>`.'),
    SYNCLINE_BUILD_SHA: z
      .string()
      .regex(/^[0-9a-fA-F]{7,40}$/, 'must be a git commit sha (7-40 hex digits)')
      .optional()
      .describe('Git commit of the build; shown after the package version on the Cluster page and in `syncline_process_info`.'),
    DRAIN_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('On SIGTERM: how long open sync streams may take to end before they are cut and the process exits.'),
    EXIT_ON_STDIN_CLOSE: z
      .enum(['true', 'false', '1', '0'])
      .default('false')
      .transform((v) => v === 'true' || v === '1')
      .describe('Shut down (drain, then exit) when stdin closes — for supervisors and test harnesses that spawn the process with a stdin pipe, so it never outlives its parent.'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_CONCURRENT_STREAMS: z.coerce.number().int().positive().default(10_000).describe('Max open sync streams per process.'),
    STREAM_WRITE_AHEAD_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(4 * 2 ** 20)
      .describe('HTTP sync streams: bytes one stream may produce ahead of a client that is busy (not reading) before it waits; 0 waits at every full socket buffer.'),
    STREAM_WRITE_AHEAD_TOTAL_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 2 ** 20)
      .describe('Bound on the write-ahead bytes of all HTTP sync streams of a process together (a stream over it waits for its client).'),
    MAX_BUCKETS_PER_CONNECTION: z.coerce.number().int().positive().default(10_000),
    MAX_PARAMETER_RESULTS_PER_CONNECTION: z.coerce
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe('Max rows the parameter queries of one connection may return (PowerSync: 1,000); more is refused with SYNC_TOO_MANY_PARAMETER_RESULTS.'),
    WRITE_CHECKPOINTS_PER_MINUTE: z.coerce
      .number()
      .int()
      .positive()
      .default(300)
      .describe('Write checkpoints per user per minute (bursts up to a sixth of it); more get 429 SYNC_RATE_LIMITED with Retry-After.'),
    MAX_STREAMS_PER_WEBSOCKET: z.coerce
      .number()
      .int()
      .positive()
      .default(4)
      .describe('Concurrent REQUEST_STREAMs on one WebSocket connection; more get an ERROR frame SYNC_TOO_MANY_SOCKET_STREAMS.'),
  });

export const configSchema = fieldsSchema
  .refine((c) => c.JWT_SECRET || c.JWKS_URI, {
    message: 'set JWT_SECRET (HS256, base64url) and/or JWKS_URI so client tokens can be verified',
    path: ['JWT_SECRET'],
  })
  .refine((c) => !c.JWKS_URI || c.JWT_AUDIENCE, {
    message:
      'required when JWKS_URI is set, so tokens the identity provider issued for other apps are refused: set the audience of this service (or `*` to accept any)',
    path: ['JWT_AUDIENCE'],
  })
  .refine((c) => c.JWT_SECRETS_PREVIOUS.length === 0 || c.JWT_SECRET, {
    message: 'previous secrets need a current JWT_SECRET',
    path: ['JWT_SECRETS_PREVIOUS'],
  })
  .refine((c) => uniqueKids(c), {
    message: 'every secret needs its own kid (JWT_SECRET_KID and JWT_SECRETS_PREVIOUS repeat one)',
    path: ['JWT_SECRETS_PREVIOUS'],
  });

/** HS256 secrets in verification order (current first), each with its kid (null: kid-less tokens). */
export function jwtSecretsOf(c: Pick<SyncApiConfig, 'JWT_SECRET' | 'JWT_SECRET_KID' | 'JWT_SECRETS_PREVIOUS'>): Array<{ kid: string | null; secret: string }> {
  const current = c.JWT_SECRET ? [{ kid: c.JWT_SECRET_KID ?? null, secret: c.JWT_SECRET }] : [];
  return [...current, ...c.JWT_SECRETS_PREVIOUS];
}

/** JWT_AUDIENCE as a list; null when unset or `*` (audience not checked). */
export function jwtAudienceOf(c: Pick<SyncApiConfig, 'JWT_AUDIENCE'>): string[] | null {
  if (!c.JWT_AUDIENCE || c.JWT_AUDIENCE.trim() === '*') return null;
  return c.JWT_AUDIENCE.split(',').map((a) => a.trim()).filter((a) => a !== '');
}

export type SyncApiConfig = z.infer<typeof configSchema> & { STORAGE_DATABASE_URL: string };

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Builds the config from an env-like record (defaults to process.env) and an optional YAML file. */
export function loadConfig(env: Record<string, string | undefined> = process.env): SyncApiConfig {
  const fromFile = env.SYNCLINE_CONFIG ? readConfigFile(env.SYNCLINE_CONFIG) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(fieldsSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return { ...c, STORAGE_DATABASE_URL: c.STORAGE_DATABASE_URL ?? defaultStorageUrl(c.SOURCE_DATABASE_URL) };
}

function defaultStorageUrl(sourceUrl: string): string {
  const u = new URL(sourceUrl);
  u.pathname = '/syncline_storage';
  return u.toString();
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`SYNCLINE_CONFIG: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const doc: unknown = parseYaml(text);
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`SYNCLINE_CONFIG: ${path} must contain a YAML mapping`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) out[k.toUpperCase()] = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return out;
}
