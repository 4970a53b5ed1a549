/**
 * SYNC_RULES_PATH at startup: the file is deployed only when it changed since it was last deployed
 * from the file, so a restart keeps rules deployed through the admin API; processes starting
 * together deploy a changed file once; every version records where it came from.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { AdminRouter } from '@syncline/admin';
import { createTestDatabase, type TestDatabase } from '@syncline/test-utils';
import { listVersions } from '@syncline/engine';
import { loadConfig, type SyncApiConfig } from '../src/config.ts';
import { buildServer } from '../src/server.ts';
import { createServices, type Services } from '../src/services.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  INSERT INTO lists VALUES ('l1', 'u1', 'Groceries');
`;
const FILE_RULES = `
bucket_definitions:
  global:
    data:
      - SELECT id, name FROM lists
`;
const API_RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM lists WHERE owner_id = bucket.owner_id
`;

let db: TestDatabase;
let dir: string;
let rulesPath: string;
let baseConfig: SyncApiConfig;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

interface Running {
  services: Services;
  url: string;
  stop(): Promise<void>;
}

async function boot(env: Partial<Record<keyof SyncApiConfig, string>> = {}): Promise<Running> {
  const config = { ...baseConfig, ...env } as SyncApiConfig;
  const services = await createServices(config, logger);
  const app = await buildServer(services, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    services,
    url,
    async stop() {
      await services.stop();
      await app.close();
    },
  };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'), 'rulesfile');
  const storageUrl = await db.createSibling('storage');
  await db.pool().query(SCHEMA);
  dir = mkdtempSync(path.join(tmpdir(), 'syncline-rules-'));
  rulesPath = path.join(dir, 'sync-rules.yaml');
  writeFileSync(rulesPath, FILE_RULES);
  baseConfig = loadConfig({
    SOURCE_DATABASE_URL: db.url,
    STORAGE_DATABASE_URL: storageUrl,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    JWT_SECRET: randomBytes(32).toString('base64url'),
    SYNC_API_PORT: '0',
    PUBLICATION_NAME: `pub_${db.name}`,
    SYNC_RULES_PATH: rulesPath,
  });
});
afterAll(async () => {
  await db?.[Symbol.asyncDispose]();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sync rules from SYNC_RULES_PATH', () => {
  it('keeps rules deployed through the API across a restart, deploys the file again only when it changes, once', async () => {
    // First start: the file is deployed.
    let run = await boot();
    let versions = await listVersions(run.services.storage);
    expect(versions.map((v) => [v.deploySource, v.deployPath])).toEqual([['file', rulesPath]]);
    const fileVersion = versions[0]!.id;
    await waitFor(() => listVersions(run.services.storage), (vs) => vs[0]?.state === 'ACTIVE');

    // An operator deploys other rules through the PowerSync-compatible admin route.
    const res = await fetch(`${run.url}/api/sync-rules/v1/deploy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${baseConfig.ADMIN_TOKEN}`, 'content-type': 'application/yaml' },
      body: API_RULES,
    });
    expect(res.status).toBe(200);
    const apiVersion = ((await res.json()) as { data: { id: number } }).data.id;
    await waitFor(() => listVersions(run.services.storage), (vs) => vs.find((v) => v.id === apiVersion)?.state === 'ACTIVE');
    await run.stop();

    // Restart with the same, unchanged file: the API version stays the serving one.
    run = await boot();
    versions = await listVersions(run.services.storage);
    expect(versions.map((v) => v.id)).toEqual([apiVersion, fileVersion]);
    expect(versions[0]).toMatchObject({ id: apiVersion, state: 'ACTIVE', deploySource: 'api' });
    const current = (await (await fetch(`${run.url}/api/sync-rules/v1/current`, { headers: { authorization: `Bearer ${baseConfig.ADMIN_TOKEN}` } })).json()) as {
      data: { current: { id: number; content: string; deploy_source: string } };
    };
    expect(current.data.current).toMatchObject({ id: apiVersion, content: API_RULES, deploy_source: 'api' });
    // The dashboard's history shows where each version came from.
    const trpc = createTRPCClient<AdminRouter>({ links: [httpBatchLink({ url: `${run.url}/api/trpc`, headers: { authorization: `Bearer ${baseConfig.ADMIN_TOKEN}` } })] });
    const history = await trpc.syncRules.history.query({ limit: 10 });
    expect(history.map((h) => [h.id, h.deploySource, h.deployPath])).toEqual([
      [apiVersion, 'api', null],
      [fileVersion, 'file', rulesPath],
    ]);
    // A provenance the client may not claim is refused, and nothing is stored.
    const bad = await trpc.syncRules.deploy.mutate({ content: FILE_RULES, source: 'file' as 'api' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TRPCClientError);
    expect((bad as TRPCClientError<AdminRouter>).data?.code).toBe('BAD_REQUEST');
    expect((await listVersions(run.services.storage)).length).toBe(2);
    await run.stop();

    // The file changes: two processes start at the same time, and it is deployed exactly once.
    const changed = `${FILE_RULES}  all_lists:\n    data:\n      - SELECT * FROM lists\n`;
    writeFileSync(rulesPath, changed);
    const [a, b] = await Promise.all([boot({ SYNC_RUNNER: 'api' }), boot({ SYNC_RUNNER: 'api' })]);
    versions = await listVersions(a.services.storage);
    expect(versions.map((v) => [v.deploySource, v.content === changed])).toEqual([
      ['file', true],
      ['api', false],
      ['file', false],
    ]);
    await Promise.all([a.stop(), b.stop()]);

    // Started again with that file: nothing new.
    const c = await boot({ SYNC_RUNNER: 'api' });
    expect((await listVersions(c.services.storage)).length).toBe(3);
    await c.stop();
  });
});
