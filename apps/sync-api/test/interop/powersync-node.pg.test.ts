/**
 * Interop: the official `@powersync/node` SDK (1.1.0, better-sqlite3 12) syncs from Syncline over
 * HTTP and over RSocket/WebSocket — local tables equal what its buckets select in Postgres, local
 * writes round-trip through uploadData and the write checkpoint, 64-bit integers survive, and the
 * SDK never reports a checksum problem.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { SyncStreamConnectionMethod } from '@powersync/node';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { INTEROP_TABLES_SQL, openInteropClient, type InteropClient } from './powersync-client.ts';

const SCHEMA = `${INTEROP_TABLES_SQL}
  -- Every write that reaches Postgres bumps server_seen, so a client can tell server data from its own.
  CREATE FUNCTION bump_seen() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.server_seen := CASE WHEN TG_OP = 'UPDATE' THEN OLD.server_seen + 1 ELSE 1 END; RETURN NEW; END $$;
  CREATE TRIGGER todos_seen BEFORE INSERT OR UPDATE ON todos FOR EACH ROW EXECUTE FUNCTION bump_seen();
`;
const RULES = `
bucket_definitions:
  owned_lists:
    priority: 1
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT id, owner_id, name FROM lists WHERE owner_id = bucket.owner_id
  list_todos:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`;
const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';
const ABOVE_2_53 = '9007199254740993';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  for (const user of ['http-user', 'ws-user', 'req-http-user', 'req-ws-user']) {
    await server.source.query(`INSERT INTO lists VALUES ($1 || '-l1', $1, 'Groceries'), ($1 || '-l2', $1, 'Work')`, [user]);
    await server.source.query(
      `INSERT INTO todos (id, list_id, description, done, big) VALUES
         ($1 || '-t1', $1 || '-l1', 'Milk', false, ${INT64_MAX}), ($1 || '-t2', $1 || '-l1', 'Bread', true, ${INT64_MIN}),
         ($1 || '-t3', $1 || '-l2', 'Report', false, ${ABOVE_2_53}), ($1 || '-t4', $1 || '-l2', NULL, false, NULL)`,
      [user],
    );
  }
  await server.source.query(`INSERT INTO lists VALUES ('other-l1', 'someone-else', 'Secret')`);
  await server.source.query(`INSERT INTO todos (id, list_id, description) VALUES ('other-t1', 'other-l1', 'Not yours')`);
  await server.waitActive(await server.deploy(RULES));
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

interface Snapshot {
  lists: unknown[];
  todos: unknown[];
}

/** What the user's buckets select in Postgres, in the shape SQLite stores it (booleans as 0/1). */
async function sourceRows(userId: string): Promise<Snapshot> {
  const lists = await server.source.query(`SELECT id, owner_id, name FROM lists WHERE owner_id = $1 ORDER BY id COLLATE "C"`, [userId]);
  const todos = await server.source.query(
    `SELECT t.id, t.list_id, t.description, t.done::int AS done, t.big::text AS big, t.server_seen
       FROM todos t JOIN lists l ON l.id = t.list_id WHERE l.owner_id = $1 ORDER BY t.id COLLATE "C"`,
    [userId],
  );
  return { lists: lists.rows, todos: todos.rows };
}

async function localRows(client: InteropClient): Promise<Snapshot> {
  return {
    lists: await client.db.getAll('SELECT id, owner_id, name FROM lists ORDER BY id'),
    todos: await client.db.getAll('SELECT id, list_id, description, done, CAST(big AS TEXT) AS big, server_seen FROM todos ORDER BY id'),
  };
}

