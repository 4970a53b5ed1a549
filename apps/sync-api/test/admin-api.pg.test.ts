/**
 * The management API against a real server with real replication: every tRPC procedure, the REST
 * mirror, the PowerSync-compatible routes' admin-token check and the OpenAPI description.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { AdminRouter } from '@syncline/admin';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text, description text);
  INSERT INTO lists VALUES ('l1', 'u1', 'Groceries'), ('l2', 'u2', 'Work');
  INSERT INTO todos SELECT 't' || i, CASE WHEN i % 2 = 0 THEN 'l1' ELSE 'l2' END, 'Todo ' || i FROM generate_series(1, 40) i;
  INSERT INTO todos VALUES ('orphan', NULL, 'no list');
`;
const RULES = `
bucket_definitions:
  user_lists:
    priority: 1
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const RULES_V2 = `${RULES}  everything:
    data:
      - SELECT id, name FROM lists
`;

let server: TestServer;
let v1: number;
let trpc: ReturnType<typeof createTRPCClient<AdminRouter>>;

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  v1 = await server.deploy(RULES);
  await server.waitActive(v1);
  trpc = createTRPCClient<AdminRouter>({
    links: [httpBatchLink({ url: `${server.url}/api/trpc`, headers: { authorization: `Bearer ${server.adminToken}` } })],
  });
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe('admin API access', () => {
  it('rejects REST, PowerSync-compatible and tRPC calls without the admin token', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/v1/sync-rules/versions'],
      ['POST', '/api/admin/v1/users/inspect'],
      ['GET', '/api/admin/v1/connections'],
      ['POST', '/api/sync-rules/v1/validate'],
      ['POST', '/api/sync-rules/v1/deploy'],
      ['GET', '/api/sync-rules/v1/current'],
      ['POST', '/api/admin/v1/diagnostics'],
    ] as const) {
      const res = await fetch(server.url + path, { method, headers: { authorization: 'Bearer wrong-token-wrong-token', 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SYNC_ADMIN_AUTH');
    }
    const anon = createTRPCClient<AdminRouter>({ links: [httpBatchLink({ url: `${server.url}/api/trpc` })] });
    const err = await anon.health.check.query().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AdminRouter>).data?.httpStatus).toBe(401);
  });

  it('serves the PowerSync-compatible routes with the token', async () => {
    const current = await server.admin('/api/sync-rules/v1/current');
    expect(current.status).toBe(200);
    expect(((await current.json()) as { data: { current: { id: number } } }).data.current.id).toBe(v1);
    const validate = await server.admin('/api/sync-rules/v1/validate', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'bucket_definitions: {a: {data: [nope]}}' });
    // Unwrapped like PowerSync's, with PowerSync-shaped errors (offsets) plus our positioned issues.
    const result = (await validate.json()) as { valid: boolean; errors: Array<{ level: string; message: string }>; issues: Array<{ location?: { line: number } }> };
    expect(result.valid).toBe(false);
    expect(result.errors[0]?.level).toBe('fatal');
    expect(result.issues[0]?.location?.line).toBe(1);
  });

  it('describes the REST API as OpenAPI 3.1', async () => {
    const doc = (await (await fetch(`${server.url}/api/admin/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { operationId?: string }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/api/admin/v1/users/inspect']?.post?.operationId).toBe('users.inspect');
    expect(doc.paths['/api/admin/v1/verification/{id}/mismatches']?.get).toBeDefined();
    expect(doc.paths['/api/sync-rules/v1/deploy']?.post).toBeDefined();
  });
});

describe('sync rules', () => {
  it('validates with the error at its line and warns about unknown tables', async () => {
    const bad = await trpc.syncRules.validate.query({ content: 'bucket_definitions:\n  a:\n    data:\n      - SELECT * FRM todos\n' });
    expect(bad.valid).toBe(false);
    expect(bad.issues[0]?.location?.line).toBe(4);
    const unknown = await trpc.syncRules.validate.query({ content: 'bucket_definitions:\n  a:\n    data:\n      - SELECT * FROM nosuchtable\n' });
    expect(unknown.valid).toBe(true);
    expect(unknown.issues.some((i) => i.level === 'warning' && i.location?.line === 4)).toBe(true);
  });

  it('previews impact, deploys, diffs and rolls back', async () => {
    const impact = await trpc.syncRules.impact.mutate({ content: RULES_V2 });
    expect(impact.activeVersionId).toBe(v1);
    expect(impact.definitions).toEqual([
      { definition: 'everything', kind: 'definition', autoSubscribe: true, status: 'added', active: null, candidate: { buckets: 1, rows: 2 } },
      { definition: 'user_lists', kind: 'definition', autoSubscribe: true, status: 'unchanged', active: { buckets: 2, rows: 42 }, candidate: { buckets: 2, rows: 42 } },
    ]);
    expect(impact.sampled).toBe(false);
    const sampled = await trpc.syncRules.impact.mutate({ content: RULES_V2, rowLimitPerTable: 100 });
    expect(sampled.tables.find((t) => t.name === 'todos')).toMatchObject({ scannedRows: 41, sampled: false });

    const deployed = await trpc.syncRules.deploy.mutate({ content: RULES_V2, comment: 'add everything', source: 'dashboard' });
    await server.waitActive(deployed.id);
    const history = await waitFor(() => trpc.syncRules.history.query({ limit: 10 }), (h) => h[0]?.state === 'ACTIVE');
    expect(history.map((h) => [h.id, h.state])).toEqual([[deployed.id, 'ACTIVE'], [v1, 'STOPPED']]);
    expect(history[0]).toMatchObject({ comment: 'add everything', snapshotDone: true, snapshot: { tablesTotal: 2, tablesDone: 2, rowsCopied: 43 } });

    const diff = await trpc.syncRules.diff.query({ from: v1, to: deployed.id });
    expect(diff.added).toBe(3);
    expect(diff.deleted).toBe(0);
    expect(diff.lines.filter((l) => l.type === 'add').map((l) => l.text.trim())).toEqual(['everything:', 'data:', '- SELECT id, name FROM lists']);

    const rollback = await trpc.syncRules.rollback.mutate({ id: v1 });
    expect((await trpc.syncRules.version.query({ id: rollback.id })).content).toBe(RULES);
    await server.waitActive(rollback.id);
    // Every version says where it came from.
    const sources = await trpc.syncRules.history.query({ limit: 3 });
    expect(sources.map((h) => [h.id, h.deploySource])).toEqual([[rollback.id, 'rollback'], [deployed.id, 'dashboard'], [v1, 'api']]);
    v1 = rollback.id;
    const invalid = await trpc.syncRules.deploy.mutate({ content: 'bucket_definitions: 3' }).catch((e: unknown) => e as TRPCClientError<AdminRouter>);
    expect((invalid as TRPCClientError<AdminRouter>).data?.serviceCode).toBe('SYNC_RULES_INVALID');
  });
});

describe('per-user inspection', () => {
  it("lists a user's buckets with stored totals and pages through a bucket's ops", async () => {
    const u1 = await trpc.users.inspect.query({ userId: 'u1' });
    expect(u1.versionId).toBe(v1);
    expect(u1.buckets).toHaveLength(1);
    expect(u1.buckets[0]).toMatchObject({ bucket: `${v1}#user_lists["l1"]`, definition: 'user_lists', priority: 1, opCount: 21, liveRows: 21 });
    expect(u1.buckets[0]!.bytes).toBeGreaterThan(0);
    expect(u1.lookups).toEqual([expect.objectContaining({ definition: 'user_lists', values: ['u1'], results: [{ list_id: 'l1' }] })]);

    const bucket = u1.buckets[0]!.bucket;
    const page1 = await trpc.buckets.ops.query({ bucket, limit: 10 });
    expect(page1.ops).toHaveLength(10);
    expect(page1.next).toBe(page1.ops[9]!.opId);
    const page2 = await trpc.buckets.ops.query({ bucket, limit: 10, after: page1.next });
    expect(BigInt(page2.ops[0]!.opId)).toBeGreaterThan(BigInt(page1.ops[9]!.opId));
    const page3 = await trpc.buckets.ops.query({ bucket, limit: 10, after: page2.next });
    expect(page3.ops).toHaveLength(1);
    expect(page3.next).toBeNull();
    const one = await trpc.buckets.ops.query({ bucket, rowId: 't4', op: 'PUT' });
    expect(one.ops.map((o) => [o.op, o.table, o.rowId])).toEqual([['PUT', 'todos', 't4']]);
    // Operators see the subkey clients receive: opaque, never the source key (`<table id>/["t4"]`).
    expect(one.ops[0]!.subkey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const list = await trpc.buckets.list.query({ prefix: `${v1}#user_lists`, limit: 1 });
    expect(list.buckets).toHaveLength(1);
    expect((await trpc.buckets.list.query({ prefix: `${v1}#user_lists`, after: list.next! })).buckets).toHaveLength(1);
  });

  it("shows a row's memberships and explains why a user does not see it", async () => {
    const row = await trpc.buckets.row.query({ table: 'todos', id: 't3' });
    expect(row.stored?.buckets.map((b) => b.bucket)).toEqual([`${v1}#user_lists["l2"]`]);
    expect(row.evaluated).toEqual([expect.objectContaining({ bucket: `${v1}#user_lists["l2"]`, parameters: ['l2'] })]);

    const why = await trpc.users.explainRow.query({ userId: 'u1', row: { table: 'todos', id: 't3' } });
    expect(why.visible).toBe(false);
    expect(why.storedAgrees).toBe(true);
    expect(why.definitions[0]).toMatchObject({ definition: 'user_lists', verdict: 'different-parameters', userBuckets: [{ parameters: ['l1'] }] });
    expect(why.definitions[0]!.queries?.parameters[0]).toContain('request.user_id()');

    const orphan = await trpc.users.explainRow.query({ userId: 'u1', row: { table: 'todos', id: 'orphan' } });
    expect(orphan.definitions[0]!.verdict).toBe('no-bucket-for-row');
    const visible = await trpc.users.explainRow.query({ userId: 'u1', row: { table: 'todos', id: 't2' } });
    expect(visible.visible).toBe(true);
    const nobody = await trpc.users.explainRow.query({ userId: 'u9', row: { table: 'todos', id: 't2' } });
    expect(nobody.definitions[0]!.verdict).toBe('user-has-none');

    const missing = await trpc.buckets.row.query({ table: 'nope', id: 'x' }).catch((e: unknown) => e as TRPCClientError<AdminRouter>);
    expect((missing as TRPCClientError<AdminRouter>).data?.serviceCode).toBe('SYNC_NOT_FOUND');
  });

  it('mints a dev token that opens a sync stream as the user', async () => {
    const { token } = await trpc.users.devToken.mutate({ userId: 'u1' });
    await using stream = await openSyncStream(server.url, token);
    const lines = await stream.until(isComplete);
    expect(lines.length).toBeGreaterThan(1);
  });
});

describe('checksum verification', () => {
  const finished = (id: number) => waitFor(() => trpc.verification.run.query({ id }), (r) => r.state !== 'RUNNING');

  it('reports no mismatch on consistent storage, then every corruption', async () => {
    const clean = await finished((await trpc.verification.start.mutate({})).id);
    expect(clean).toMatchObject({ state: 'DONE', versionId: v1, bucketsTotal: 2, bucketsChecked: 2, rowsChecked: 43, checksumMismatches: 0, rowMismatches: 0 });
    expect(clean.rowBuckets).toBe(2);

    const bucket = `${v1}#user_lists["l1"]`;
    await server.services.storage.query(`UPDATE syncline.bucket_state SET checksum = (checksum + 7) % 4294967296 WHERE version_id = $1 AND bucket = $2`, [v1, bucket]);
    await server.services.storage.query(`DELETE FROM syncline.bucket_data WHERE version_id = $1 AND row_id = 't3'`, [v1]);
    const bad = await finished((await trpc.verification.start.mutate({})).id);
    expect(bad).toMatchObject({ state: 'DONE', checksumMismatches: 2, rowMismatches: 1 });
    const report = await trpc.verification.mismatches.query({ id: bad.id });
    expect(report.mismatches.map((m) => [m.kind, m.bucket, m.rowId])).toEqual([
      ['checksum', `${v1}#user_lists["l1"]`, null],
      ['checksum', `${v1}#user_lists["l2"]`, null],
      ['missing_row', `${v1}#user_lists["l2"]`, 't3'],
    ]);
    expect(report.mismatches[2]!.expected).toContain('"id":"t3"');

    const scoped = await finished((await trpc.verification.start.mutate({ userId: 'u1' })).id);
    expect(scoped).toMatchObject({ userId: 'u1', bucketsTotal: 1, checksumMismatches: 1, rowMismatches: 0 });
    const runs = await trpc.verification.runs.query({ limit: 5 });
    expect(runs.map((r) => r.id).slice(0, 3)).toEqual([scoped.id, bad.id, clean.id]);

    const rest = await server.admin(`/api/admin/v1/verification/${bad.id}/mismatches?limit=1`);
    expect(((await rest.json()) as { data: { mismatches: unknown[]; next: number } }).data.mismatches).toHaveLength(1);
  });
});

describe('connections and health', () => {
  it('lists an open stream across processes and disconnects it', async () => {
    await using stream = await openSyncStream(server.url, await server.token('u1'), { client_id: 'client-a' }, { 'user-agent': 'admin-test/1.0' });
    await stream.until(isComplete);
    const listed = await trpc.connections.list.query({ userId: 'u1' });
    const conn = listed.connections.find((c) => c.clientId === 'client-a');
    expect(conn).toMatchObject({ userId: 'u1', transport: 'http', userAgent: 'admin-test/1.0' });
    expect((await trpc.connections.list.query({ userId: 'nobody' })).total).toBe(0);

    const started = Date.now();
    await trpc.connections.disconnect.mutate({ id: conn!.id });
    for (;;) {
      const line = await stream.next(10_000).catch(() => 'timeout' as const);
      if (line === null) break;
      expect(line).not.toBe('timeout');
    }
    expect(Date.now() - started).toBeLessThan(8_000);
    await waitFor(() => trpc.connections.list.query({ userId: 'u1' }), (l) => !l.connections.some((c) => c.id === conn!.id));
  });

  it('reports replication health and keeps samples for charts', async () => {
    const health = await trpc.health.replication.query();
    const active = health.versions.find((v) => v.state === 'ACTIVE')!;
    expect(active).toMatchObject({ versionId: v1, snapshotDone: true, slotActive: true });
    expect(active.lagBytes).not.toBeNull();
    expect(active.walRetainedBytes).toBeGreaterThanOrEqual(0);
    const samples = await waitFor(() => trpc.health.samples.query({ minutes: 5 }), (s) => s.length > 0);
    expect(samples[0]).toHaveProperty('opsWritten');

    const rest = await server.admin('/api/admin/v1/health/replication');
    expect(rest.status).toBe(200);

    // Changes replication could not apply are counted next to the other replication metrics.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^syncline_replication_unmatched_deletes_total\\{version="${v1}",process="[^"]+",runner="unified"\\} 0$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^syncline_replication_unkeyed_changes_total\\{version="${v1}",process="[^"]+",runner="unified"\\} 0$`, 'm'));
  });
});
