/**
 * Three real sync-api processes' worth of services (unified, api, replicator) on one storage
 * database: each registers itself, the Cluster procedures show who replicates and who stands by,
 * connections name the process that serves them, /metrics carries the process label, and a clean
 * stop marks the row stopped.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { FastifyInstance } from 'fastify';
import type { AdminRouter } from '@syncline/admin';
import { loadConfig } from '../src/config.ts';
import { buildServer } from '../src/server.ts';
import { createServices, type Services } from '../src/services.ts';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  INSERT INTO lists VALUES ('l1', 'u1', 'Groceries'), ('l2', 'u2', 'Work');
`;
const RULES = `
bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
`;

interface Extra {
  services: Services;
  app: FastifyInstance;
  url: string;
}

let server: TestServer;
let api: Extra;
let standby: Extra;
let v1: number;
let trpc: ReturnType<typeof createTRPCClient<AdminRouter>>;

async function startExtra(runner: 'api' | 'replicator', name: string): Promise<Extra> {
  const c = server.config;
  const config = loadConfig({
    SOURCE_DATABASE_URL: c.SOURCE_DATABASE_URL,
    STORAGE_DATABASE_URL: c.STORAGE_DATABASE_URL,
    ADMIN_TOKEN: c.ADMIN_TOKEN,
    JWT_SECRET: c.JWT_SECRET,
    PUBLICATION_NAME: c.PUBLICATION_NAME,
    SYNC_RUNNER: runner,
    PROCESS_NAME: name,
    SYNCLINE_BUILD_SHA: 'abcdef0123456789',
  });
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const services = await createServices(config, logger);
  const app = await buildServer(services, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  return { services, app, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(v).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA, env: { PROCESS_NAME: 'node-unified' } });
  v1 = await server.deploy(RULES);
  await server.waitActive(v1);
  // A streamed transaction gives the replicator a commit → checkpoint lag to report.
  await server.source.query(`INSERT INTO lists VALUES ('l3', 'u1', 'Later')`);
  api = await startExtra('api', 'node-api');
  standby = await startExtra('replicator', 'node-standby');
  trpc = createTRPCClient<AdminRouter>({ links: [httpBatchLink({ url: `${server.url}/api/trpc`, headers: { authorization: `Bearer ${server.adminToken}` } })] });
});
afterAll(async () => {
  for (const x of [api, standby]) {
    if (!x) continue;
    await x.services.stop();
    await x.app.close();
  }
  await server?.[Symbol.asyncDispose]();
});

describe('process registry', () => {
  it('lists every process with its runner, version and figures, and the active replicator and standby per version', async () => {
    const overview = await waitFor(
      () => trpc.cluster.processes.query(),
      (o) => o.processes.length === 3 && o.processes.every((p) => p.status === 'ready') && o.versions[0]?.standbys.length === 1 && o.versions[0].active?.lagMs !== null,
    );
    const byName = new Map(overview.processes.map((p) => [p.name, p]));
    expect([...byName.keys()].sort()).toEqual(['node-api', 'node-standby', 'node-unified']);
    expect(byName.get('node-api')).toMatchObject({ runner: 'api', version: '0.1.0+abcdef012345', pid: process.pid, activeVersions: [], standbyVersions: [] });
    expect(byName.get('node-unified')).toMatchObject({ runner: 'unified', version: '0.1.0', activeVersions: [v1] });
    expect(byName.get('node-standby')).toMatchObject({ runner: 'replicator', activeVersions: [], standbyVersions: [v1] });
    for (const p of overview.processes) {
      expect(p.rssBytes).toBeGreaterThan(10_000_000);
      expect(p.heapUsedBytes).toBeGreaterThan(1_000_000);
      expect(p.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(p.secondsSinceHeartbeat).toBeLessThan(10);
    }
    expect(overview.versions).toEqual([
      {
        versionId: v1,
        state: 'ACTIVE',
        active: { id: byName.get('node-unified')!.id, name: 'node-unified', lagMs: expect.any(Number) as number },
        conflicting: [],
        standbys: [{ id: byName.get('node-standby')!.id, name: 'node-standby' }],
      },
    ]);
    const rest = await server.admin('/api/admin/v1/cluster/processes');
    expect(rest.status).toBe(200);
    expect(((await rest.json()) as { data: { processes: unknown[] } }).data.processes).toHaveLength(3);
  });

  it('shows each connection with the process that serves it, and filters by process', async () => {
    await using stream = await openSyncStream(api.url, await server.token('u1'));
    await stream.until(isComplete);
    const apiId = api.services.processes.id;
    const all = await waitFor(() => trpc.connections.list.query({}), (r) => r.total >= 1);
    expect(all.connections.find((c) => c.userId === 'u1')).toMatchObject({ processId: apiId, processName: 'node-api' });
    const onApi = await trpc.connections.list.query({ processId: apiId });
    expect(onApi.connections.map((c) => c.processName)).toEqual(['node-api']);
    const onUnified = await trpc.connections.list.query({ processId: server.services.processes.id });
    expect(onUnified.total).toBe(0);
    const rest = await server.admin(`/api/admin/v1/connections?processId=${apiId}`);
    expect(((await rest.json()) as { data: { total: number } }).data.total).toBe(1);
    // The registry counts the process's open streams at its next heartbeat.
    await waitFor(() => trpc.cluster.processes.query(), (o) => o.processes.find((p) => p.name === 'node-api')?.connections === 1, 15_000);
  });

  it('labels every metric sample with the process and runner', async () => {
    const text = await (await fetch(`${api.url}/metrics`)).text();
    expect(text).toMatch(/^syncline_process_info\{version="0\.1\.0\+abcdef012345",process="node-api",runner="api"\} 1$/m);
    expect(text).toMatch(/^syncline_process_resident_memory_bytes\{process="node-api",runner="api"\} \d+$/m);
    expect(text).toMatch(/^syncline_process_cpu_seconds_total\{process="node-api",runner="api"\} [\d.]+$/m);
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(samples.length).toBeGreaterThan(10);
    for (const line of samples) expect(line).toMatch(/process="node-api",runner="api"\} /);
    const replicator = await (await fetch(`${server.url}/metrics`)).text();
    expect(replicator).toContain(`syncline_replicator_active{version="${v1}",process="node-unified",runner="unified"} 1`);
  });

  it('keeps history samples of every process', async () => {
    const h = await trpc.cluster.history.query({ minutes: 5 });
    expect(h.processes.map((p) => p.name).sort()).toEqual(['node-api', 'node-standby', 'node-unified']);
    const ids = new Set(h.buckets.flatMap((b) => Object.keys(b.byProcess)));
    expect(ids.size).toBe(3);
  });

  it('marks a cleanly stopped process stopped (not gone) and drops it from the standbys', async () => {
    await standby.services.stop();
    await standby.app.close();
    const o = await trpc.cluster.processes.query();
    expect(o.processes.find((p) => p.name === 'node-standby')).toMatchObject({ status: 'stopped', connections: 0, standbyVersions: [] });
    expect(o.versions[0]!.standbys).toEqual([]);
    expect(o.versions[0]!.active?.name).toBe('node-unified');
    standby = null as unknown as Extra;
  });
});
