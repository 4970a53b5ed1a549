/**
 * When the official SDK fetches credentials again over the WebSocket transport. Its RSocket error
 * handler invalidates the cached token on an error whose message contains `PSYNC_S21…` (auth), keeps
 * it on any other `PSYNC_…` code, and invalidates it on an error without any `PSYNC_` code ("an older
 * service"). Our errors carry a PowerSync code next to ours, so:
 *
 * - an admin disconnect (or a drain, a rate limit, a storage outage) must not make every client call
 *   the app's token endpoint again — after a rolling restart that is every client at once;
 * - an expired or rejected token must still make it fetch a new one, or the client never recovers.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SyncStreamConnectionMethod } from '@powersync/node';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { INTEROP_TABLES_SQL, openInteropClient } from './powersync-client.ts';
import { waitFor } from '../support/wait-for.ts';

const SCHEMA = INTEROP_TABLES_SQL;
const RULES = `
bucket_definitions:
  user_lists:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  for (const user of ['kept-user', 'expired-user']) {
    await server.source.query(`INSERT INTO lists VALUES ($1 || '-l1', $1, 'Groceries')`, [user]);
    await server.source.query(`INSERT INTO todos (id, list_id, description) SELECT $1 || '-t' || i, $1 || '-l1', 'todo ' || i FROM generate_series(1, 5) i`, [user]);
  }
  await server.waitActive(await server.deploy(RULES));
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const todoCount = async (db: { getAll<T>(sql: string): Promise<T[]> }) => (await db.getAll<{ n: number }>('SELECT count(*) AS n FROM todos'))[0]!.n;

describe('@powersync/node over WebSocket: credentials after a server-side error', () => {
  it('keeps its token when the server ends the stream (admin disconnect) and reconnects without a new fetch', async () => {
    await using sdk = await openInteropClient(server, 'kept-user', SyncStreamConnectionMethod.WEB_SOCKET);
    await sdk.db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    expect(sdk.credentialFetches).toBe(1);

    const res = await server.admin('/api/admin/v1/connections?userId=kept-user');
    const [conn] = ((await res.json()) as { data: { connections: { id: string }[] } }).data.connections;
    expect((await server.admin(`/api/admin/v1/connections/${conn!.id}/disconnect`, { method: 'POST' })).status).toBe(200);
    await server.services.connections.flush();
    const sawEnded = () => sdk.logs.some((l) => `${l.message} ${String(l.error ?? '')}`.includes('SYNC_STREAM_ENDED'));
    await waitFor('the SDK to see SYNC_STREAM_ENDED', sawEnded, (v) => v, 10_000);

    await server.source.query(`INSERT INTO todos (id, list_id, description) VALUES ('kept-user-late', 'kept-user-l1', 'after the disconnect')`);
    await waitFor('the SDK to sync after reconnecting', () => todoCount(sdk.db), (n) => n === 6);
    expect(sdk.credentialFetches).toBe(1);
    expect(sdk.protocolProblems()).toEqual([]);
  });

  it('fetches new credentials when the server rejects its token as expired, then syncs', async () => {
    await using sdk = await openInteropClient(server, 'expired-user', SyncStreamConnectionMethod.WEB_SOCKET, {
      waitForConnect: false,
      tokenFor: (n) => server.token('expired-user', n === 1 ? { ttlSeconds: -120 } : {}),
    });
    await waitFor('the SDK to sync with its second token', () => todoCount(sdk.db), (n) => n === 5);
    expect(sdk.credentialFetches).toBe(2);
    expect(sdk.logs.some((l) => `${l.message} ${String(l.error ?? '')}`.includes('SYNC_AUTH_EXPIRED'))).toBe(true);
  });
});
