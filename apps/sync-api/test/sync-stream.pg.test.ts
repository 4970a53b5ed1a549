import { describe, expect, it, inject } from 'vitest';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text, done boolean NOT NULL DEFAULT false, big bigint);
`;
const RULES = `
bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;

describe('sync stream over HTTP (NDJSON)', () => {
  it('replicates a snapshot and streams an initial sync followed by an incremental diff', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    await server.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'Groceries'), ('l2', 'u2', 'Other')`);
    await server.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'Milk', false, 12345678901234567), ('t2', 'l2', 'Nope', false, null)`);
    const version = await server.deploy(RULES);
    await server.waitActive(version);

    await using stream = await openSyncStream(server.url, await server.token('u1'), { client_id: 'c1' });
    const lines = await stream.until(isComplete);
    const checkpoint = lines[0] as Extract<SyncLine, { checkpoint: unknown }>;
    expect(checkpoint.checkpoint.buckets.map((b) => b.bucket)).toEqual([`${version}#user_lists["l1"]`]);
    const data = lines.filter((l): l is Extract<SyncLine, { data: unknown }> => 'data' in l).flatMap((l) => l.data.data);
    expect(data.map((d) => [d.op, d.object_type, d.object_id])).toEqual([
      ['PUT', 'lists', 'l1'],
      ['PUT', 'todos', 't1'],
    ]);
    expect(data[1]!.data).toBe('{"id":"t1","list_id":"l1","description":"Milk","done":0,"big":12345678901234567}');

    await server.source.query(`INSERT INTO todos VALUES ('t3', 'l1', 'Bread', true, 1)`);
    const diff = await stream.until(isComplete);
    expect(Object.keys(diff[0]!)).toEqual(['checkpoint_diff']);
    const ops = diff.filter((l): l is Extract<SyncLine, { data: unknown }> => 'data' in l).flatMap((l) => l.data.data);
    expect(ops.map((o) => o.object_id)).toEqual(['t3']);
  });
});

describe('debug memory endpoint', () => {
  it('needs the admin token and reports process memory', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    expect((await fetch(`${server.url}/api/admin/v1/debug/memory`)).status).toBe(401);
    const res = await server.admin('/api/admin/v1/debug/memory');
    const body = (await res.json()) as { data: { rss: number; heap_used: number; connections: number } };
    expect(res.status).toBe(200);
    expect(body.data.rss).toBeGreaterThan(body.data.heap_used);
    expect(body.data.connections).toBe(0);
  });
});
