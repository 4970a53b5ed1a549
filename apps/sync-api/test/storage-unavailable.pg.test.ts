/**
 * While the storage database cannot be reached, sync requests must fail with a retryable 503 and a
 * stable code (clients back off and retry), not a 500 that reads like a server bug (RELIABILITY.md,
 * "Open": the chaos suite saw 500 SYNC_INTERNAL during storage outages).
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import pg from 'pg';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT * FROM items
`;

let server: TestServer;
let admin: pg.Client;
let storageDb = '';

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: 'CREATE TABLE items (id text PRIMARY KEY, v int)' });
  await server.source.query(`INSERT INTO items VALUES ('a', 1)`);
  await server.waitActive(await server.deploy(RULES));
  admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  storageDb = new URL(server.config.STORAGE_DATABASE_URL).pathname.slice(1);
});
afterAll(async () => {
  await admin?.query(`ALTER DATABASE "${storageDb}" ALLOW_CONNECTIONS true`).catch(() => {});
  await admin?.end();
  await server?.[Symbol.asyncDispose]();
});

describe('storage database unreachable', () => {
  it('answers /sync/stream with a retryable 503 and a stable code, and serves again once storage is back', async () => {
    const token = await server.token('u1');
    // Cut storage off: no new connections, every existing one terminated.
    await admin.query(`ALTER DATABASE "${storageDb}" ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [storageDb]);
    // A new user's first checkpoint needs storage (checksums): the request must fail cleanly.
    const err = await openSyncStream(server.url, await server.token('fresh-user'), { client_id: 'c1' }).then(
      () => null,
      (e: { status: number; body: string }) => e,
    );
    expect(err?.status).toBe(503);
    expect(JSON.parse(err!.body)).toMatchObject({ error: { code: 'SYNC_DATABASE_UNAVAILABLE', status: 503 } });

    await admin.query(`ALTER DATABASE "${storageDb}" ALLOW_CONNECTIONS true`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await using stream = await openSyncStream(server.url, token);
        await stream.until(isComplete);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });
});
