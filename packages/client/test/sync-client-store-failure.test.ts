/**
 * Data safety of the overlapped store in `SyncClient.readLines`: one data batch is stored in the
 * background while the next is read. These tests inject failures and stalls at the adapter level
 * (a wrapper around the real better-sqlite3 adapter; SQLite itself still runs every statement) and
 * check that a failed store stops the stream at that batch, leaves nothing half-applied, and that
 * the next connection resumes from the last stored position and converges; and that an abort while
 * a store is in flight neither rejects unhandled nor stores anything once the stream is over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SynclineDatabase, type BackendConnector, type ConnectOptions, type SqliteAdapter } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import type { QueryResult, SqliteValue } from '../src/db/sqlite-adapter.ts';
import { todoSchema } from './helpers.ts';
import { lines, putOp, type FixtureBucket, type FixtureOp } from './scripted-lines.ts';
import { ScriptedSyncServer, waitFor } from './scripted-server.ts';

const OPLOG_INSERT = 'INSERT INTO sl_oplog';

/** A real adapter with a switch: fail or hold the n-th op-log insert, and record what runs when. */
class FaultyAdapter implements SqliteAdapter {
  readonly name = 'faulty:better-sqlite3';
  oplogInserts = 0;
  /** The op-log insert (1-based) that throws a disk-full error, once. */
  failAt: number | undefined;
  /** The op-log insert (1-based) that waits for `release()`, once. */
  holdAt: number | undefined;
  held = false;
  private releaseHold: (() => void) | undefined;
  /** Op-log inserts issued after `markEnd()` (the stream is over: only the batch in flight may finish). */
  insertsAfterEnd = 0;
  private ended = false;
  closed = false;
  statementsAfterClose = 0;

  constructor(private readonly inner: SqliteAdapter = openBetterSqlite3({ path: ':memory:' })) {}

  async execute(sql: string, params?: readonly SqliteValue[]): Promise<QueryResult> {
    if (this.closed) this.statementsAfterClose++;
    if (sql.startsWith(OPLOG_INSERT)) {
      const n = ++this.oplogInserts;
      if (this.ended) this.insertsAfterEnd++;
      if (n === this.failAt) throw new Error('SQLITE_FULL: database or disk is full');
      if (n === this.holdAt) {
        this.held = true;
        await new Promise<void>((resolve) => (this.releaseHold = resolve));
      }
    }
    return this.inner.execute(sql, params);
  }

  executeBatch(sql: string, paramSets: readonly (readonly SqliteValue[])[]): Promise<{ rowsAffected: number }> {
    if (this.closed) this.statementsAfterClose++;
    return this.inner.executeBatch(sql, paramSets);
  }

  takeChangedTables(): Promise<string[]> {
    return this.inner.takeChangedTables();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.inner.close();
  }

  release(): void {
    this.releaseHold?.();
  }

  markEnd(): void {
    this.ended = true;
  }
}

let db: SynclineDatabase | undefined;
let server: ScriptedSyncServer | undefined;
afterEach(async () => {
  await db?.close();
  await server?.close();
  db = undefined;
  server = undefined;
});

const fast: ConnectOptions = { retry: { baseMs: 20, maxMs: 100 }, crudUploadThrottleMs: 0 };

function connector(url: string): BackendConnector {
  return {
    fetchCredentials: async () => ({ endpoint: url, token: 'token' }),
    uploadData: async (d: SynclineDatabase) => {
      await (await d.getNextCrudTransaction())?.complete();
    },
  };
}

/** 600 one-op lines (HTTP batches hold 128 lines, one op-log insert each); one row is rewritten in every line. */
const OPS: FixtureOp[] = Array.from({ length: 600 }, (_, i) =>
  putOp(i + 1, 'todos', i % 2 === 0 ? 'same' : `row-${String(i).padStart(3, '0')}`, { description: `v${i}` }),
);
const BUCKET: FixtureBucket = { bucket: 'b', ops: OPS };
const dataLines = (from: number): string[] => OPS.slice(from).map((op, i) => lines.data('b', [op], String(from + i)));

async function open(adapter: FaultyAdapter): Promise<SynclineDatabase> {
  const d = new SynclineDatabase({ schema: todoSchema, database: adapter });
  await d.ready;
  return d;
}

const storedOpIds = async (d: SynclineDatabase): Promise<number[]> =>
  (await d.getAll<{ op_id: number | bigint }>('SELECT op_id FROM sl_oplog ORDER BY op_id')).map((r) => Number(r.op_id));

