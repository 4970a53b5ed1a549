/**
 * Exact protocol line sequences (reference §1.5–1.9) against a real server with real replication:
 * line kinds and order, bucket names, op ids and checksums are asserted, not just "something came".
 */
import { describe, expect, it, inject } from 'vitest';
import { toSignedInt32, type SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text);
  CREATE TABLE notices (id text PRIMARY KEY, body text);
`;
const RULES = `
bucket_definitions:
  global_notices:
    priority: 1
    data:
      - SELECT * FROM notices
  by_list:
    priority: 3
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;

type Line<K extends string> = Extract<SyncLine, Record<K, unknown>>;
const kinds = (lines: SyncLine[]) => lines.map((l) => Object.keys(l)[0]);
const dataOps = (lines: SyncLine[]) => lines.filter((l): l is Line<'data'> => 'data' in l).flatMap((l) => l.data.data.map((d) => ({ bucket: l.data.bucket, ...d })));

async function server(extra?: { env?: Record<string, string> }): Promise<TestServer> {
  const s = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA, ...extra });
  return s;
}

describe('sync protocol line sequences', () => {
  it('sends checkpoint then checkpoint_complete for a user with no buckets', async () => {
    await using s = await server();
    const v = await s.deploy(`bucket_definitions:\n  mine:\n    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()\n    data:\n      - SELECT * FROM lists WHERE id = bucket.list_id\n`);
    await s.waitActive(v);
    await using stream = await openSyncStream(s.url, await s.token('nobody'));
    const lines = await stream.until(isComplete);
    expect(kinds(lines)).toEqual(['checkpoint', 'checkpoint_complete']);
    const cp = (lines[0] as Line<'checkpoint'>).checkpoint;
    expect(cp.buckets).toEqual([]);
    expect(cp.streams).toEqual([{ name: 'mine', is_default: true, errors: [] }]);
    expect((lines[1] as Line<'checkpoint_complete'>).checkpoint_complete.last_op_id).toBe(cp.last_op_id);
  });

  it('initial sync with two priorities: priority-1 data, partial complete, then the rest and complete; checksums add up', async () => {
    await using s = await server();
    await s.source.query(`INSERT INTO notices VALUES ('n1', 'hello')`);
    await s.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'L')`);
    await s.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'a'), ('t2', 'l1', 'b')`);
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    await using stream = await openSyncStream(s.url, await s.token('u1'));
    const lines = await stream.until(isComplete);
    expect(kinds(lines)).toEqual(['checkpoint', 'data', 'partial_checkpoint_complete', 'data', 'checkpoint_complete']);
    const cp = (lines[0] as Line<'checkpoint'>).checkpoint;
    expect(cp.buckets.map((b) => [b.bucket, b.priority, b.count])).toEqual([
      [`${v}#global_notices[]`, 1, 1],
      [`${v}#by_list["l1"]`, 3, 3],
    ]);
    expect((lines[2] as Line<'partial_checkpoint_complete'>).partial_checkpoint_complete).toEqual({ last_op_id: cp.last_op_id, priority: 1 });
    for (const b of cp.buckets) {
      const sum = dataOps(lines).filter((o) => o.bucket === b.bucket).reduce((acc, o) => acc + o.checksum, 0);
      expect(toSignedInt32(sum)).toBe(b.checksum);
    }
    const d = lines[1] as Line<'data'>;
    expect(d.data).toMatchObject({ bucket: `${v}#global_notices[]`, after: '0', has_more: false });
    expect(d.data.data[0]).toMatchObject({ op: 'PUT', object_type: 'notices', object_id: 'n1', data: '{"id":"n1","body":"hello"}' });
  });

  it('incremental diff; a row moving between buckets; a write checkpoint without data change', async () => {
    await using s = await server();
    await s.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A'), ('l2', 'u1', 'B')`);
    await s.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'x')`);
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    const token = await s.token('u1');
    await using stream = await openSyncStream(s.url, token, { client_id: 'c1' });
    await stream.until(isComplete);

    await s.source.query(`UPDATE todos SET list_id = 'l2' WHERE id = 't1'`);
    const diff = await stream.until(isComplete);
    expect(kinds(diff)).toEqual(['checkpoint_diff', 'data', 'data', 'checkpoint_complete']);
    const cd = (diff[0] as Line<'checkpoint_diff'>).checkpoint_diff;
    expect(cd.removed_buckets).toEqual([]);
    expect(cd.updated_buckets.map((b) => b.bucket).sort()).toEqual([`${v}#by_list["l1"]`, `${v}#by_list["l2"]`]);
    const ops = dataOps(diff);
    expect(ops.find((o) => o.bucket === `${v}#by_list["l1"]`)).toMatchObject({ op: 'REMOVE', object_id: 't1', data: null });
    expect(ops.find((o) => o.bucket === `${v}#by_list["l2"]`)).toMatchObject({ op: 'PUT', object_id: 't1' });

    const res = await fetch(`${s.url}/write-checkpoint2.json?client_id=c1`, { headers: { authorization: `Token ${token}` } });
    const wc = ((await res.json()) as { data: { write_checkpoint: string } }).data.write_checkpoint;
    const ack = await stream.until(isComplete);
    expect(kinds(ack)).toEqual(['checkpoint_diff', 'checkpoint_complete']);
    expect((ack[0] as Line<'checkpoint_diff'>).checkpoint_diff).toMatchObject({ updated_buckets: [], removed_buckets: [], write_checkpoint: wc });
  });

  it('removes a bucket when its parameter row goes away, and resumes from `after` without re-sending data', async () => {
    await using s = await server();
    await s.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'A'), ('l2', 'u1', 'B')`);
    await s.source.query(`INSERT INTO todos VALUES ('t1', 'l1', 'x'), ('t2', 'l2', 'y')`);
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    const token = await s.token('u1');
    let buckets: Array<{ name: string; after: string }>;
    {
      await using stream = await openSyncStream(s.url, token);
      const first = await stream.until(isComplete);
      const cp = (first[0] as Line<'checkpoint'>).checkpoint;
      buckets = cp.buckets.map((b) => ({ name: b.bucket, after: cp.last_op_id }));
      await s.source.query(`UPDATE lists SET owner_id = 'someone-else' WHERE id = 'l2'`);
      const diff = await stream.until(isComplete);
      expect((diff[0] as Line<'checkpoint_diff'>).checkpoint_diff.removed_buckets).toEqual([`${v}#by_list["l2"]`]);
    }
    await using again = await openSyncStream(s.url, token, { buckets });
    const lines = await again.until(isComplete);
    // Nothing past `after` to send: only the completes (priority 1 of the empty global bucket, then all).
    expect(kinds(lines)).toEqual(['checkpoint', 'partial_checkpoint_complete', 'checkpoint_complete']);
    expect((lines[0] as Line<'checkpoint'>).checkpoint.buckets.map((b) => b.bucket)).toEqual([`${v}#global_notices[]`, `${v}#by_list["l1"]`]);
  });

  it('ends the stream with token_expires_in 0 when the token expires', async () => {
    await using s = await server();
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    await using stream = await openSyncStream(s.url, await s.token('u1', { ttlSeconds: 2 }));
    await stream.until(isComplete);
    const rest: SyncLine[] = [];
    for (let l = await stream.next(10_000); l !== null; l = await stream.next(10_000)) rest.push(l);
    expect(rest.at(-1)).toEqual({ token_expires_in: 0 });
  });

  it('rejects a connection with more buckets than MAX_BUCKETS_PER_CONNECTION, naming the limit', async () => {
    await using s = await server({ env: { MAX_BUCKETS_PER_CONNECTION: '2' } });
    await s.source.query(`INSERT INTO lists SELECT 'l' || i, 'u1', 'n' FROM generate_series(1, 5) i`);
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    const err = await openSyncStream(s.url, await s.token('u1')).then(
      () => null,
      (e: { status: number; body: string }) => e,
    );
    expect(err?.status).toBe(400);
    expect(JSON.parse(err!.body)).toMatchObject({ error: { code: 'SYNC_TOO_MANY_BUCKETS' } });
    expect(err!.body).toContain('MAX_BUCKETS_PER_CONNECTION');
  });

  it('ends open streams when a new sync-rules version becomes active; the reconnect gets the new bucket names', async () => {
    await using s = await server();
    await s.source.query(`INSERT INTO notices VALUES ('n1', 'hello')`);
    const v1 = await s.deploy(RULES);
    await s.waitActive(v1);
    const token = await s.token('u1');
    const stream = await openSyncStream(s.url, token);
    await stream.until(isComplete);
    const v2 = await s.deploy(RULES.replace('global_notices', 'notices_v2'));
    let ended = false;
    for (let i = 0; i < 50 && !ended; i++) ended = (await stream.next(5_000).catch(() => undefined)) === null;
    expect(ended).toBe(true);
    await s.waitActive(v2);
    await using again = await openSyncStream(s.url, token);
    const lines = await again.until(isComplete);
    expect((lines[0] as Line<'checkpoint'>).checkpoint.buckets.map((b) => b.bucket)).toEqual([`${v2}#notices_v2[]`]);
  });

  it('rejects missing and invalid tokens with stable codes and never echoes the token', async () => {
    await using s = await server();
    const missing = await fetch(`${s.url}/sync/stream`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('SYNC_AUTH_MISSING');
    // No kid, so it reaches the signature check (a kid naming no key is SYNC_AUTH_UNKNOWN_KEY).
    const bogus = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const bad = await fetch(`${s.url}/sync/stream`, { method: 'POST', body: '{}', headers: { authorization: `Token ${bogus}`, 'content-type': 'application/json' } });
    const text = await bad.text();
    expect(bad.status).toBe(401);
    expect(text).toContain('SYNC_AUTH_INVALID');
    expect(text).not.toContain(bogus);
  });
});
