import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { deserialize } from 'bson';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { openSyncStream } from './support/sync-client.ts';
import { connectRSocket } from './websocket/rsocket-test-client.ts';
import { ErrorCode, Flags, FrameType, encodeCancel, encodeKeepAlive, encodeRequestN } from '../src/websocket/rsocket-frames.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text, big bigint);
`;
const RULES = `
bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const isComplete = (l: SyncLine) => 'checkpoint_complete' in l;

let server: TestServer;

async function waitForNoStreams(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (server.services.connections.size > 0) {
    if (Date.now() > deadline) throw new Error('streams still registered');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  // One stream per process at a time, so the limit test needs no second server.
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA, env: { MAX_CONCURRENT_STREAMS: '1' } });
  await server.source.query(`INSERT INTO lists VALUES ('l1', 'u1', 'Groceries'), ('l2', 'u2', 'Other')`);
  const rows = Array.from({ length: 30 }, (_, i) => `('t${i}', 'l1', 'todo ${i}', ${9007199254740993n + BigInt(i)})`);
  await server.source.query(`INSERT INTO todos VALUES ${rows.join(',')}, ('x1', 'l2', 'Nope', null)`);
  await server.waitActive(await server.deploy(RULES));
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe('sync stream over RSocket/WebSocket', () => {
  it('streams an initial sync as BSON payloads and registers the stream as a websocket connection', async () => {
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}`, userAgent: 'ws-test/1' });
    expect(client.ws.extensions).toContain('permessage-deflate');
    client.requestStream(1, 1000, { client_id: 'c1', raw_data: true, buckets: [] });
    const lines = await client.linesUntil(1, isComplete);
    expect(Object.keys(lines[0]!)).toEqual(['checkpoint']);
    const ops = lines.flatMap((l) => ('data' in l ? l.data.data : []));
    expect(ops).toHaveLength(31);
    const t1 = ops.find((o) => o.object_id === 't1')!;
    expect(typeof t1.data).toBe('string');
    expect(t1.data).toContain('"big":9007199254740994');
    const { rows } = await server.services.storage.query<{ transport: string; user_id: string; client_id: string; user_agent: string }>(
      'SELECT transport, user_id, client_id, user_agent FROM syncline.connections',
    );
    expect(rows).toEqual([{ transport: 'websocket', user_id: 'u1', client_id: 'c1', user_agent: 'ws-test/1' }]);

    await server.source.query(`INSERT INTO todos VALUES ('t-new', 'l1', 'Bread', 1)`);
    const diff = await client.linesUntil(1, isComplete);
    expect(Object.keys(diff[0]!)).toEqual(['checkpoint_diff']);
    expect(diff.flatMap((l) => ('data' in l ? l.data.data.map((o) => o.object_id) : []))).toEqual(['t-new']);
    await server.source.query(`DELETE FROM todos WHERE id = 't-new'`);
    await client.linesUntil(1, isComplete);
  });

  it('accepts JSON setup and request payloads, as the JS SDK sends them', async () => {
    await waitForNoStreams();
    await using client = await connectRSocket(server.url, { token: `Bearer ${await server.token('u2')}`, mime: 'application/json' });
    client.requestStream(1, 10, { client_id: 'c2', buckets: [] });
    const lines = await client.linesUntil(1, isComplete);
    expect(lines.flatMap((l) => ('data' in l ? l.data.data.map((o) => o.object_id) : []))).toEqual(['l2', 'x1']);
  });

  it('rejects a bad token with an ERROR frame on stream 0 and closes with the stable code', async () => {
    const failuresBefore = server.services.metrics.authFailures;
    await using client = await connectRSocket(server.url, { token: 'Token not-a-jwt' });
    client.requestStream(1, 10, {});
    const frame = await client.next();
    expect(frame).toMatchObject({ type: FrameType.ERROR, streamId: 0, code: ErrorCode.REJECTED_SETUP });
    if (frame?.type !== FrameType.ERROR) throw new Error('unreachable');
    expect(JSON.parse(frame.message)).toMatchObject({ code: 'SYNC_AUTH_INVALID', status: 401 });
    expect(frame.message).not.toContain('not-a-jwt');
    expect(await client.closed).toEqual({ code: 1008, reason: 'SYNC_AUTH_INVALID' });
    expect(server.services.metrics.authFailures).toBe(failuresBefore + 1);
  });

  it('rejects a SETUP without a token as missing authorization', async () => {
    await using client = await connectRSocket(server.url, {});
    const frame = await client.next();
    if (frame?.type !== FrameType.ERROR) throw new Error(`expected ERROR, got ${JSON.stringify(frame)}`);
    expect(JSON.parse(frame.message).code).toBe('SYNC_AUTH_MISSING');
    expect((await client.closed).reason).toBe('SYNC_AUTH_MISSING');
  });

  it('sends one line per REQUEST_N credit and pulls nothing while the client has granted none', async () => {
    await waitForNoStreams();
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.requestStream(1, 1, { client_id: 'c3', buckets: [] });
    const first = await client.next();
    expect(first).toMatchObject({ type: FrameType.PAYLOAD, streamId: 1, flags: Flags.NEXT });
    expect(Object.keys(deserialize((first as { data: Buffer }).data))).toEqual(['checkpoint']);
    expect(await client.quiet(300)).toBe(true);
    client.send(encodeRequestN(1, 1));
    const second = await client.next();
    expect(Object.keys(deserialize((second as { data: Buffer }).data))).toEqual(['data']);
    expect(await client.quiet(300)).toBe(true);
    client.send(encodeRequestN(1, 100));
    await client.linesUntil(1, isComplete);
  });

  it('warns before the token expires, sends token_expires_in 0 at expiry, then COMPLETE', async () => {
    await waitForNoStreams();
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1', { ttlSeconds: 3 })}` });
    client.requestStream(1, 1000, { client_id: 'c-exp', buckets: [] });
    await client.linesUntil(1, isComplete);
    const tail = await client.linesUntil(1, (l) => 'token_expires_in' in l && l.token_expires_in === 0, 10_000);
    // No 20 s keepalive lines on this transport: only the expiry warning(s) and the final 0.
    expect(tail.every((l) => 'token_expires_in' in l && l.token_expires_in <= 20)).toBe(true);
    expect(await client.next(5_000)).toMatchObject({ type: FrameType.PAYLOAD, streamId: 1, flags: Flags.COMPLETE });
    await waitForNoStreams();
  });

  it('answers KEEPALIVE frames that ask for a response, echoing their data', async () => {
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.send(encodeKeepAlive(true, Buffer.from('ping')));
    const frame = await client.next();
    expect(frame).toMatchObject({ type: FrameType.KEEPALIVE, streamId: 0, flags: 0 });
    expect((frame as { data: Buffer }).data.toString()).toBe('ping');
  });

  it('ends the stream on CANCEL and unregisters it', async () => {
    await waitForNoStreams();
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.requestStream(1, 1000, { client_id: 'c4', buckets: [] });
    await client.linesUntil(1, isComplete);
    expect(server.services.connections.size).toBe(1);
    client.send(encodeCancel(1));
    await waitForNoStreams();
    expect(await client.quiet(200)).toBe(true);
  });

  it('ends the stream and unregisters it when the socket closes', async () => {
    await waitForNoStreams();
    const client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.requestStream(1, 1000, { client_id: 'c5', buckets: [] });
    await client.linesUntil(1, isComplete);
    client.ws.terminate();
    await waitForNoStreams();
  });

  it('answers an unknown route and an invalid request with a stream ERROR naming the stable code', async () => {
    await waitForNoStreams();
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    client.requestStream(1, 10, {}, '/nope');
    const notFound = await client.next();
    expect(notFound).toMatchObject({ type: FrameType.ERROR, streamId: 1, code: ErrorCode.APPLICATION_ERROR });
    expect(JSON.parse((notFound as { message: string }).message).code).toBe('SYNC_NOT_FOUND');
    client.requestStream(3, 10, { buckets: 'not-a-list' });
    const bad = await client.next();
    expect(bad).toMatchObject({ type: FrameType.ERROR, streamId: 3 });
    expect(JSON.parse((bad as { message: string }).message).code).toBe('SYNC_BAD_REQUEST');
  });

  it('refuses a stream beyond MAX_CONCURRENT_STREAMS with SYNC_TOO_MANY_STREAMS', async () => {
    await waitForNoStreams();
    await using http = await openSyncStream(server.url, await server.token('u2'), { client_id: 'h1' });
    await http.until(isComplete);
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}` });
    const frame = await client.next();
    expect(frame).toMatchObject({ type: FrameType.ERROR, streamId: 0, code: ErrorCode.REJECTED_SETUP });
    expect(JSON.parse((frame as { message: string }).message)).toMatchObject({ code: 'SYNC_TOO_MANY_STREAMS', status: 429 });
    expect(await client.closed).toEqual({ code: 1013, reason: 'SYNC_TOO_MANY_STREAMS' });
  });
});
