/**
 * Production mode end to end: the compiled bundle (`node apps/sync-api/dist/main.js`, no loader)
 * runs as real processes — one replicator and API processes behind a TCP switch the test controls
 * (a stand-in for a load balancer) — and SIGTERM drains an API process: readiness 503, new streams
 * refused with SYNC_DRAINING, open streams (our client over HTTP, @powersync/node over HTTP and
 * WebSocket, a raw NDJSON reader) ended cleanly, exit 0 within the bound, and the clients resume
 * on the next process downloading only what changed.
 */
import http from 'node:http';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PowerSyncDatabase, Schema as PsSchema, Table as PsTable, column as psColumn, SyncStreamConnectionMethod, type SyncStatus } from '@powersync/node';
import { Schema, SynclineDatabase, Table, column } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';
import { buildSyncApi, createServiceEnv, createTestDatabase, startSyncApiProcess, type SyncApiProcess, type TestDatabase } from '@syncline/test-utils';
import { mintDevToken } from '../../src/auth.ts';
import { ErrorCode, FrameType } from '../../src/websocket/rsocket-frames.ts';
import { connectRSocket } from '../websocket/rsocket-test-client.ts';
import { startTcpSwitch, type TcpSwitch } from '../support/tcp-switch.ts';

const ROWS_PER_USER = 200;
const DRAIN_TIMEOUT_MS = 3_000;
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT id, owner, description, payload FROM todos WHERE owner = bucket.owner
`;

let db: TestDatabase;
let dir: string;
let env: Record<string, string>;
let jwtSecret: string;
let replicator: SyncApiProcess;
const apis: SyncApiProcess[] = [];
let lb: TcpSwitch;
let syncline: SynclineDatabase;
const powersync: Array<{ db: PowerSyncDatabase; statuses: SyncStatus[]; user: string }> = [];

const token = async (user: string) => (await mintDevToken(jwtSecret, user, { ttlSeconds: 3600 })).token;
const metric = async (api: SyncApiProcess, name: string) => {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? NaN);
};
async function startApi(name: string): Promise<SyncApiProcess> {
  const p = await startSyncApiProcess({ env, runner: 'api', name, waitFor: 'ready' });
  apis.push(p);
  return p;
}
async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const descriptions = async (user: string, query: (sql: string) => Promise<Array<{ description: string }>>) =>
  (await query(`SELECT description FROM todos WHERE owner = '${user}' ORDER BY id`)).map((r) => r.description);

beforeAll(async () => {
  await buildSyncApi();
  db = await createTestDatabase(inject('pgAdminUrl'), 'drain');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  await source.query(`CREATE TABLE todos (id text PRIMARY KEY, owner text NOT NULL, description text, payload text)`);
  for (const user of ['u1', 'u2', 'u3']) {
    await source.query(
      `INSERT INTO todos SELECT $1 || '-' || i, $1, 'item ' || i, NULL FROM generate_series(1, ${ROWS_PER_USER}) i`,
      [user],
    );
  }
  // A user with ~33 MB of rows: its reader never reads, so its stream cannot finish within the drain.
  // What a stream can hand off without the client reading — its write-ahead share (4 MiB), the
  // socket's send buffer (up to wmem_max, 4 MiB here) and the reader's unread receive window —
  // came to about the 8 MB this user had before, and the stream then sometimes ended in time.
  await source.query(`INSERT INTO todos SELECT 'big-' || i, 'big', 'b', repeat(md5(i::text), 640) FROM generate_series(1, 1600) i`);
  ({ env, jwtSecret, dir } = await createServiceEnv({ db, storageUrl, rules: RULES, extra: { DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) } }));
  replicator = await startSyncApiProcess({ env, runner: 'replicator', name: 'replicator-1' });
  const a1 = await startApi('api-1');
  await startApi('api-2');
  lb = await startTcpSwitch();
  lb.target = a1.port;

  syncline = new SynclineDatabase({
    schema: new Schema({ todos: new Table({ owner: column.text, description: column.text, payload: column.text }) }),
    database: openBetterSqlite3({ path: ':memory:' }),
  });
  await syncline.connect({ fetchCredentials: async () => ({ endpoint: lb.url, token: await token('u1') }), uploadData: async () => {} }, { retry: { baseMs: 100, maxMs: 1000 } });
  for (const [user, method] of [
    ['u2', SyncStreamConnectionMethod.HTTP],
    ['u3', SyncStreamConnectionMethod.WEB_SOCKET],
  ] as const) {
    const client = new PowerSyncDatabase({
      schema: new PsSchema({ todos: new PsTable({ owner: psColumn.text, description: psColumn.text, payload: psColumn.text }) }),
      database: { dbFilename: `${user}.db`, dbLocation: dir, implementation: { type: 'better-sqlite3' } },
      logger: { log: () => {} },
    });
    const statuses: SyncStatus[] = [];
    client.registerListener({ statusChanged: (s) => void statuses.push(s) });
    await client.init();
    // retryDelayMs: the SDK waits this long after a server-ended stream (default 5 s).
    await client.connect({ fetchCredentials: async () => ({ endpoint: lb.url, token: await token(user) }), uploadData: async () => {} }, { connectionMethod: method, retryDelayMs: 300 });
    powersync.push({ db: client, statuses, user });
  }
  await syncline.waitForFirstSync({ signal: AbortSignal.timeout(60_000) });
  for (const p of powersync) await p.db.waitForFirstSync({ signal: AbortSignal.timeout(60_000) });
}, 180_000);

afterAll(async () => {
  await syncline?.close().catch(() => {});
  for (const p of powersync) {
    await p.db.disconnect().catch(() => {});
    await p.db.close().catch(() => {});
  }
  await lb?.close();
  for (const a of apis) await a[Symbol.asyncDispose]();
  await replicator?.[Symbol.asyncDispose]();
  await db?.[Symbol.asyncDispose]();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('compiled sync-api: graceful drain on SIGTERM', () => {
  it('runs from dist/main.js with plain node and syncs every client', async () => {
    expect(apis[0]!.child.spawnargs.slice(1)).toEqual([expect.stringMatching(/apps\/sync-api\/dist\/main\.js$/)]);
    expect(await syncline.getAll('SELECT id FROM todos')).toHaveLength(ROWS_PER_USER);
    for (const p of powersync) expect(await p.db.getAll('SELECT id FROM todos')).toHaveLength(ROWS_PER_USER);
    expect(replicator.logs().some((r) => r.process === 'replicator-1' && r.role === 'replicator')).toBe(true);
  });

  it('SIGTERM: readiness 503, new streams refused, open streams end cleanly, exit 0 within the bound; clients resume on another process with only the changes', async () => {
    const [a1, a2] = apis as [SyncApiProcess, SyncApiProcess];
    // A raw NDJSON reader (must see a clean end of body) and a stuck reader that never reads.
    const reader = await fetch(`${a1.url}/sync/stream`, { method: 'POST', headers: { authorization: `Token ${await token('u1')}`, 'content-type': 'application/json' }, body: '{"raw_data":true}' });
    const readerBody = reader.body!.getReader();
    const readerEnd = (async () => {
      for (;;) if ((await readerBody.read()).done) return 'clean end';
    })().catch((e: Error) => `error: ${e.message}`);
    const stuck = http.request(`${a1.url}/sync/stream`, { method: 'POST', headers: { authorization: `Token ${await token('big')}`, 'content-type': 'application/json' } });
    stuck.on('error', () => {});
    stuck.on('response', (res) => res.on('error', () => {}));
    stuck.end('{"raw_data":true}');
    await waitFor('5 open streams on api-1', async () => (await metric(a1, 'syncline_connections')) === 5);
    // A WebSocket set up before the drain, with no stream yet.
    const socket = await connectRSocket(a1.url, { token: `Token ${await token('u1')}` });
    expect(await socket.quiet(200)).toBe(true);
    const opsBefore = await metric(a2, 'syncline_operations_synced_total');

    lb.target = a2.port;
    const psBefore = powersync.map((p) => p.statuses.length);
    const stop = a1.stop('SIGTERM', 30_000);
    await a1.waitForLog((r) => r.msg === 'drain started: readiness 503, new streams refused, open streams ending', 5_000);

    const ready = await fetch(`${a1.url}/probes/readiness`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    expect((await fetch(`${a1.url}/probes/liveness`)).status).toBe(200);
    const refused = await fetch(`${a1.url}/sync/stream`, { method: 'POST', headers: { authorization: `Token ${await token('u1')}`, 'content-type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'SYNC_DRAINING' } });
    expect(await readerEnd).toBe('clean end');
    // WebSocket: a REQUEST_STREAM on an open connection gets an ERROR with the code; a new SETUP is refused.
    socket.requestStream(1, 10, {});
    const refusedFrame = await socket.next(5_000);
    expect(refusedFrame).toMatchObject({ type: FrameType.ERROR, streamId: 1, code: ErrorCode.APPLICATION_ERROR });
    expect(JSON.parse((refusedFrame as { message: string }).message)).toMatchObject({ code: 'SYNC_DRAINING', status: 503 });
    const late = await connectRSocket(a1.url, { token: `Token ${await token('u1')}` });
    expect(await late.next(5_000)).toMatchObject({ type: FrameType.ERROR, streamId: 0, code: ErrorCode.REJECTED_SETUP });
    expect(await late.closed).toEqual({ code: 1013, reason: 'SYNC_DRAINING' });

    const exit = await stop;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.afterMs).toBeLessThan(DRAIN_TIMEOUT_MS + 5_000);
    const drained = a1.logs().find((r) => typeof r.msg === 'string' && r.msg.startsWith('drain timed out'));
    expect(drained).toMatchObject({ streams: 5, remaining: 1, ended: 4, timedOut: true });
    const closed = a1.logs().filter((r) => r.msg === 'sync stream closed');
    // Four ended cleanly; the reader that never reads was cut at the timeout.
    expect(closed.map((r) => r.reason).sort()).toEqual(['drain_cut', 'draining', 'draining', 'draining', 'draining']);

    // The source changes while the clients move over: 5 rows of each user.
    const source = db.pool();
    await source.query(`UPDATE todos SET description = description || ' (changed)' WHERE owner IN ('u1','u2','u3') AND id ~ '-[1-5]$'`);
    await waitFor('our client has the change', async () => (await syncline.getAll<{ n: number }>(`SELECT count(*) AS n FROM todos WHERE description LIKE '%(changed)'`))[0]!.n === 5);
    for (const p of powersync) {
      await waitFor(`${p.user} has the change`, async () => (await p.db.getAll<{ n: number }>(`SELECT count(*) AS n FROM todos WHERE description LIKE '%(changed)'`))[0]!.n === 5);
      // Ended cleanly: no download error was shown while moving.
      expect(p.statuses.slice(psBefore[powersync.indexOf(p)]).filter((s) => s.dataFlowStatus.downloadError)).toEqual([]);
    }
    const expected = (await source.query<{ description: string }>(`SELECT description FROM todos WHERE owner = 'u1' ORDER BY id`)).rows.map((r) => r.description);
    expect(await descriptions('u1', (q) => syncline.getAll(q))).toEqual(expected);
    // Only the changes were downloaded again: 3 clients × 5 ops, against 3 × 200 for a fresh sync.
    const reDownloaded = (await metric(a2, 'syncline_operations_synced_total')) - opsBefore;
    expect(reDownloaded).toBe(3 * 5);
    expect(await metric(a2, 'syncline_connections')).toBe(3);
  });

  it('a spawned process never outlives its parent: when its stdin pipe closes it drains and exits 0', async () => {
    const orphan = await startSyncApiProcess({ env, runner: 'api', name: 'api-orphan', waitFor: 'ready' });
    // What the kernel does to the pipe when the test process dies, done by hand.
    orphan.child.stdin!.end();
    const exit = await Promise.race([orphan.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running:\n${orphan.tail(20)}`)), 30_000))]);
    expect(exit.code).toBe(0);
    expect(orphan.logs().some((r) => r.msg === 'shutting down' && r.signal === 'stdin closed')).toBe(true);
  });

  it('a drain with every client reading ends all streams at once, well before the timeout', async () => {
    const a2 = apis[1]!;
    const a3 = await startApi('api-3');
    lb.target = a3.port;
    const exit = await a2.stop('SIGTERM', 30_000);
    expect(exit.code).toBe(0);
    const drained = a2.logs().find((r) => r.msg === 'drain finished: all streams ended');
    expect(drained).toMatchObject({ streams: 3, remaining: 0, timedOut: false });
    expect(drained!.durationMs as number).toBeLessThan(DRAIN_TIMEOUT_MS);
    await waitFor('3 clients on api-3', async () => (await metric(a3, 'syncline_connections')) === 3);
    await db.pool().query(`UPDATE todos SET description = 'again' WHERE id = 'u1-7'`);
    await waitFor('the next change arrives through api-3', async () => (await syncline.getAll<{ d: string }>(`SELECT description AS d FROM todos WHERE id = 'u1-7'`))[0]?.d === 'again');
  });
});
