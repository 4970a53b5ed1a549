import { afterEach, describe, expect, it } from 'vitest';
import type { BackendConnector, ConnectOptions, SynclineDatabase, SyncStatus } from '../src/index.ts';
import { openTestDb } from './helpers.ts';
import { lines, putOp, type FixtureBucket } from './scripted-lines.ts';
import { ScriptedSyncServer, waitFor } from './scripted-server.ts';

let db: SynclineDatabase | undefined;
let server: ScriptedSyncServer | undefined;
afterEach(async () => {
  await db?.close();
  await server?.close();
  db = undefined;
  server = undefined;
});

const fast: ConnectOptions = { retry: { baseMs: 20, maxMs: 100 }, crudUploadThrottleMs: 0 };

function connector(url: string, overrides: Partial<BackendConnector> = {}): BackendConnector & { tokens: number } {
  const c: BackendConnector & { tokens: number } = {
    tokens: 0,
    fetchCredentials: async () => ({ endpoint: url, token: `token-${++c.tokens}` }),
    uploadData: async (d: SynclineDatabase) => {
      const tx = await d.getNextCrudTransaction();
      await tx?.complete();
    },
    ...overrides,
  };
  return c;
}

const ids = async (d: SynclineDatabase) => (await d.getAll<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);

describe('connect() against a scripted protocol server', () => {
  it('syncs for the first time, reporting status along the way', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const seen: SyncStatus[] = [];
    db.onStatusChanged((s) => seen.push(s));
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    expect(stream.request.authorization).toBe('Token token-1');
    expect(stream.request.body).toMatchObject({ buckets: [], raw_data: true, client_id: await db.getClientId() });
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(1, 'todos', 'a', { description: 'A' }), putOp(2, 'todos', 'b', {})] };
    stream.send(lines.checkpoint(2, [b]), lines.data('b', b.ops), lines.complete(2));
    await db.waitForFirstSync();
    expect(await ids(db)).toEqual(['a', 'b']);
    expect(db.currentStatus).toMatchObject({ connected: true, hasSynced: true, downloading: false });
    expect(seen.some((s) => s.connecting)).toBe(true);
    expect(seen.some((s) => s.downloading && s.downloadProgress?.totalOperations === 2)).toBe(true);
  });

  it('stores data batches in stream order while reading the next one, and applies them with the checkpoint', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    // 600 one-op lines (several 128-line batches, so one is stored while the next is read); the
    // same row is rewritten in every batch, so a batch stored out of order would leave an old value.
    const ops = Array.from({ length: 600 }, (_, i) => putOp(i + 1, 'todos', i % 2 === 0 ? 'same' : `row-${String(i).padStart(3, '0')}`, { description: `v${i}` }));
    const b: FixtureBucket = { bucket: 'b', ops };
    stream.send(lines.checkpoint(600, [b]), ...ops.map((op, i) => lines.data('b', [op], i === 0 ? '0' : String(i))), lines.complete(600));
    await db.waitForFirstSync();
    const rows = await db.getAll<{ id: string; description: string }>('SELECT id, description FROM todos ORDER BY id');
    expect(rows).toHaveLength(301);
    expect(rows.find((r) => r.id === 'same')?.description).toBe('v598');
    expect(db.currentStatus).toMatchObject({ hasSynced: true, downloadError: undefined });
  });

  it('re-runs a watched query when synced data is applied', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    const results: string[][] = [];
    const stop = db.watch<{ id: string }>('SELECT id FROM todos ORDER BY id', [], { onResult: (rows) => results.push(rows.map((r) => r.id)) });
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(1, 'todos', 'a', {})] };
    stream.send(lines.checkpoint(1, [b]), lines.data('b', b.ops), lines.complete(1));
    await waitFor(() => results.some((r) => r.includes('a')), 5000, 'watch result');
    stop();
    expect(results[0]).toEqual([]);
  });

  it('uploads offline writes on connect, requests a write checkpoint, and applies once it is echoed', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.execute(`INSERT INTO todos (id, description) VALUES ('mine', 'offline')`);
    const uploaded: unknown[] = [];
    const c = connector(server.url, {
      uploadData: async (d) => {
        const tx = await d.getNextCrudTransaction();
        if (!tx) return;
        uploaded.push(...tx.crud.map((e) => e.toJSON()));
        await tx.complete();
      },
    });
    await db.connect(c, fast);
    const stream = await server.nextStream();
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(1, 'todos', 'other', {})] };
    stream.send(lines.checkpoint(1, [b]), lines.data('b', b.ops));
    await waitFor(() => server!.writeCheckpointRequests.length === 1, 5000, 'write checkpoint request');
    expect(uploaded).toMatchObject([{ op: 'PUT', type: 'todos', id: 'mine', data: { description: 'offline' } }]);
    expect(server.writeCheckpointRequests[0]?.clientId).toBe(await db.getClientId());
    // A checkpoint without the write checkpoint is validated but not applied.
    stream.send(lines.complete(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(await ids(db)).toEqual(['mine']);
    // The server echoes write checkpoint 100 together with the uploaded row.
    const b2: FixtureBucket = { bucket: 'b', ops: [...b.ops, putOp(2, 'todos', 'mine', { description: 'offline' })] };
    stream.send(lines.diff(2, [b2], [], '100'), lines.data('b', b2.ops.slice(1), '1'), lines.complete(2));
    await waitFor(async () => (await ids(db!)).join() === 'mine,other', 5000, 'applied checkpoint');
    expect(db.currentStatus.hasSynced).toBe(true);
  });

  it('reopens at once when the server ends a healthy stream, resumes from the last op, and backs off if it ends again unhealthy', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    // A one-minute backoff: only the immediate reopen can produce the second stream in time.
    await db.connect(connector(server.url), { ...fast, retry: { baseMs: 60_000, maxMs: 60_000 } });
    const first = await server.nextStream();
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(7, 'todos', 'a', {})] };
    first.send(lines.checkpoint(7, [b]), lines.data('b', b.ops), lines.complete(7));
    await db.waitForFirstSync();
    first.end();
    const second = await server.nextStream(2000);
    expect(second.request.body.buckets).toEqual([{ name: 'b', after: '7' }]);
    // Ended again before any checkpoint: now the backoff applies (no reconnect loop).
    second.end();
    await expect(server.nextStream(1000)).rejects.toThrow();
  });

  it('refetches credentials after a 401 and retries', async () => {
    server = await new ScriptedSyncServer().start();
    server.rejectNext.push(401);
    db = await openTestDb();
    const c = connector(server.url);
    await db.connect(c, fast);
    expect(db.currentStatus.downloadError).toMatchObject({ code: 'UNAUTHORIZED' });
    const stream = await server.nextStream();
    expect(stream.request.authorization).toBe('Token token-2');
  });

  it('refreshes credentials before the token expires and reconnects at once', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), { ...fast, retry: { baseMs: 60_000, maxMs: 60_000 } });
    const first = await server.nextStream();
    first.send(lines.tokenExpiresIn(25));
    const second = await server.nextStream(2000);
    expect(second.request.authorization).toBe('Token token-2');
  });

  it('replaces credentials 30 s before their expiresAt and reconnects with the new token', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    let n = 0;
    const c = connector(server.url, {
      fetchCredentials: async () => ({ endpoint: server!.url, token: `exp-${++n}`, expiresAt: new Date(Date.now() + 30_300) }),
    });
    await db.connect(c, { ...fast, retry: { baseMs: 60_000, maxMs: 60_000 } });
    expect((await server.nextStream()).request.authorization).toBe('Token exp-1');
    expect((await server.nextStream(3000)).request.authorization).toBe('Token exp-2');
  });

  it('retries a failing upload with backoff without waiting for another local write', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    let calls = 0;
    const c = connector(server.url, {
      uploadData: async (d) => {
        calls++;
        if (calls < 3) throw new Error('backend down');
        await (await d.getCrudBatch())?.complete();
      },
    });
    await db.execute(`INSERT INTO todos (id) VALUES ('x')`);
    await db.connect(c, { ...fast, uploadRetry: { baseMs: 10, maxMs: 20 } });
    await waitFor(async () => (await db!.getUploadQueueStats()).count === 0, 5000, 'queue drained');
    expect(calls).toBe(3);
    await waitFor(() => db!.currentStatus.uploadError === undefined && !db!.currentStatus.uploading, 2000, 'upload status cleared');
  });

  it('treats an uploadData that completes nothing as a stall and retries', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    let calls = 0;
    const errors: string[] = [];
    db.onStatusChanged((s) => s.uploadError && errors.push((s.uploadError as { code?: string }).code ?? ''));
    const c = connector(server.url, {
      uploadData: async (d) => {
        calls++;
        if (calls >= 2) await (await d.getCrudBatch())?.complete();
      },
    });
    await db.execute(`INSERT INTO todos (id) VALUES ('x')`);
    await db.connect(c, { ...fast, uploadRetry: { baseMs: 10, maxMs: 20 } });
    await waitFor(async () => (await db!.getUploadQueueStats()).count === 0, 5000, 'queue drained');
    expect(errors).toContain('UPLOAD_STALLED');
  });

  it('stops syncing on disconnect and reports it', async () => {
    server = await new ScriptedSyncServer().start();
    db = await openTestDb();
    await db.connect(connector(server.url), fast);
    const stream = await server.nextStream();
    await waitFor(() => db!.currentStatus.connected, 2000, 'connected');
    await db.disconnect();
    expect(db.currentStatus).toMatchObject({ connected: false, connecting: false });
    await waitFor(() => stream.closed, 2000, 'stream closed');
  });

  it('uses an injected fetch (composable) instead of the network', async () => {
    db = await openTestDb();
    const calls: string[] = [];
    const body = [lines.checkpoint(1, [{ bucket: 'b', ops: [putOp(1, 'todos', 'z', {})] }]), lines.data('b', [putOp(1, 'todos', 'z', {})]), lines.complete(1)].join('\n');
    const fetch = async (url: string) => {
      calls.push(url);
      return new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
    };
    await db.connect(connector('http://fake.invalid'), { ...fast, fetch });
    await db.waitForFirstSync();
    expect(await ids(db)).toEqual(['z']);
    expect(calls[0]).toBe('http://fake.invalid/sync/stream');
  });
});
