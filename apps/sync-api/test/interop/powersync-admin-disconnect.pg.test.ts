/**
 * Admin "disconnect client" on the WebSocket (RSocket) transport ends the stream at once with an
 * RSocket ERROR carrying `SYNC_STREAM_ENDED`, so the official SDK reconnects:
 *
 * - a stream the server aborts before its first line (held while it computes its first checkpoint
 *   by a lock on `syncline.bucket_parameters` from a separate connection) used to wait for the
 *   lock, then send the checkpoint computed after the abort and a COMPLETE;
 * - a stream paused by REQUEST_N flow control (the client granted no more credits) used to stay
 *   open until credits arrived.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SyncStreamConnectionMethod } from '@powersync/node';
import { FrameType, type Frame } from '../../src/websocket/rsocket-frames.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { connectRSocket } from '../websocket/rsocket-test-client.ts';
import { INTEROP_TABLES_SQL, openInteropClient } from './powersync-client.ts';
import { waitFor } from '../support/wait-for.ts';

const SCHEMA = INTEROP_TABLES_SQL;
// A parameter query: the first checkpoint reads syncline.bucket_parameters, which the test can lock.
const RULES = `
bucket_definitions:
  list_todos:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const USERS = ['sdk-user', 'raw-user', 'paused-user'];

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  for (const user of USERS) {
    await server.source.query(`INSERT INTO lists VALUES ($1 || '-l1', $1, 'Groceries')`, [user]);
    await server.source.query(`INSERT INTO todos (id, list_id, description) SELECT $1 || '-t' || i, $1 || '-l1', 'todo ' || i FROM generate_series(1, 50) i`, [user]);
  }
  await server.waitActive(await server.deploy(RULES));
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

interface Listed {
  id: string;
  userId: string;
  transport: string;
}
async function connections(userId: string): Promise<Listed[]> {
  const res = await server.admin(`/api/admin/v1/connections?userId=${encodeURIComponent(userId)}`);
  const body = (await res.json()) as { data: { connections: Listed[] } };
  return body.data.connections;
}
/** Requests the disconnect through the admin REST API and applies it now (the registry flush, every 5 s otherwise). */
async function adminDisconnect(id: string): Promise<void> {
  const res = await server.admin(`/api/admin/v1/connections/${id}/disconnect`, { method: 'POST' });
  expect(res.status).toBe(200);
  await server.services.connections.flush();
}
const errorCode = (f: Frame | null): string | null => {
  if (!f || f.type !== FrameType.ERROR) return null;
  try {
    return (JSON.parse(f.message) as { code?: string }).code ?? null;
  } catch {
    return null;
  }
};
const describeFrame = (f: Frame | null) => (f ? `${f.type === FrameType.ERROR ? `ERROR ${f.message}` : `frame type ${f.type} flags ${f.flags}`}` : 'socket closed');

describe('admin disconnect of a WebSocket stream', () => {
  it('ends a stream that has not sent its first line with ERROR SYNC_STREAM_ENDED at once; the official SDK reconnects', async () => {
    const lock = new pg.Client({ connectionString: server.config.STORAGE_DATABASE_URL });
    await lock.connect();
    let locked = true;
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE syncline.bucket_parameters IN ACCESS EXCLUSIVE MODE');

      await using sdk = await openInteropClient(server, 'sdk-user', SyncStreamConnectionMethod.WEB_SOCKET, { waitForConnect: false });
      await using raw = await connectRSocket(server.url, { token: `Token ${await server.token('raw-user')}` });
      raw.requestStream(1, 32, { client_id: 'raw-held' });

      // Both streams are registered and held before their first line by the lock.
      const [sdkConn] = await waitFor('the SDK stream', () => connections('sdk-user'), (c) => c.length === 1);
      const [rawConn] = await waitFor('the raw stream', () => connections('raw-user'), (c) => c.length === 1);
      expect(sdkConn!.transport).toBe('websocket');
      await adminDisconnect(rawConn!.id);
      await adminDisconnect(sdkConn!.id);

      // While the lock is still held: the raw stream's first and only frame is the ERROR.
      const first = await raw.next(10_000).catch((e: Error) => e);
      expect(first instanceof Error ? first.message : describeFrame(first)).toMatch(/^ERROR .*SYNC_STREAM_ENDED/);
      expect(errorCode(first as Frame)).toBe('SYNC_STREAM_ENDED');
      expect(await raw.quiet(300)).toBe(true);

      // The SDK saw the stream fail (it retries errors; a COMPLETE would have looked like a normal end).
      const sawEnded = () => [...sdk.logs.map((l) => `${l.message} ${String(l.error ?? '')}`), ...sdk.statuses.map((s) => String(s.dataFlowStatus.downloadError ?? ''))].some((m) => m.includes('SYNC_STREAM_ENDED'));
      await waitFor('the SDK to report SYNC_STREAM_ENDED', sawEnded, (v) => v, 10_000);

      await lock.query('COMMIT');
      locked = false;
      // The SDK reconnected by itself and syncs, including a row written after the disconnect.
      await server.source.query(`INSERT INTO todos (id, list_id, description) VALUES ('sdk-user-late', 'sdk-user-l1', 'after the disconnect')`);
      await waitFor(
        'the SDK to sync after reconnecting',
        async () => (await sdk.db.getAll<{ n: number }>(`SELECT count(*) AS n FROM todos`))[0]!.n,
        (n) => n === 51,
        30_000,
      );
      expect(sdk.protocolProblems()).toEqual([]);
      expect(sdk.checksumProblems()).toEqual([]);
    } finally {
      if (locked) await lock.query('ROLLBACK').catch(() => {});
      await lock.end();
    }
  });

  it('ends a stream paused by REQUEST_N flow control at once, without waiting for credits', async () => {
    await using raw = await connectRSocket(server.url, { token: `Token ${await server.token('paused-user')}` });
    raw.requestStream(1, 1, { client_id: 'paused' });
    const lines = await raw.linesUntil(1, (l) => 'checkpoint' in l);
    expect(lines).toHaveLength(1);
    // One credit, one line: the stream now waits for REQUEST_N in the middle of its first checkpoint.
    expect(await raw.quiet(300)).toBe(true);

    const [conn] = await waitFor('the paused stream', () => connections('paused-user'), (c) => c.length === 1);
    await adminDisconnect(conn!.id);
    const f = await raw.next(5_000).catch((e: Error) => e);
    expect(f instanceof Error ? f.message : describeFrame(f)).toMatch(/^ERROR .*SYNC_STREAM_ENDED/);
    expect((f as Frame).streamId).toBe(1);
    // The stream is gone from the registry; the socket stays usable for a new stream.
    await waitFor('the stream to unregister', () => connections('paused-user'), (c) => c.length === 0, 10_000);
    raw.requestStream(3, 100, { client_id: 'paused-again' });
    await raw.linesUntil(3, (l) => 'checkpoint_complete' in l);
  });
});
