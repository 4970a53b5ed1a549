/**
 * The backend's configuration, read once from the environment (nothing else reads process.env).
 * A missing or bad value stops the process with a message that names it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BackendConfig {
  /** Source Postgres (the demo database of `npm start`). */
  databaseUrl: string;
  /** HS256 secret shared with the sync API (base64url). */
  jwtSecret: string;
  jwtSecretKid: string | undefined;
  /** Sync API base URL the app connects to. */
  syncUrl: string;
  port: number;
  host: string;
  /** Directory with the built app (vite build). */
  distDir: string;
  /** Enables POST /api/auth/dev-token (sign in as any user id). */
  devMode: boolean;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../../..');

/** `npm start` keeps its generated secrets here; used for what the environment does not set. */
function npmStartSecrets(): { jwtSecret?: string; pgPassword?: string } {
  const file = join(REPO, '.data', 'secrets.json');
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret?: string; pgPassword?: string };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BackendConfig {
  const fail = (name: string, what: string): never => {
    throw new Error(`${name}: ${what}`);
  };
  const local = env['JWT_SECRET'] && env['SOURCE_DATABASE_URL'] ? {} : npmStartSecrets();
  const jwtSecret = env['JWT_SECRET'] ?? local.jwtSecret ?? fail('JWT_SECRET', 'set it to the sync API\'s JWT_SECRET (or run `npm start` first, which writes .data/secrets.json)');
  if (!/^[A-Za-z0-9_-]{22,}$/.test(jwtSecret)) fail('JWT_SECRET', 'must be base64url encoding at least 16 bytes');
  const port = Number(env['TODO_PORT'] ?? 5173);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('TODO_PORT', 'must be a port number');
  return {
    databaseUrl: env['SOURCE_DATABASE_URL'] ?? `postgres://postgres:${local.pgPassword ?? ''}@127.0.0.1:${env['EMBEDDED_PG_PORT'] ?? 54320}/syncline_demo`,
    jwtSecret,
    jwtSecretKid: env['JWT_SECRET_KID'] || undefined,
    syncUrl: env['SYNC_API_URL'] ?? 'http://127.0.0.1:8080',
    port,
    host: env['TODO_HOST'] ?? '127.0.0.1',
    distDir: resolve(env['TODO_DIST_DIR'] ?? join(HERE, '..', 'dist')),
    devMode: (env['DEV_MODE'] ?? 'true') === 'true',
  };
}
