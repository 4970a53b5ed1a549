/**
 * Hostile clients: limits that keep one client from loading everything or pushing the service
 * around, and tokens that run out in the middle of a download. Every rejection is a clean 4xx (or
 * an ERROR frame) with a stable code, and nothing stored changes.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { SyncLine } from '@syncline/protocol';
import { streamSyncLines } from '@syncline/engine';
import { connect } from 'node:net';
import pino from 'pino';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';
import { connectRSocket } from './websocket/rsocket-test-client.ts';
import { ErrorCode, FrameType } from '../src/websocket/rsocket-frames.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text);
`;
const RULES = `
bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;

let server: TestServer;
let version = 0;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), {
    schemaSql: SCHEMA,
    env: { MAX_PARAMETER_RESULTS_PER_CONNECTION: '3', WRITE_CHECKPOINTS_PER_MINUTE: '6', MAX_STREAMS_PER_WEBSOCKET: '2' },
  });
  const lists = ["('l1', 'u1', 'one')", ...Array.from({ length: 5 }, (_, i) => `('m${i}', 'many', 'list ${i}')`)];
  await server.source.query(`INSERT INTO lists VALUES ${lists.join(',')}`);
  const todos = Array.from({ length: 40 }, (_, i) => `('t${i}', 'l1', 'todo ${i}')`);
  await server.source.query(`INSERT INTO todos VALUES ${todos.join(',')}`);
  // ~16 MB for one user: more than socket buffers hold, so a client that stops reading stalls the server.
  await server.source.query(`INSERT INTO lists VALUES ('big', 'big-user', 'big')`);
  await server.source.query(`INSERT INTO todos SELECT 'b' || g, 'big', repeat(md5(g::text), 64) FROM generate_series(1, 8000) g`);
  version = await server.deploy(RULES);
  await server.waitActive(version);
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

async function waitForNoStreams(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (server.services.connections.size > 0) {
    if (Date.now() > deadline) throw new Error('streams still registered');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('token expiry', () => {
  it('ends a download at exp with token_expires_in 0, even before the checkpoint completes', async () => {
    const abort = new AbortController();
    const lines = streamSyncLines({
      watcher: server.services.watcher!,
      rulesFor: server.services.rulesFor,
      request: { raw_data: true },
      userId: 'u1',
      claims: { sub: 'u1' },
      tokenExpiresAt: Date.now() / 1000 + 1.5,
      signal: abort.signal,
      logger: pino({ level: 'silent' }),
      keepalives: true,
      batchOps: 1,
    });
    try {
      const first = await lines.next();
      expect(first.value).toHaveProperty('checkpoint');
      const data = await lines.next();
      expect(data.value).toHaveProperty('data');
      // The client is slow: by the time it asks for the next page, the token has expired.
      await new Promise((r) => setTimeout(r, 1_700));
      expect((await lines.next()).value).toEqual({ token_expires_in: 0 });
      expect(await lines.next()).toEqual({ done: true, value: 'token_expired' });
    } finally {
      abort.abort();
      await lines.return('closed');
    }
  });
});

describe('token expiry with a client that stops reading', () => {
  it('ends a WebSocket stream at exp with an ERROR frame even when the client grants no more credits', async () => {
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1', { ttlSeconds: 2 })}` });
    // One credit: the checkpoint line. The stream is then stuck in the middle of its download.
    client.requestStream(1, 1, { raw_data: true });
    let end: { type: number; message?: string } | null = null;
    while (!end) {
      const f = await client.next(15_000);
      if (!f) throw new Error('socket closed');
      if (f.streamId === 1 && f.type === FrameType.ERROR) end = f;
      else if (f.streamId === 1 && f.type === FrameType.PAYLOAD && f.data.length === 0) end = f;
    }
    expect(end.type).toBe(FrameType.ERROR);
    expect(JSON.parse(end.message!)).toMatchObject({ code: 'SYNC_AUTH_EXPIRED', status: 401 });
    await waitForNoStreams();
  });
});

describe('token expiry over HTTP with a client that stops reading', () => {
  it('closes the response shortly after exp instead of waiting for the client forever', async () => {
    const token = await server.token('big-user', { ttlSeconds: 3 });
    const { port } = new URL(server.url);
    const body = JSON.stringify({ raw_data: true });
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `POST /sync/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise<void>((r) => socket.once('data', () => r()));
    // Read nothing more: kernel buffers fill, the server's writes back up and its generator is
    // never pulled again, so only the transport can end the stream.
    socket.pause();
    await waitForNoStreams();
    socket.destroy();
  });
});

describe('parameter query results per connection', () => {
  it('refuses a user whose parameter queries return more rows than the limit, with a stable code', async () => {
    const before = await server.services.storage.query('SELECT count(*)::int AS n FROM syncline.connections');
    const err = await openSyncStream(server.url, await server.token('many')).then(
      () => null,
      (e: { status: number; body: string }) => e,
    );
    expect(err?.status).toBe(400);
    expect(JSON.parse(err!.body)).toMatchObject({ error: { code: 'SYNC_TOO_MANY_PARAMETER_RESULTS', status: 400 } });
    expect(JSON.parse(err!.body).error.message).toMatch(/MAX_PARAMETER_RESULTS_PER_CONNECTION/);
    await waitForNoStreams();
    const after = await server.services.storage.query('SELECT count(*)::int AS n FROM syncline.connections');
    expect(after.rows).toEqual(before.rows);
  });

  it('serves a user under the limit', async () => {
    await using stream = await openSyncStream(server.url, await server.token('u1'));
    const lines = await stream.until(isComplete);
    expect((lines[0] as Extract<SyncLine, { checkpoint: unknown }>).checkpoint.buckets).toHaveLength(1);
  });
});

describe('write checkpoint rate limit', () => {
  it('answers 429 with Retry-After once a user exceeds the limit, stores nothing, and leaves other users alone', async () => {
    const get = async (user: string, client: string) =>
      fetch(`${server.url}/write-checkpoint2.json?client_id=${client}`, { headers: { authorization: `Token ${await server.token(user)}` } });
    const count = async () => (await server.services.storage.query<{ n: number }>('SELECT count(*)::int AS n FROM syncline.write_checkpoints')).rows[0]!.n;
    expect((await get('rl-a', 'c1')).status).toBe(200);
    const stored = await count();
    // Another client id of the same user shares the user's budget.
    const limited = await get('rl-a', 'c2');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: { code: 'SYNC_RATE_LIMITED', status: 429 } });
    expect(await count()).toBe(stored);
    expect((await get('rl-b', 'c1')).status).toBe(200);
  });
});

describe('REQUEST_STREAMs per WebSocket', () => {
  it('answers a stream past MAX_STREAMS_PER_WEBSOCKET with an ERROR frame and keeps the others', async () => {
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.requestStream(1, 100, { raw_data: true });
    client.requestStream(3, 100, { raw_data: true });
    client.requestStream(5, 100, { raw_data: true });
    let rejected: { code: number; message: string } | null = null;
    const completes = new Set<number>();
    while (!rejected || completes.size < 2) {
      const f = await client.next(15_000);
      if (!f) throw new Error('socket closed');
      if (f.type === FrameType.ERROR) {
        expect(f, JSON.stringify(f)).toMatchObject({ streamId: 5 });
        rejected = f;
      }
      if (f.type === FrameType.PAYLOAD && f.data.length > 0 && f.data.includes('checkpoint_complete')) completes.add(f.streamId);
    }
    expect(rejected.code).toBe(ErrorCode.APPLICATION_ERROR);
    expect(JSON.parse(rejected.message)).toMatchObject({ code: 'SYNC_TOO_MANY_SOCKET_STREAMS', status: 429 });
    expect([...completes].sort()).toEqual([1, 3]);
  });
});
