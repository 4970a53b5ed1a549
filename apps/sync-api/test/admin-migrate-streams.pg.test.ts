/**
 * "Migrate to Sync Streams" through the admin API (tRPC `syncRules.migrateToStreams` and its
 * REST mirror) against a real server: the active version's YAML by default, a given YAML, the
 * diff and issues, and hostile input (clear 4xx or issues; nothing stored changes).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AdminRouter } from '@syncline/admin';
import { migrateSyncRulesToStreams } from '@syncline/engine';
import { startTestServer, type TestServer } from './support/test-server.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, description text);
  INSERT INTO lists VALUES ('l1', 'u1', 'Groceries');
`;
const DEMO = readFileSync(new URL('../../../demo/sync-rules.yaml', import.meta.url), 'utf8');
const DEMO_STREAMS = readFileSync(new URL('../../../demo/sync-rules.streams.yaml', import.meta.url), 'utf8');
const PATH = '/api/admin/v1/sync-rules/migrate-to-streams';

let server: TestServer;
let trpc: ReturnType<typeof createTRPCClient<AdminRouter>>;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  trpc = createTRPCClient<AdminRouter>({
    links: [httpBatchLink({ url: `${server.url}/api/trpc`, headers: { authorization: `Bearer ${server.adminToken}` } })],
  });
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

function post(body: string, contentType = 'application/json'): Promise<Response> {
  return server.admin(PATH, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function stored(): Promise<unknown> {
  const current = await trpc.syncRules.current.query();
  const history = await trpc.syncRules.history.query({ limit: 50 });
  return { content: current.activeContent, versions: history.map((h) => [h.id, h.state]) };
}

describe('migrate to Sync Streams (admin API)', () => {
  it('says what to do when nothing is deployed and no YAML is given', async () => {
    const res = await post('{}');
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('SYNC_NOT_FOUND');
    expect(body.error.message).toMatch(/pass the YAML to migrate as `content`/);
  });

  it("migrates the active version's YAML by default, with the diff and the issues", async () => {
    await server.waitActive(await server.deploy(DEMO));
    const result = await trpc.syncRules.migrateToStreams.mutate({});
    expect(result.source).toBe(DEMO);
    expect(result.content).toBe(DEMO_STREAMS);
    expect(result.ok).toBe(true);
    expect(result.streams).toEqual([{ name: 'user_lists', definition: 'user_lists', priority: 1, queries: 2, ctes: 1 }]);
    expect(result.issues.every((i) => i.level === 'warning')).toBe(true);
    expect(result.diff.filter((l) => l.type === 'add').map((l) => l.text.trim())).toContain('- SELECT * FROM todos WHERE list_id IN user_lists_param');
    expect(result.diff.filter((l) => l.type === 'del').map((l) => l.text.trim())).toContain('- SELECT * FROM todos WHERE list_id = bucket.list_id');
    expect(result.added).toBeGreaterThan(0);
    expect(result.deleted).toBeGreaterThan(0);
  });

  it('migrates a given YAML through REST exactly like the engine function, storing nothing', async () => {
    const before = await stored();
    const yaml = 'bucket_definitions:\n  mine:\n    parameters: SELECT request.user_id() AS u\n    data: [SELECT * FROM todos WHERE list_id = bucket.u]\n';
    const res = await post(JSON.stringify({ content: yaml }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { content: string; issues: unknown[] } };
    const expected = migrateSyncRulesToStreams(yaml);
    expect(body.data.content).toBe(expected.yaml);
    expect(body.data.issues).toEqual(expected.issues);
    expect(await stored()).toEqual(before);
  });

  it('hostile input: clear 400s for wrong types, size and bodies; issues for bad YAML; nothing stored changes', async () => {
    const before = await stored();
    for (const body of [JSON.stringify({ content: 42 }), JSON.stringify({ content: ['a'] }), JSON.stringify({ content: 'x'.repeat(600 * 1024) }), '{not json']) {
      const res = await post(body);
      expect(res.status, body.slice(0, 40)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SYNC_BAD_REQUEST');
    }
    for (const content of ['bucket_definitions:\n  d: [unclosed\n', 'streams:\n  s:\n    query: SELECT * FROM todos\n', '', 'bucket_definitions:\n  d:\n    data: [SELECT * FROM t WHERE json_valid(x)]\n']) {
      const res = await post(JSON.stringify({ content }));
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as { data: { ok: boolean; issues: Array<{ level: string; code: string }> } };
      expect(data.ok).toBe(false);
      expect(data.issues.some((i) => i.level === 'fatal' && i.code.startsWith('MIGRATE_'))).toBe(true);
    }
    expect(await stored()).toEqual(before);
  });
});
