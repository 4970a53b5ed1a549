/**
 * Sync Streams in the client against the scripted protocol server and real SQLite: request
 * assembly, reconnect-once on a changed set (bucket positions kept), TTL and expiry, checkpoint
 * reconciliation, per-subscription status/progress/hasSynced, persistence across reopen, and a
 * subscription made during connection setup.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendConnector, ConnectOptions, FetchLike, Logger, SynclineDatabase } from '../src/index.ts';
import { SynclineDatabase as Database } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import { openTestDb, todoSchema } from './helpers.ts';
import { lines, putOp, type FixtureBucket } from './scripted-lines.ts';
import { ScriptedSyncServer, waitFor, type StreamHandle } from './scripted-server.ts';

let db: SynclineDatabase | undefined;
let server: ScriptedSyncServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await db?.close();
  await server?.close();
  db = undefined;
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const fast: ConnectOptions = { retry: { baseMs: 20, maxMs: 100 }, crudUploadThrottleMs: 0 };

function connector(url: string): BackendConnector {
  return {
    fetchCredentials: async () => ({ endpoint: url, token: 'token' }),
    uploadData: async (d) => {
      const tx = await d.getNextCrudTransaction();
      await tx?.complete();
    },
  };
}

const ids = async (d: SynclineDatabase) => (await d.getAll<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);
const subs = (s: StreamHandle) => s.request.body.streams?.subscriptions ?? [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No further stream request arrives within `ms` (used to prove the absence of a reconnect). */
async function expectNoNewStream(ms = 300): Promise<void> {
  await expect(server!.nextStream(ms)).rejects.toThrow('no stream request arrived');
}

/** Collects stream requests until none arrives for 500 ms; returns the last one. */
async function lastStream(): Promise<StreamHandle> {
  let last = await server!.nextStream();
  for (;;) {
    const next = await server!.nextStream(500).catch(() => undefined);
    if (!next) return last;
    last = next;
  }
}

function recordingLogger(): Logger & { warnings: { message: string; details?: Record<string, unknown> }[] } {
  const warnings: { message: string; details?: Record<string, unknown> }[] = [];
  const noop = () => undefined;
  return { warnings, debug: noop, info: noop, error: noop, warn: (message, details) => void warnings.push({ message, details }) };
}

