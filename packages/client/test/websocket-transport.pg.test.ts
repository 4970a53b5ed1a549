/**
 * The WebSocket transport (RSocket + BSON, `ws` injected as on Node 20) against the real sync API
 * and Postgres: first sync with exact 64-bit values, a local write uploaded and echoed, flow
 * control with a deliberately blocked apply (the server stops sending at the window and resumes
 * when credits come back), and the HTTP fallback when the socket cannot be opened.
 */
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { FrameFlags, FrameType, decodeRSocketFrame } from '@syncline/protocol';
import { Schema, SynclineDatabase, Table, column, type BackendConnector, type WebSocketConstructor } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import type { SqliteAdapter } from '../src/db/sqlite-adapter.ts';
import { startSyncServer, type SyncServerProcess } from '@syncline/test-utils';

const SOURCE_SCHEMA = `CREATE TABLE todos (id text PRIMARY KEY, owner_id text NOT NULL, description text, big bigint);`;
const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT id, description, big FROM todos WHERE owner_id = bucket.owner_id
`;
const schema = new Schema({ todos: new Table({ description: column.text, big: column.integer }) });
const fast = { retry: { baseMs: 100, maxMs: 1000 }, crudUploadThrottleMs: 0 };

let server: SyncServerProcess;
const open: SynclineDatabase[] = [];

beforeAll(async () => {
  server = await startSyncServer(inject('pgAdminUrl'), SOURCE_SCHEMA, RULES);
});
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

function connector(user: string): BackendConnector {
  return {
    fetchCredentials: async () => ({ endpoint: server.url, token: server.token(user) }),
    uploadData: async (db) => {
      const tx = await db.getNextCrudTransaction();
      if (!tx) return;
      for (const e of tx.crud) {
        if (e.op === 'PUT') await server.sql(`INSERT INTO todos (id, owner_id, description) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET description = EXCLUDED.description`, [e.id, user, e.opData?.['description'] ?? null]);
      }
      await tx.complete();
    },
  };
}

async function openClient(database: SqliteAdapter = openBetterSqlite3({ path: ':memory:' })): Promise<SynclineDatabase> {
  const db = new SynclineDatabase({ schema, database });
  await db.ready;
  open.push(db);
  return db;
}

/** `ws`'s WebSocket, counting RSocket PAYLOADs received and REQUEST_N credits granted. */
const counters = { received: 0, credits: 0, sockets: 0 };
class CountingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    counters.sockets++;
    this.on('message', (data: Buffer) => {
      const f = decodeRSocketFrame(new Uint8Array(data));
      if (f.type === FrameType.PAYLOAD && f.flags & FrameFlags.NEXT) counters.received++;
    });
  }
  override send(data: Uint8Array, ...rest: never[]): void {
    const f = decodeRSocketFrame(new Uint8Array(data));
    if (f.type === FrameType.REQUEST_STREAM || f.type === FrameType.REQUEST_N) counters.credits += f.requestN;
    (super.send as (d: Uint8Array, ...r: never[]) => void)(data, ...rest);
  }
}
const WS = CountingWebSocket as unknown as WebSocketConstructor;

async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const s = open.at(-1)?.currentStatus;
      throw new Error(`timed out waiting for ${what} (transport ${s?.transport}, error ${String(s?.downloadError)}, ${server.output().slice(-500)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('WebSocket transport against the real sync API', () => {
  it('syncs over RSocket/BSON with exact 64-bit integers, uploads a write and receives it back', async () => {
    await server.sql(`INSERT INTO todos VALUES ('ws-1', 'ws', 'Milk', 9223372036854775807), ('ws-2', 'ws', 'Bread', 9007199254740993)`);
    const db = await openClient();
    await db.connect(connector('ws'), { ...fast, transport: 'websocket', webSocket: WS });
    await until(async () => (await db.getAll('SELECT id FROM todos')).length === 2, 30_000, 'first sync');
    expect(db.currentStatus).toMatchObject({ connected: true, transport: 'websocket', transportFallback: undefined });
    expect(await db.getAll('SELECT id, CAST(big AS TEXT) AS big FROM todos ORDER BY id')).toEqual([
      { id: 'ws-1', big: '9223372036854775807' },
      { id: 'ws-2', big: '9007199254740993' },
    ]);
    await db.execute(`INSERT INTO todos (id, description) VALUES ('ws-3', 'Written locally')`);
    await until(async () => (await server.sql(`SELECT 1 FROM todos WHERE id = 'ws-3'`)).length === 1 && (await db.getUploadQueueStats()).count === 0, 30_000, 'upload');
    await server.sql(`UPDATE todos SET description = 'Oat milk' WHERE id = 'ws-1'`);
    await until(async () => (await db.getOptional<{ description: string }>(`SELECT description FROM todos WHERE id = 'ws-1'`))?.description === 'Oat milk', 30_000, 'live update');
  });

  it('a blocked apply pauses the server at the flow-control window; releasing it completes the download', async () => {
    const rows = 15_000;
    await server.sql(`INSERT INTO todos SELECT 'fc-' || g, 'fc', repeat('x', 100) FROM generate_series(1, ${rows}) g`);
    const inner = openBetterSqlite3({ path: ':memory:' });
    let blocked = false;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let batches = 0;
    // Storing downloaded ops is the slow part: after a few op-log inserts (multi-row statements,
    // bucket-storage.ts) every later one stops until released.
    const gated = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
      if (/^INSERT INTO sl_oplog/i.test(sql) && ++batches > 3) {
        blocked = true;
        await gate;
      }
      return run();
    };
    const slow: SqliteAdapter = {
      name: inner.name,
      execute: (sql, params) => gated(sql, () => inner.execute(sql, params)),
      executeBatch: (sql, params) => gated(sql, () => inner.executeBatch(sql, params)),
      takeChangedTables: () => inner.takeChangedTables(),
      close: () => inner.close(),
    };
    const db = await openClient(slow);
    const window = 16;
    counters.received = 0;
    counters.credits = 0;
    await db.connect(connector('fc'), { ...fast, transport: 'websocket', webSocket: WS, flowControlWindow: window });
    await until(() => blocked, 30_000, 'apply to block');
    await new Promise((r) => setTimeout(r, 1_000));
    const receivedWhileBlocked = counters.received;
    await new Promise((r) => setTimeout(r, 1_000));
    // The server sent nothing more while no credits came back…
    expect(counters.received).toBe(receivedWhileBlocked);
    expect(counters.credits).toBe(receivedWhileBlocked);
    // …and what the client holds unapplied is bounded by the window (plus what was applied before).
    expect(receivedWhileBlocked).toBeLessThanOrEqual(window * 2);
    release();
    await until(async () => ((await db.get<{ n: number }>(`SELECT count(*) AS n FROM todos WHERE id LIKE 'fc-%'`)).n) === rows, 60_000, 'full download');
    expect(counters.received).toBeGreaterThan(receivedWhileBlocked);
    expect(counters.received).toBeLessThanOrEqual(counters.credits);
  });

  it('falls back to HTTP when the WebSocket cannot be opened, and says why', async () => {
    await server.sql(`INSERT INTO todos VALUES ('fb-1', 'fb', 'via http', null)`);
    class Refused extends WebSocket {
      constructor(_url: string) {
        super('ws://127.0.0.1:1/nothing-listens-here');
        this.on('error', () => undefined);
      }
    }
    const db = await openClient();
    await db.connect(connector('fb'), { ...fast, transport: 'websocket', webSocket: Refused as unknown as WebSocketConstructor });
    await until(async () => (await db.getAll('SELECT id FROM todos')).length === 1, 30_000, 'sync over HTTP');
    expect(db.currentStatus.transport).toBe('http');
    expect(db.currentStatus.transportFallback).toMatch(/could not be opened|closed before it opened/);
  });
});