/** Polls until the client's tables equal the source rows of its user; fails with the last diff. */
async function expectInSync(client: InteropClient, userId: string, timeoutMs = 20_000): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [local, source] = await Promise.all([localRows(client), sourceRows(userId)]);
    if (JSON.stringify(local) === JSON.stringify(source)) return local;
    if (Date.now() > deadline) expect(local).toEqual(source);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each([
  ['HTTP', SyncStreamConnectionMethod.HTTP, 'http-user', 'http'],
  ['WebSocket', SyncStreamConnectionMethod.WEB_SOCKET, 'ws-user', 'websocket'],
] as const)('@powersync/node over %s', (_name, method, userId, transport) => {
  let client: InteropClient;

  beforeAll(async () => {
    client = await openInteropClient(server, userId, method);
    await client.db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
  });
  afterAll(async () => {
    await client?.[Symbol.asyncDispose]();
  });

  it('downloads exactly the rows its buckets select, with 64-bit integers intact', async () => {
    const local = await expectInSync(client, userId);
    expect(local.lists).toHaveLength(2);
    expect(local.todos.map((t) => (t as { big: string | null }).big)).toEqual([INT64_MAX, INT64_MIN, ABOVE_2_53, null]);
    expect(await client.db.getAll(`SELECT id FROM lists WHERE owner_id = 'someone-else'`)).toEqual([]);
    expect(client.db.currentStatus.hasSynced).toBe(true);
    // owned_lists has priority 1: the SDK saw a partial_checkpoint_complete for it.
    expect(client.db.currentStatus.statusForPriority(1)?.hasSynced).toBe(true);
    const { rows } = await server.services.storage.query<{ transport: string }>(`SELECT transport FROM syncline.connections WHERE user_id = $1`, [userId]);
    expect(rows).toEqual([{ transport }]);
  });

  it('uploads local writes, applies them to Postgres, and gets them back through its write checkpoint', async () => {
    const checkpointsBefore = server.services.metrics.writeCheckpoints;
    const { db } = client;
    await db.writeTransaction(async (tx) => {
      await tx.execute(`INSERT INTO lists (id, owner_id, name) VALUES (?, ?, 'New list')`, [`${userId}-l3`, userId]);
      await tx.execute(`INSERT INTO todos (id, list_id, description, done, big) VALUES (?, ?, 'From client', 0, 4294967296)`, [`${userId}-c1`, `${userId}-l3`]);
    });
    await db.execute(`UPDATE todos SET done = 1, description = 'Milk (done)' WHERE id = ?`, [`${userId}-t1`]);
    await db.execute(`DELETE FROM todos WHERE id = ?`, [`${userId}-t4`]);

    // Applied to Postgres by uploadData (the trigger marks each row it saw).
    await until('the upload to reach Postgres', async () => {
      const { rows } = await server.source.query(`SELECT id, done, server_seen FROM todos WHERE id = ANY($1) ORDER BY id`, [[`${userId}-c1`, `${userId}-t1`, `${userId}-t4`]]);
      return rows.length === 2 && rows.every((r) => r.server_seen >= 1) && rows.find((r) => r.id === `${userId}-t1`)?.done === true;
    });
    // …and back: server_seen is only set by Postgres, so seeing it locally means the synced row replaced
    // the local write, which the SDK only applies once the server echoed its write checkpoint.
    await until('the synced rows to replace the local writes', async () => {
      const rows = await db.getAll<{ id: string; server_seen: number | null }>(`SELECT id, server_seen FROM todos WHERE id IN (?, ?)`, [`${userId}-c1`, `${userId}-t1`]);
      return rows.length === 2 && rows.every((r) => (r.server_seen ?? 0) >= 1) && rows.find((r) => r.id === `${userId}-t1`)!.server_seen === 2;
    });
    await expectInSync(client, userId);
    expect(await db.getAll('SELECT * FROM ps_crud')).toEqual([]);
    expect(client.uploadedTransactions).toBeGreaterThanOrEqual(3);
    expect(server.services.metrics.writeCheckpoints).toBeGreaterThan(checkpointsBefore);
    await until('the SDK to report it is no longer uploading', async () => !db.currentStatus.dataFlowStatus.uploading);
    expect(db.currentStatus.dataFlowStatus.uploadError).toBeUndefined();
    expect(db.currentStatus.dataFlowStatus.downloadError).toBeUndefined();
  });

  it('receives changes made directly in Postgres, including a list moving to another owner', async () => {
    await server.source.query(`INSERT INTO todos (id, list_id, description, big) VALUES ($1 || '-s1', $1 || '-l2', 'Server side', -1)`, [userId]);
    await server.source.query(`UPDATE todos SET description = 'Bread, wholemeal' WHERE id = $1 || '-t2'`, [userId]);
    await expectInSync(client, userId);
    await server.source.query(`UPDATE lists SET owner_id = 'someone-else' WHERE id = $1 || '-l2'`, [userId]);
    const local = await expectInSync(client, userId);
    expect(local.lists.map((l) => (l as { id: string }).id)).toEqual([`${userId}-l1`, `${userId}-l3`]);
  });

  it('never reported a checksum mismatch or a sync error', () => {
    expect(client.checksumProblems()).toEqual([]);
    expect(client.protocolProblems()).toEqual([]);
    if (process.env.INTEROP_DUMP_LOGS) for (const r of client.logs) process.stderr.write(`[${r.level}] ${r.message.slice(0, 300)} ${String(r.error ?? '')}\n`);
    const downloadErrors = client.statuses.map((s) => s.dataFlowStatus.downloadError).filter(Boolean);
    expect(downloadErrors.map(String)).toEqual([]);
    const errors = client.logs.filter((r) => r.level >= 50).map((r) => `${r.message} ${String(r.error ?? '')}`);
    expect(errors).toEqual([]);
  });
});