describe('Sync Streams: request assembly', () => {
  it('sends include_defaults and only explicit subscriptions, one per (name, canonical params), with priority overrides', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const a = await db.syncStream('todos', { list: 'a', owner: 'u' }).subscribe({ priority: 1 });
    const sameKeyReordered = await db.syncStream('todos', { owner: 'u', list: 'a' }).subscribe({ priority: 2 });
    await db.syncStream('lists').subscribe();
    expect(a.parameters).toEqual({ list: 'a', owner: 'u' });
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    expect(stream.request.body.streams).toEqual({
      include_defaults: true,
      subscriptions: [
        { stream: 'todos', parameters: { list: 'a', owner: 'u' }, override_priority: 1 },
        { stream: 'lists', parameters: null, override_priority: null },
      ],
    });
    expect(db.currentStatus.syncStreams?.map((s) => [s.subscription.name, s.subscription.active, s.subscription.hasExplicitSubscription])).toEqual([
      ['todos', false, true],
      ['lists', false, true],
    ]);
    await sameKeyReordered.unsubscribe();
    await a.unsubscribe();
  });

  it('sends include_defaults: false when connected with includeDefaultStreams: false', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), { ...fast, includeDefaultStreams: false });
    const stream = await server.nextStream();
    expect(stream.request.body.streams).toEqual({ include_defaults: false, subscriptions: [] });
  });

  it('rejects an invalid ttl, priority, name or parameters with INVALID_ARGUMENT and stores nothing', async () => {
    db = await openTestDb();
    const stream = db.syncStream('todos', { list: 'a' });
    for (const options of [{ ttl: -1 }, { ttl: Number.NaN }, { ttl: '60' as unknown as number }, { priority: 7 as 0 }]) {
      await expect(stream.subscribe(options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(() => db!.syncStream('', null)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => db!.syncStream('todos', [1] as unknown as Record<string, unknown>)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => db!.syncStream('todos', { at: new Date() })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(await db.getAll('SELECT * FROM sl_stream_subscriptions')).toEqual([]);
    expect(db.currentStatus.syncStreams).toEqual([]);
  });
});

describe('Sync Streams: changing the set', () => {
  it('a new subscription reconnects exactly once, keeping every bucket position, and its rows arrive', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    const lists: FixtureBucket = { bucket: '1#lists|0[]', ops: [putOp(1, 'lists', 'l1', { name: 'L' })], subscriptions: [{ default: 0 }] };
    first.send(lines.streamsCheckpoint(1, [lists], [{ name: 'lists', is_default: true }]), lines.data(lists.bucket, lists.ops), lines.complete(1));
    await db.waitForFirstSync();

    const sub = await db.syncStream('todos', { list: 'l1' }).subscribe();
    const second = await server.nextStream();
    expect(first.closed).toBe(true);
    expect(second.request.body.buckets).toEqual([{ name: '1#lists|0[]', after: '1' }]);
    expect(subs(second)).toEqual([{ stream: 'todos', parameters: { list: 'l1' }, override_priority: null }]);
    const todos: FixtureBucket = { bucket: '1#todos|0["l1"]', ops: [putOp(2, 'todos', 't1', { list_id: 'l1' })], subscriptions: [{ sub: 0 }] };
    second.send(
      lines.streamsCheckpoint(2, [lists, todos], [{ name: 'lists', is_default: true }, { name: 'todos' }]),
      lines.data(todos.bucket, todos.ops),
      lines.complete(2),
    );
    await sub.waitForFirstSync(AbortSignal.timeout(5000));
    expect(await ids(db)).toEqual(['t1']);
    await expectNoNewStream();
    expect(server.streams).toHaveLength(2);
  });

  it('several subscriptions made at once cause one reconnect that carries all of them', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    first.send(lines.streamsCheckpoint(0, [], []), lines.complete(0));
    await db.waitForFirstSync();
    await Promise.all(['a', 'b', 'c'].map((l) => db!.syncStream('todos', { list: l }).subscribe()));
    const streams: StreamHandle[] = [];
    for (;;) {
      const next = await server.nextStream(500).catch(() => undefined);
      if (!next) break;
      streams.push(next);
    }
    expect(streams.length).toBeGreaterThanOrEqual(1);
    expect(streams.length).toBeLessThanOrEqual(3);
    expect(subs(streams[streams.length - 1]!).map((s) => s.parameters)).toEqual([{ list: 'a' }, { list: 'b' }, { list: 'c' }]);
  });

  it('releasing the last handle does not reconnect before expiry; after the TTL the subscription and its rows go', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const sub = await db.syncStream('todos', { list: 'l1' }).subscribe({ ttl: 0.6 });
    await db.syncStream('todos', { list: 'l2' }).subscribe();
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    const todos: FixtureBucket = { bucket: '1#todos|0["l1"]', ops: [putOp(1, 'todos', 't1', { list_id: 'l1' })], subscriptions: [{ sub: 0 }] };
    first.send(lines.streamsCheckpoint(1, [todos], [{ name: 'todos' }]), lines.data(todos.bucket, todos.ops), lines.complete(1));
    await sub.waitForFirstSync(AbortSignal.timeout(5000));
    expect(await ids(db)).toEqual(['t1']);

    const released = Date.now();
    await sub.unsubscribe();
    const status = db.currentStatus.forStream({ name: 'todos', parameters: { list: 'l1' } });
    expect(status?.subscription.expiresAt?.getTime()).toBeGreaterThanOrEqual(released + 600);
    expect(status?.subscription.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 600);
    // Still requested (and synced) during the TTL: no reconnect yet.
    const second = await server.nextStream(5000);
    expect(Date.now() - released).toBeGreaterThanOrEqual(500);
    expect(subs(second)).toEqual([{ stream: 'todos', parameters: { list: 'l2' }, override_priority: null }]);
    expect(second.request.body.buckets).toEqual([{ name: todos.bucket, after: '1' }]);
    // The server's new full checkpoint no longer has the bucket: it and its rows are deleted.
    second.send(lines.streamsCheckpoint(1, [], [{ name: 'todos' }]), lines.complete(1));
    await waitFor(async () => (await ids(db!)).length === 0, 5000, 'rows of the expired subscription to go');
    expect(await db.getAll('SELECT name FROM sl_buckets')).toEqual([]);
    // The stream is still listed (for l2), which must not revive the expired l1 subscription.
    await waitFor(() => db!.currentStatus.syncStreams?.length === 1, 5000, 'the expired subscription to leave the status');
    expect(db.currentStatus.syncStreams?.[0]?.subscription).toMatchObject({ parameters: { list: 'l2' }, active: true });
  });

  it('a keepalive notices an expiry even without the timer (ttl: 0)', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const sub = await db.syncStream('todos').subscribe({ ttl: 0 });
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    expect(subs(first)).toHaveLength(1);
    first.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }]), lines.complete(0));
    await sub.waitForFirstSync(AbortSignal.timeout(5000));
    await sub.unsubscribe();
    first.send(lines.tokenExpiresIn(3600));
    const second = await server.nextStream();
    expect(subs(second)).toEqual([]);
  });

  it('unsubscribeAll() ends the subscription for every handle and reconnects without it', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const stream = db.syncStream('todos', { list: 'x' });
    const [h1, h2] = [await stream.subscribe({ ttl: Infinity }), await stream.subscribe()];
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    expect(subs(first)).toHaveLength(1);
    await stream.unsubscribeAll();
    const second = await server.nextStream();
    expect(subs(second)).toEqual([]);
    // Old handles no longer count against a new subscription: releasing them must not start the
    // new one's TTL (0 here, so counting them would expire it and reconnect at once).
    const h3 = await stream.subscribe({ ttl: 0 });
    const third = await server.nextStream();
    expect(subs(third)).toHaveLength(1);
    await h1.unsubscribe();
    await h2.unsubscribe();
    await expectNoNewStream();
    await h3.unsubscribe();
    expect(subs(await server.nextStream())).toEqual([]);
  });

  it('a subscription made while the request is being built is not dropped', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    let subscribed = false;
    // Subscribes after the request body was assembled, before it is sent: the race PowerSync SDKs lost.
    const racing: FetchLike = async (url, init) => {
      if (url.endsWith('/sync/stream') && !subscribed) {
        subscribed = true;
        await db!.syncStream('todos', { list: 'late' }).subscribe();
      }
      return globalThis.fetch(url, init);
    };
    await db.connect(connector(server.url), { ...fast, fetch: racing });
    // The request in flight is abandoned (maybe before the server saw it) for one that has it.
    const last = await lastStream();
    expect(subs(last)).toEqual([{ stream: 'todos', parameters: { list: 'late' }, override_priority: null }]);
  });

  it('a subscription stored while the streams part is being assembled is caught by the generation check', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const manager = (db as unknown as { streams: { assemble: (includeDefaults: boolean) => Promise<unknown> } }).streams;
    const assemble = manager.assemble.bind(manager);
    let raced = false;
    // The change lands after the request was read from SQLite but before the connection records
    // it, so its own notification finds nothing to compare against.
    manager.assemble = async (includeDefaults) => {
      const result = await assemble(includeDefaults);
      if (!raced) {
        raced = true;
        await db!.syncStream('todos', { list: 'racing' }).subscribe();
      }
      return result;
    };
    await db.connect(connector(server.url), fast);
    const last = await lastStream();
    expect(subs(last)).toEqual([{ stream: 'todos', parameters: { list: 'racing' }, override_priority: null }]);
  });
});