describe('a data batch whose store fails', () => {
  it('surfaces the error, stops at the failed batch with nothing half-applied, and the next connection resumes and converges', async () => {
    server = await new ScriptedSyncServer().start();
    const adapter = new FaultyAdapter();
    db = await open(adapter);
    const errors: string[] = [];
    db.onStatusChanged((s) => {
      if (s.downloadError) errors.push(s.downloadError.message);
    });
    // Batch 1 = lines 1–128, batch 2 = 129–256: fail in the middle of batch 2.
    adapter.failAt = 200;
    await db.connect(connector(server.url), { ...fast, retry: { baseMs: 300, maxMs: 300 } });
    const first = await server.nextStream();
    first.send(lines.checkpoint(600, [BUCKET]), ...dataLines(0), lines.complete(600));
    await waitFor(() => errors.length > 0, 5000, 'download error');
    expect(errors[0]).toContain('SQLITE_FULL');
    const second = await server.nextStream(5000);
    // Exactly batch 1 is stored: nothing of the failed batch (rolled back) nor of later batches
    // (never started), and the checkpoint was not applied — no synced row is visible.
    // (The op log keeps one op per row: the 64 distinct rows of lines 1–128 and the latest 'same'.)
    const stored = await storedOpIds(db);
    expect(Math.max(...stored)).toBe(128);
    expect(stored).toHaveLength(65);
    expect(await db.getAll('SELECT id FROM todos')).toEqual([]);
    expect(db.currentStatus.hasSynced).toBeFalsy();
    expect(second.request.body.buckets).toEqual([{ name: 'b', after: '128' }]);
    second.send(lines.checkpoint(600, [BUCKET]), ...dataLines(128), lines.complete(600));
    await db.waitForFirstSync();
    const expected = new Map<string, string>();
    for (const op of OPS) expected.set(op.object_id as string, JSON.parse(op.data as string).description as string);
    const rows = await db.getAll<{ id: string; description: string }>('SELECT id, description FROM todos ORDER BY id');
    expect(rows).toEqual([...expected].map(([id, description]) => ({ id, description })).sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(db.currentStatus).toMatchObject({ hasSynced: true, downloadError: undefined });
  });

  it('is not followed by a store of a later batch, even if more data lines arrive while it fails', async () => {
    server = await new ScriptedSyncServer().start();
    const adapter = new FaultyAdapter();
    db = await open(adapter);
    // Hold batch 1 (so batch 2 is read behind it), then fail it on release.
    adapter.holdAt = 64;
    adapter.failAt = 100;
    await db.connect(connector(server.url), { ...fast, retry: { baseMs: 60_000, maxMs: 60_000 } });
    const first = await server.nextStream();
    first.send(lines.checkpoint(600, [BUCKET]), ...dataLines(0));
    await waitFor(() => adapter.held, 5000, 'batch 1 in flight');
    adapter.release();
    await waitFor(() => db!.currentStatus.downloadError !== undefined, 5000, 'download error');
    await new Promise((r) => setTimeout(r, 100));
    expect(adapter.oplogInserts).toBe(100);
    expect(await storedOpIds(db)).toEqual([]);
    first.send(lines.complete(600));
    await new Promise((r) => setTimeout(r, 100));
    expect(await db.getAll('SELECT id FROM todos')).toEqual([]);
  });
});

/** Runs `body`, then fails if any promise rejected without a handler meanwhile (or within 100 ms). */
async function withoutUnhandledRejections(body: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 100));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

describe('aborting the stream while a data batch is being stored', () => {
  it('rejects nothing unhandled, stores nothing after the abort beyond the batch in flight, and close() runs no statement after closing', async () => {
    await withoutUnhandledRejections(async () => {
      server = await new ScriptedSyncServer().start();
      const adapter = new FaultyAdapter();
      db = await open(adapter);
      adapter.holdAt = 64; // inside batch 1; batch 2 fills behind it
      await db.connect(connector(server.url), fast);
      const first = await server.nextStream();
      first.send(lines.checkpoint(600, [BUCKET]), ...dataLines(0));
      await waitFor(() => adapter.held, 5000, 'batch 1 in flight');
      // Give the reader time to fill batch 2 and wait for batch 1 (the overlap point).
      await new Promise((r) => setTimeout(r, 200));
      const disconnected = db.disconnect();
      adapter.markEnd();
      await new Promise((r) => setTimeout(r, 50));
      adapter.release();
      await disconnected;
      // Batch 1 (in flight at the abort) completes; nothing after it is started.
      expect(adapter.insertsAfterEnd).toBe(128 - 64);
      expect(Math.max(...(await storedOpIds(db)))).toBe(128);
      await db.close();
      db = undefined;
      expect(adapter.statementsAfterClose).toBe(0);
    });
  });

  it('lets close() finish while a store is in flight without an unhandled rejection', async () => {
    await withoutUnhandledRejections(async () => {
      server = await new ScriptedSyncServer().start();
      const adapter = new FaultyAdapter();
      db = await open(adapter);
      adapter.holdAt = 10;
      await db.connect(connector(server.url), fast);
      const first = await server.nextStream();
      first.send(lines.checkpoint(600, [BUCKET]), ...dataLines(0));
      await waitFor(() => adapter.held, 5000, 'batch 1 in flight');
      const closed = db.close();
      adapter.markEnd();
      await new Promise((r) => setTimeout(r, 50));
      adapter.release();
      await closed;
      db = undefined;
      expect(adapter.statementsAfterClose).toBe(0);
      expect(adapter.insertsAfterEnd).toBe(128 - 10);
    });
  });
});
