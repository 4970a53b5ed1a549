/**
 * Backpressure on both transports: a client that stops reading must stop the server from pulling
 * more lines out of the sync generator, so nothing is buffered beyond socket buffers and a line or
 * two; once the client reads again the stream finishes.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { connectRSocket } from './websocket/rsocket-test-client.ts';
import { MAX_REQUEST_N } from '../src/websocket/rsocket-frames.ts';

const ROWS = 20_000;
const ROW_BYTES = 2_000;
const TOTAL_BYTES = ROWS * ROW_BYTES;
const AHEAD_PER_STREAM = 2 * 2 ** 20;
const AHEAD_TOTAL = 3 * 2 ** 20;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), {
    schemaSql: `CREATE TABLE items (id text PRIMARY KEY, owner_id text NOT NULL, body text NOT NULL);`,
    env: { STREAM_WRITE_AHEAD_BYTES: String(AHEAD_PER_STREAM), STREAM_WRITE_AHEAD_TOTAL_BYTES: String(AHEAD_TOTAL) },
  });
  // Random hex, so compression cannot hide how much is buffered.
  await server.source.query(
    `INSERT INTO items SELECT 'i' || g, 'u1', (SELECT string_agg(md5(random()::text || g || k), '') FROM generate_series(1, ${ROW_BYTES / 32}) k)
       FROM generate_series(1, ${ROWS}) g`,
  );
  await server.waitActive(
    await server.deploy(`
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`),
    120_000,
  );
}, 180_000);
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

/** Waits until the server's produced-bytes counter has not moved for `quietMs`; returns its value. */
async function producedBytesOnceStalled(quietMs = 1_500, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = server.services.metrics.bytesSent;
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = server.services.metrics.bytesSent;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
  }
  throw new Error(`the server kept producing lines for ${timeoutMs} ms although the client read nothing (${last} bytes)`);
}

/** A raw HTTP sync stream for `u1` whose socket reads nothing until resumed. */
async function openPausedHttpStream(clientId: string) {
  const token = await server.token('u1');
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const body = JSON.stringify({ raw_data: true, client_id: clientId });
  socket.write(
    `POST /sync/stream HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\n` +
      `Accept: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.pause();
  return socket;
}

/** Resumes a paused stream and reads until its first checkpoint_complete; returns the bytes read. */
function readToCheckpointComplete(socket: Socket): Promise<number> {
  let tail = '';
  let received = 0;
  const done = new Promise<number>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-200);
      if (tail.includes('"checkpoint_complete"')) resolve(received);
    }),
  );
  socket.resume();
  return done;
}

async function untilNoConnections(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (server.services.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(server.services.connections.size).toBe(0);
}

describe('backpressure', () => {
  it('HTTP: a client that stops reading stops the generator; reading again finishes the stream', async () => {
    const before = server.services.metrics.bytesSent;
    const socket = await openPausedHttpStream('slow-http');

    const produced = (await producedBytesOnceStalled()) - before;
    if (process.env.BACKPRESSURE_REPORT) process.stderr.write(`http: ${produced} of ~${TOTAL_BYTES} bytes produced while stalled\n`);
    // Bounded by kernel socket buffers, the write-ahead share (2 MiB) and a line — far below the bucket’s size.
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(TOTAL_BYTES / 3);
    expect(server.services.connections.size).toBe(1);

    const received = await readToCheckpointComplete(socket);
    expect(received).toBeGreaterThan(TOTAL_BYTES);
    socket.destroy();
    await untilNoConnections();
  });

  it('HTTP: streams of clients that read nothing run ahead within their share and the process total, released at the end', async () => {
    const sockets = [await openPausedHttpStream('ahead-1'), await openPausedHttpStream('ahead-2')];
    await producedBytesOnceStalled();
    const held = server.services.writeAhead.inUse;
    if (process.env.BACKPRESSURE_REPORT) process.stderr.write(`write-ahead while stalled: ${held} bytes\n`);
    // Both streams went past their socket buffers (one share and part of another)…
    expect(held).toBeGreaterThan(AHEAD_PER_STREAM);
    // …and not past the process total.
    expect(held).toBeLessThanOrEqual(AHEAD_TOTAL);
    for (const received of await Promise.all(sockets.map(readToCheckpointComplete))) expect(received).toBeGreaterThan(TOTAL_BYTES);
    for (const socket of sockets) socket.destroy();
    await untilNoConnections();
    expect(server.services.writeAhead.inUse).toBe(0);
  });

  it('WebSocket: with unbounded REQUEST_N, a client that stops reading still stops the generator', async () => {
    const before = server.services.metrics.bytesSent;
    // Uncompressed frames, so socket buffers fill as fast as the server produces.
    await using client = await connectRSocket(server.url, { token: `Token ${await server.token('u1')}`, compress: false });
    client.requestStream(1, MAX_REQUEST_N, { client_id: 'slow-ws', raw_data: true });
    client.ws.pause(); // stop reading the socket; REQUEST_N is no limit here

    const produced = (await producedBytesOnceStalled()) - before;
    if (process.env.BACKPRESSURE_REPORT) process.stderr.write(`websocket: ${produced} of ~${TOTAL_BYTES} bytes produced while stalled\n`);
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(TOTAL_BYTES / 3);

    client.ws.resume();
    const lines = await client.linesUntil(1, (l: SyncLine) => 'checkpoint_complete' in l, 60_000);
    const ops = lines.reduce((n, l) => n + ('data' in l ? l.data.data.length : 0), 0);
    expect(ops).toBe(ROWS);
  });
});