describe.each([
  ['HTTP', SyncStreamConnectionMethod.HTTP],
  ['WebSocket', SyncStreamConnectionMethod.WEB_SOCKET],
] as const)('@powersync/node over %s with short-lived tokens', (_name, method) => {
  it('fetches new credentials when warned of expiry and keeps syncing without errors', async () => {
    // 22 s tokens: the server warns at 20 s left, which makes the SDK prefetch and reconnect.
    await using client = await openInteropClient(server, 'http-user', method, { tokenTtlSeconds: 22 });
    await client.db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    await until('a credentials refresh', async () => client.credentialFetches >= 2, 25_000);
    await server.source.query(`UPDATE todos SET description = $2 WHERE id = $1`, ['http-user-t3', `after refresh over ${method}`]);
    await expectInSync(client, 'http-user');
    expect(client.checksumProblems()).toEqual([]);
    expect(client.protocolProblems()).toEqual([]);
    expect(client.logs.filter((r) => r.level >= 50).map((r) => r.message)).toEqual([]);
  });
});

describe.each([
  ['HTTP', SyncStreamConnectionMethod.HTTP, 'req-http-user'],
  ['WebSocket', SyncStreamConnectionMethod.WEB_SOCKET, 'req-ws-user'],
] as const)('@powersync/node over %s in checkpoint-request mode', (_name, method, userId) => {
  it('round-trips a local write through POST /sync/checkpoint-request', async () => {
    await using client = await openInteropClient(server, userId, method, { checkpointMode: 'requests' });
    await client.db.waitForFirstSync({ signal: AbortSignal.timeout(30_000) });
    await expectInSync(client, userId);
    await client.db.execute(`UPDATE todos SET description = 'requested' WHERE id = ?`, [`${userId}-t1`]);
    await until('the synced row to replace the local write', async () => {
      const row = await client.db.getOptional<{ server_seen: number }>(`SELECT server_seen FROM todos WHERE id = ?`, [`${userId}-t1`]);
      return row?.server_seen === 2;
    });
    await expectInSync(client, userId);
    expect(await client.db.getAll('SELECT * FROM ps_crud')).toEqual([]);
    if (process.env.INTEROP_DUMP_LOGS) for (const r of client.logs) process.stderr.write(`[${r.level}] ${r.message.slice(0, 400)}\n`);
    expect(client.checksumProblems()).toEqual([]);
    expect(client.protocolProblems()).toEqual([]);
    expect(client.logs.filter((r) => r.level >= 50).map((r) => `${r.message} ${String(r.error ?? '')}`)).toEqual([]);
  });
});
