/**
 * Starts a real sync-api (services + HTTP server on a free port) against a fresh source and
 * storage database on the shared test cluster. Disposing stops it and drops both databases.
 */
import pino from 'pino';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@syncline/test-utils';
import { loadConfig, type SyncApiConfig } from '../../src/config.ts';
import { buildServer } from '../../src/server.ts';
import { createServices, type Services } from '../../src/services.ts';
import { mintDevToken } from '../../src/auth.ts';

export interface TestServer extends AsyncDisposable {
  url: string;
  services: Services;
  config: SyncApiConfig;
  db: TestDatabase;
  source: pg.Pool;
  adminToken: string;
  token(userId: string, opts?: { ttlSeconds?: number; claims?: Record<string, unknown> }): Promise<string>;
  deploy(yaml: string): Promise<number>;
  /** Waits until the given version (or any) is ACTIVE and the API has its checkpoint. */
  waitActive(versionId?: number, timeoutMs?: number): Promise<void>;
  admin(path: string, init?: RequestInit): Promise<Response>;
}

export async function startTestServer(
  adminUrl: string,
  opts: { schemaSql?: string; env?: Record<string, string>; logLevel?: string } = {},
): Promise<TestServer> {
  const db = await createTestDatabase(adminUrl, 'api');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  if (opts.schemaSql) await source.query(opts.schemaSql);
  const adminToken = randomBytes(24).toString('hex');
  const jwtSecret = randomBytes(32).toString('base64url');
  const config = loadConfig({
    SOURCE_DATABASE_URL: db.url,
    STORAGE_DATABASE_URL: storageUrl,
    ADMIN_TOKEN: adminToken,
    JWT_SECRET: jwtSecret,
    SYNC_API_PORT: '0',
    DEV_MODE: 'true',
    PUBLICATION_NAME: `pub_${db.name}`,
    ...opts.env,
  });
  const logger = pino({ level: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'warn' });
  const services = await createServices(config, logger);
  const app = await buildServer(services, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(url + path, { ...init, headers: { authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });
  return {
    url,
    services,
    config,
    db,
    source,
    adminToken,
    admin,
    token: async (userId, o) => (await mintDevToken(jwtSecret, userId, o)).token,
    async deploy(yaml) {
      const res = await admin('/api/sync-rules/v1/deploy', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
      const body = (await res.json()) as { data?: { id: number }; error?: unknown };
      if (!res.ok || !body.data) throw new Error(`deploy failed: ${res.status} ${JSON.stringify(body)}`);
      return body.data.id;
    },
    async waitActive(versionId, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await services.watcher?.refresh();
        const cur = services.watcher?.current();
        if (cur && (versionId === undefined || cur.version.id === versionId)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`version ${versionId ?? '(any)'} did not become active within ${timeoutMs} ms`);
    },
    async [Symbol.asyncDispose]() {
      await services.stop();
      await app.close();
      await db[Symbol.asyncDispose]();
    },
  };
}
