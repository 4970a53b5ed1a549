/**
 * A real sync-api (services + HTTP/WebSocket server on a free port) against any source and
 * storage URL (direct or through a TCP proxy). `runner: 'api'` leaves replication to a separate
 * replicator process (see replicator-child.ts).
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
// eslint-disable-next-line no-restricted-imports -- the chaos suite drives the real service from outside every workspace
import { loadConfig, type SyncApiConfig } from '../../../apps/sync-api/src/config.ts';
// eslint-disable-next-line no-restricted-imports -- the chaos suite drives the real service from outside every workspace
import { buildServer } from '../../../apps/sync-api/src/server.ts';
// eslint-disable-next-line no-restricted-imports -- the chaos suite drives the real service from outside every workspace
import { createServices, type Services } from '../../../apps/sync-api/src/services.ts';
// eslint-disable-next-line no-restricted-imports -- the chaos suite drives the real service from outside every workspace
import { mintDevToken } from '../../../apps/sync-api/src/auth.ts';

export interface ChaosService extends AsyncDisposable {
  url: string;
  services: Services;
  config: SyncApiConfig;
  jwtSecret: string;
  token(userId: string, ttlSeconds?: number): Promise<string>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  deploy(yaml: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startChaosService(o: { sourceUrl: string; storageUrl: string; publication: string; runner?: 'unified' | 'api'; env?: Record<string, string> }): Promise<ChaosService> {
  const adminToken = randomBytes(24).toString('hex');
  const jwtSecret = randomBytes(32).toString('base64url');
  const config = loadConfig({
    SOURCE_DATABASE_URL: o.sourceUrl,
    STORAGE_DATABASE_URL: o.storageUrl,
    ADMIN_TOKEN: adminToken,
    JWT_SECRET: jwtSecret,
    SYNC_API_PORT: '0',
    DEV_MODE: 'true',
    PUBLICATION_NAME: o.publication,
    SYNC_RUNNER: o.runner ?? 'unified',
    ...o.env,
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const services = await createServices(config, logger);
  const app = await buildServer(services, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await services.stop();
  };
  return {
    url,
    services,
    config,
    jwtSecret,
    ...clientSide(url, adminToken, jwtSecret, stop),
  };
}

/**
 * The same service as its own OS process (`apps/sync-api/src/main.ts`), so the test's own load
 * (attackers, clients) does not share its event loop — used where latency is measured.
 */
export async function startChaosServiceProcess(o: { sourceUrl: string; storageUrl: string; publication: string }): Promise<Omit<ChaosService, 'services' | 'config'>> {
  const { spawn } = await import('node:child_process');
  const { freePort } = await import('@syncline/test-utils');
  const adminToken = randomBytes(24).toString('hex');
  const jwtSecret = randomBytes(32).toString('base64url');
  const port = await freePort();
  const main = new URL('../../../apps/sync-api/src/main.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: {
      ...process.env,
      SOURCE_DATABASE_URL: o.sourceUrl,
      STORAGE_DATABASE_URL: o.storageUrl,
      ADMIN_TOKEN: adminToken,
      JWT_SECRET: jwtSecret,
      SYNC_API_PORT: String(port),
      SYNC_API_HOST: '127.0.0.1',
      DEV_MODE: 'true',
      PUBLICATION_NAME: o.publication,
      SYNC_RUNNER: 'unified',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      EXIT_ON_STDIN_CLOSE: 'true', // never outlives this test process (see sync-api-process.ts)
    },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`sync-api process exited (${child.exitCode})`);
    const ok = await fetch(`${url}/probes/liveness`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error('sync-api process did not start within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return {
    url,
    jwtSecret,
    ...clientSide(url, adminToken, jwtSecret, stop),
  };
}

/** What a test uses of either kind of service: admin calls, dev tokens, deploys, stop. */
function clientSide(url: string, adminToken: string, jwtSecret: string, stop: () => Promise<void>) {
  const admin = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { authorization: `Bearer ${adminToken}`, ...(init.headers ?? {}) } });
  return {
    admin,
    token: async (userId: string, ttlSeconds?: number) => (await mintDevToken(jwtSecret, userId, ttlSeconds ? { ttlSeconds } : {})).token,
    async deploy(yaml: string) {
      const res = await admin('/api/sync-rules/v1/deploy', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
      const body = (await res.json()) as { data?: { id: number } };
      if (!res.ok || !body.data) throw new Error(`deploy failed: ${res.status} ${JSON.stringify(body)}`);
      return body.data.id;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