describe('Sync Streams: limits', () => {
  it('refuses a subscription beyond the 1,000 a request may carry, and accepts it once one is released', async () => {
    db = await openTestDb();
    // Fill the table directly (1,000 subscribe() round-trips would only slow the test down).
    await db.execute(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
       INSERT INTO sl_stream_subscriptions (stream_name, params, explicit, ttl_ms, expires_at) SELECT 'todos', json_object('i', i), 1, NULL, NULL FROM n`,
    );
    await expect(db.syncStream('todos', { i: 'one more' }).subscribe()).rejects.toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS' });
    // Re-subscribing to one already requested is fine.
    const again = await db.syncStream('todos', { i: 5 }).subscribe();
    await db.syncStream('todos', { i: 7 }).unsubscribeAll();
    await db.syncStream('todos', { i: 'one more' }).subscribe();
    expect((await db.get<{ n: number }>('SELECT count(*) AS n FROM sl_stream_subscriptions WHERE explicit = 1')).n).toBe(1000);
    await again.unsubscribe();
  });
});

describe('Sync Streams: TTL', () => {
  it('the longest TTL requested wins, Infinity never expires, and the timestamps are real ms Dates', async () => {
    db = await openTestDb();
    const before = Date.now();
    const long = await db.syncStream('todos', { list: 'a' }).subscribe({ ttl: 3600 });
    const short = await db.syncStream('todos', { list: 'a' }).subscribe({ ttl: 10 });
    await short.unsubscribe();
    await long.unsubscribe();
    const expiresAt = db.currentStatus.forStream({ name: 'todos', parameters: { list: 'a' } })?.subscription.expiresAt;
    expect(expiresAt).toBeInstanceOf(Date);
    expect(expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);

    const forever = await db.syncStream('todos', { list: 'b' }).subscribe({ ttl: Infinity });
    await forever.unsubscribe();
    const row = await db.get<{ explicit: number; ttl_ms: number | null; expires_at: number | null }>(
      `SELECT explicit, ttl_ms, expires_at FROM sl_stream_subscriptions WHERE params = '{"list":"b"}'`,
    );
    expect(row).toEqual({ explicit: 1, ttl_ms: null, expires_at: null });
    expect(db.currentStatus.forStream({ name: 'todos', parameters: { list: 'b' } })?.subscription).toMatchObject({ hasExplicitSubscription: true, expiresAt: null });
  });
});

describe('Sync Streams: reconciliation and status', () => {
  it('creates default rows, reports errors per subscription, keeps unknown streams inactive, and deletes stale rows', async () => {
    server = await new ScriptedSyncServer().start();
    const logger = recordingLogger();
    db = new Database({ schema: todoSchema, database: openBetterSqlite3({ path: ':memory:' }), logger });
    await db.ready;
    await db.syncStream('todos', { list: 'bad' }).subscribe();
    await db.syncStream('misspelled').subscribe();
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    first.send(
      lines.streamsCheckpoint(0, [], [{ name: 'todos', errors: [{ subscription: 0, message: 'Invalid parameter list' }] }, { name: 'lists', is_default: true }]),
      lines.complete(0),
    );
    await waitFor(() => db!.currentStatus.syncStreams?.length === 3, 5000, 'three tracked subscriptions');
    const byName = Object.fromEntries(db.currentStatus.syncStreams!.map((s) => [s.subscription.name, s]));
    expect(byName['todos']).toMatchObject({ errors: ['Invalid parameter list'], subscription: { active: true, isDefault: false, hasExplicitSubscription: true } });
    expect(byName['misspelled']).toMatchObject({ errors: [], subscription: { active: false } });
    expect(byName['lists']).toMatchObject({ subscription: { active: true, isDefault: true, hasExplicitSubscription: false, parameters: null } });
    expect(logger.warnings).toContainEqual({
      message: 'The sync service reported an error for a stream subscription',
      details: { stream: 'todos', subscription: { list: 'bad' }, message: 'Invalid parameter list' },
    });
    // The unknown stream is never reported as synced; the others are after checkpoint_complete.
    await waitFor(() => db!.currentStatus.forStream({ name: 'lists', parameters: null })?.subscription.hasSynced === true, 5000, 'lists synced');
    expect(db.currentStatus.forStream({ name: 'misspelled', parameters: null })?.subscription.hasSynced).toBe(false);

    // A later connection without the default stream: its row is deleted.
    await db.disconnect();
    await db.connect(connector(server.url), { ...fast, includeDefaultStreams: false });
    const second = await server.nextStream();
    second.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }]), lines.complete(0));
    await waitFor(() => db!.currentStatus.syncStreams?.length === 2, 5000, 'the default row to go');
    expect(db.currentStatus.syncStreams!.map((s) => s.subscription.name)).toEqual(['todos', 'misspelled']);
    expect(db.currentStatus.forStream({ name: 'todos', parameters: { list: 'bad' } })?.errors).toEqual([]);
  });

  it('sums progress per subscription over its buckets and sets hasSynced at the partial checkpoint for its priority', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const urgent = await db.syncStream('todos', { list: 'u' }).subscribe({ priority: 0 });
    const later = await db.syncStream('todos', { list: 'v' }).subscribe();
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    const u: FixtureBucket = { bucket: 'u', priority: 0, ops: [putOp(1, 'todos', 'u1', {}), putOp(2, 'todos', 'u2', {})], subscriptions: [{ sub: 0 }] };
    const v: FixtureBucket = { bucket: 'v', priority: 3, ops: [putOp(3, 'todos', 'v1', {}), putOp(4, 'todos', 'v2', {}), putOp(5, 'todos', 'v3', {})], subscriptions: [{ sub: 1 }] };
    const started = Date.now();
    // (a keepalive after the data line flushes the client's data batch)
    stream.send(lines.streamsCheckpoint(5, [u, v], [{ name: 'todos' }]), lines.data('u', u.ops), lines.tokenExpiresIn(3600));
    const desc = { name: 'todos', parameters: { list: 'u' } };
    const descV = { name: 'todos', parameters: { list: 'v' } };
    await waitFor(() => db!.currentStatus.forStream(desc)?.progress?.downloadedOperations === 2, 5000, 'progress of u');
    expect(db.currentStatus.forStream(desc)).toMatchObject({ priority: 0, progress: { totalOperations: 2, downloadedFraction: 1 } });
    expect(db.currentStatus.forStream(descV)).toMatchObject({ priority: 3, progress: { downloadedOperations: 0, totalOperations: 3, downloadedFraction: 0 } });
    stream.send(lines.partial(5, 0));
    await urgent.waitForFirstSync(AbortSignal.timeout(5000));
    const syncedAt = db.currentStatus.forStream(desc)!.subscription.lastSyncedAt!;
    expect(syncedAt).toBeInstanceOf(Date);
    expect(syncedAt.getTime()).toBeGreaterThanOrEqual(started);
    expect(syncedAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(db.currentStatus.forStream(descV)?.subscription.hasSynced).toBe(false);
    stream.send(lines.data('v', v.ops), lines.complete(5));
    await later.waitForFirstSync(AbortSignal.timeout(5000));
    expect(db.currentStatus.forStream(descV)?.progress).toMatchObject({ downloadedOperations: 3, totalOperations: 3 });
    expect(await ids(db)).toEqual(['u1', 'u2', 'v1', 'v2', 'v3']);
  });

  it('waitForFirstSync can be aborted', async () => {
    db = await openTestDb();
    const sub = await db.syncStream('todos').subscribe();
    const controller = new AbortController();
    const waiting = sub.waitForFirstSync(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('Sync Streams: clearing', () => {
  it('disconnectAndClear() keeps explicit subscriptions and forgets defaults and sync state', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const sub = await db.syncStream('todos', { list: 'k' }).subscribe();
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    stream.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }, { name: 'lists', is_default: true }]), lines.complete(0));
    await sub.waitForFirstSync(AbortSignal.timeout(5000));
    expect(db.currentStatus.syncStreams).toHaveLength(2);
    await db.disconnectAndClear();
    expect(db.currentStatus.syncStreams?.map((s) => s.subscription)).toMatchObject([
      { name: 'todos', parameters: { list: 'k' }, hasExplicitSubscription: true, active: false, hasSynced: false, lastSyncedAt: null },
    ]);
  });
});

describe('Sync Streams: re-subscribing', () => {
  it('a subscription ended by unsubscribeAll() must sync again before waitForFirstSync resolves', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const stream = db.syncStream('todos', { list: 'again' });
    const sub = await stream.subscribe();
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    first.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }]), lines.complete(0));
    await sub.waitForFirstSync(AbortSignal.timeout(5000));
    await db.disconnect();
    await stream.unsubscribeAll();
    const again = await stream.subscribe();
    expect(db.currentStatus.forStream(again)?.subscription).toMatchObject({ hasExplicitSubscription: true, hasSynced: false, lastSyncedAt: null });
    await db.connect(connector(server.url), fast);
    const second = await server.nextStream();
    second.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }]), lines.complete(0));
    await again.waitForFirstSync(AbortSignal.timeout(5000));
  });
});

describe('Sync Streams: persistence', () => {
  it('subscriptions, expiry and sync state survive a reopen; one that expired while closed is not requested', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-streams-'));
    dirs.push(dir);
    const path = join(dir, 'app.db');
    server = await new ScriptedSyncServer().start();
    db = await openTestDb(path);
    const kept = await db.syncStream('todos', { list: 'kept' }).subscribe({ ttl: 3600, priority: 2 });
    const brief = await db.syncStream('todos', { list: 'brief' }).subscribe({ ttl: 0.2 });
    await db.connect(connector(server.url), fast);
    const first = await server.nextStream();
    expect(subs(first)).toHaveLength(2);
    first.send(lines.streamsCheckpoint(0, [], [{ name: 'todos' }]), lines.complete(0));
    await kept.waitForFirstSync(AbortSignal.timeout(5000));
    await brief.unsubscribe();
    const before = db.currentStatus.forStream({ name: 'todos', parameters: { list: 'kept' } })!.subscription;
    await db.close();
    await sleep(300);

    db = await openTestDb(path);
    const reopened = db.currentStatus.forStream({ name: 'todos', parameters: { list: 'kept' } })!.subscription;
    expect(reopened).toMatchObject({ hasExplicitSubscription: true, hasSynced: true, active: true });
    expect(reopened.lastSyncedAt?.getTime()).toBe(before.lastSyncedAt?.getTime());
    expect(reopened.expiresAt?.getTime()).toBeGreaterThanOrEqual(before.expiresAt!.getTime());
    expect(reopened.expiresAt!.getTime() - Date.now()).toBeGreaterThan(3_500_000);
    await db.connect(connector(server.url), fast);
    const second = await server.nextStream();
    expect(subs(second)).toEqual([{ stream: 'todos', parameters: { list: 'kept' }, override_priority: 2 }]);
  });

  it('a database created before Sync Streams is migrated on open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-streams-'));
    dirs.push(dir);
    const path = join(dir, 'old.db');
    db = await openTestDb(path);
    await db.execute(`INSERT INTO todos (id, description) VALUES ('kept', 'local row')`);
    // Back to internal schema version 1 (the version before sl_stream_subscriptions).
    await db.execute(`DROP TABLE sl_stream_subscriptions`);
    await db.execute(`ALTER TABLE sl_oplog RENAME COLUMN subkey TO key`);
    await db.execute(`DELETE FROM sl_migrations WHERE version > 1`);
    await db.close();
    db = await openTestDb(path);
    expect(await db.getAll('SELECT version FROM sl_migrations ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
    await db.syncStream('todos').subscribe();
    expect(db.currentStatus.syncStreams).toHaveLength(1);
    expect(await ids(db)).toEqual(['kept']);
  });
});
