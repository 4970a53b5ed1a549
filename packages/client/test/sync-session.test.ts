import { afterEach, describe, expect, it } from 'vitest';
import type { SynclineDatabase } from '../src/index.ts';
import type { DatabaseInternals } from '../src/db/syncline-database.ts';
import { BucketStorage } from '../src/sync/bucket-storage.ts';
import { parseSyncLineText } from '../src/sync/sync-lines.ts';
import { SyncSession, type SessionAction } from '../src/sync/sync-session.ts';
import { silentLogger } from '../src/logger.ts';
import { openTestDb } from './helpers.ts';
import { lines, putOp, removeOp, type FixtureBucket } from './scripted-lines.ts';

let db: SynclineDatabase;
afterEach(async () => {
  await db?.close();
});

function internals(d: SynclineDatabase): DatabaseInternals {
  return (d as unknown as { internals: DatabaseInternals }).internals;
}

async function newSession(d: SynclineDatabase): Promise<{ session: SyncSession; request: { name: string; after: string }[]; feed: (...texts: string[]) => Promise<(SessionAction | null)[]> }> {
  const i = internals(d);
  const session = new SyncSession(new BucketStorage(i), { logger: silentLogger, status: () => i.status, updateStatus: i.updateStatus });
  const request = await session.begin();
  const feed = async (...texts: string[]) => {
    const out: (SessionAction | null)[] = [];
    for (const t of texts) out.push(await session.handleLine(parseSyncLineText(t), t.length));
    return out;
  };
  return { session, request, feed };
}

const todos = (d: SynclineDatabase) => d.getAll<{ id: string; description: string | null }>('SELECT id, description FROM todos ORDER BY id');

describe('sync session over scripted lines', () => {
  it('applies a first sync atomically at checkpoint_complete and records it', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' }), putOp(2, 'todos', 'b', { description: 'B' })] };
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(2, [b]), lines.data('b1', b.ops));
    expect(await todos(db)).toEqual([]);
    expect(db.currentStatus.downloading).toBe(true);
    expect(db.currentStatus.downloadProgress?.downloadedOperations).toBe(2);
    await feed(lines.complete(2));
    expect(await todos(db)).toEqual([
      { id: 'a', description: 'A' },
      { id: 'b', description: 'B' },
    ]);
    expect(db.currentStatus).toMatchObject({ hasSynced: true, downloading: false, downloadProgress: null });
  });

  it('resumes with after = the last op of each bucket', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    await (await newSession(db)).feed(lines.checkpoint(5, [b]), lines.data('b1', b.ops), lines.complete(5));
    expect((await newSession(db)).request).toEqual([{ name: 'b1', after: '5' }]);
  });

  it('drops a bucket whose checksum does not match, publishes nothing, and asks for it from scratch', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    const { feed } = await newSession(db);
    const actions = await feed(lines.checkpoint(1, [b], undefined, { b1: 12345 }), lines.data('b1', b.ops), lines.complete(1));
    expect(actions[2]).toMatchObject({ type: 'close', error: { code: 'CHECKSUM_MISMATCH' } });
    expect(await todos(db)).toEqual([]);
    expect((await newSession(db)).request).toEqual([]);
  });

  it('heals a corrupted local op by re-download', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    await (await newSession(db)).feed(lines.checkpoint(1, [b]), lines.data('b1', b.ops), lines.complete(1));
    // Corrupt the stored checksum part on purpose; the next checkpoint must notice and re-download.
    await db.execute(`UPDATE sl_buckets SET op_checksum = op_checksum + 1 WHERE name = 'b1'`);
    const b2: FixtureBucket = { bucket: 'b1', ops: [...b.ops, putOp(2, 'todos', 'c', { description: 'C' })] };
    const second = await newSession(db);
    const actions = await second.feed(lines.checkpoint(2, [b2]), lines.data('b1', b2.ops.slice(1), '1'), lines.complete(2));
    expect(actions[2]).toMatchObject({ type: 'close', error: { code: 'CHECKSUM_MISMATCH' } });
    const third = await newSession(db);
    expect(third.request).toEqual([]);
    await third.feed(lines.checkpoint(2, [b2]), lines.data('b1', b2.ops), lines.complete(2));
    expect((await todos(db)).map((r) => r.id)).toEqual(['a', 'c']);
  });

  it('never applies a checkpoint while uploads are pending, and applies once the write checkpoint is seen', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    const { feed, session } = await newSession(db);
    await feed(lines.checkpoint(1, [b]), lines.data('b1', b.ops), lines.complete(1));
    await db.execute(`INSERT INTO todos (id, description) VALUES ('local', 'mine')`);
    const b2: FixtureBucket = { bucket: 'b1', ops: [...b.ops, putOp(2, 'todos', 'a', { description: 'A2' })] };
    await feed(lines.diff(2, [b2]), lines.data('b1', b2.ops.slice(1), '1'), lines.complete(2));
    expect(await todos(db)).toEqual([
      { id: 'a', description: 'A' },
      { id: 'local', description: 'mine' },
    ]);
    // Upload done: queue empty, target = write checkpoint 7 — but the server has not echoed it yet.
    await (await db.getCrudBatch())?.complete();
    await db.execute(`UPDATE sl_kv SET value = 7 WHERE key = 'target_write_checkpoint'`);
    await session.completedUpload();
    expect((await todos(db)).map((r) => r.description)).toEqual(['A', 'mine']);
    // The server confirms write checkpoint 7 with the uploaded row included.
    const b3: FixtureBucket = { bucket: 'b1', ops: [...b2.ops, putOp(3, 'todos', 'local', { description: 'mine (server)' })] };
    await feed(lines.diff(3, [b3], [], '7'), lines.data('b1', b3.ops.slice(2), '2'), lines.complete(3));
    expect(await todos(db)).toEqual([
      { id: 'a', description: 'A2' },
      { id: 'local', description: 'mine (server)' },
    ]);
  });

  it('applies a held-back checkpoint on completedUpload when its write checkpoint covers the target', async () => {
    db = await openTestDb();
    const { feed, session } = await newSession(db);
    await db.execute(`INSERT INTO todos (id, description) VALUES ('x', 'unconfirmed')`);
    const b: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    await feed(lines.checkpoint(1, [b], '3'), lines.data('b1', b.ops), lines.complete(1));
    expect((await todos(db)).map((r) => r.id)).toEqual(['x']);
    await (await db.getCrudBatch())?.complete();
    await db.execute(`UPDATE sl_kv SET value = 3 WHERE key = 'target_write_checkpoint'`);
    await session.completedUpload();
    // The server never got 'x' (its checkpoint covers write 3 and has no such row): reverted.
    expect((await todos(db)).map((r) => r.id)).toEqual(['a']);
  });

  it('applies priority 0 even while uploads are pending, but not priority 1', async () => {
    db = await openTestDb();
    await db.execute(`INSERT INTO lists (id, name) VALUES ('pending', 'x')`);
    const high: FixtureBucket = { bucket: 'p0', priority: 0, ops: [putOp(1, 'todos', 'h', { description: 'high' })] };
    const mid: FixtureBucket = { bucket: 'p1', priority: 1, ops: [putOp(2, 'todos', 'm', { description: 'mid' })] };
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(2, [high, mid]), lines.data('p0', high.ops), lines.partial(2, 0));
    expect((await todos(db)).map((r) => r.id)).toEqual(['h']);
    await feed(lines.data('p1', mid.ops), lines.partial(2, 1), lines.complete(2));
    expect((await todos(db)).map((r) => r.id)).toEqual(['h']);
    expect(db.currentStatus.priorityStatusEntries.map((e) => e.priority)).toEqual([0]);
  });

  it('publishes partial checkpoints by priority when nothing is pending', async () => {
    db = await openTestDb();
    const high: FixtureBucket = { bucket: 'p1', priority: 1, ops: [putOp(1, 'todos', 'h', { description: 'high' })] };
    const low: FixtureBucket = { bucket: 'p3', ops: [putOp(2, 'todos', 'l', { description: 'low' })] };
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(2, [high, low]), lines.data('p1', high.ops), lines.partial(2, 1));
    expect((await todos(db)).map((r) => r.id)).toEqual(['h']);
    expect(db.currentStatus.hasSynced).toBe(false);
    await feed(lines.data('p3', low.ops), lines.complete(2));
    expect((await todos(db)).map((r) => r.id)).toEqual(['h', 'l']);
    expect(db.currentStatus.priorityStatusEntries.map((e) => e.priority)).toEqual([2147483647]);
  });

  it('deletes rows on REMOVE and when a bucket leaves the set, unless another bucket still has them', async () => {
    db = await openTestDb();
    const shared = putOp(2, 'todos', 's', { description: 'shared' }, 'sk-shared-1');
    const b1: FixtureBucket = { bucket: 'b1', ops: [putOp(1, 'todos', 'a', { description: 'A' }), shared] };
    const shared2 = putOp(3, 'todos', 's', { description: 'shared' }, 'sk-shared-2');
    const b2: FixtureBucket = { bucket: 'b2', ops: [shared2] };
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(3, [b1, b2]), lines.data('b1', b1.ops), lines.data('b2', b2.ops), lines.complete(3));
    expect((await todos(db)).map((r) => r.id)).toEqual(['a', 's']);
    const b1b: FixtureBucket = { bucket: 'b1', ops: [...b1.ops, removeOp(4, 'todos', 'a')] };
    await feed(lines.diff(4, [b1b]), lines.data('b1', b1b.ops.slice(2), '3'), lines.complete(4));
    expect((await todos(db)).map((r) => r.id)).toEqual(['s']);
    await feed(lines.diff(5, [], ['b2']), lines.complete(5));
    expect((await todos(db)).map((r) => r.id)).toEqual(['s']);
    await feed(lines.diff(6, [], ['b1']), lines.complete(6));
    expect(await todos(db)).toEqual([]);
  });

  it('publishes the highest op of a row across buckets, whatever the order of ids, buckets and lines', async () => {
    db = await openTestDb();
    // Ids out of op order (the apply sorts by row id); every row is in both buckets, the newer op
    // in b1 for even rows and in b2 for odd ones.
    const ids = Array.from({ length: 40 }, (_, i) => `r-${String((i * 17) % 40).padStart(2, '0')}`);
    const b1: FixtureBucket = { bucket: 'b1', ops: ids.map((id, i) => putOp(i % 2 === 0 ? 100 + i : 1 + i, 'todos', id, { description: `b1 ${id}` }, `k1-${id}`)) };
    const b2: FixtureBucket = { bucket: 'b2', ops: ids.map((id, i) => putOp(i % 2 === 0 ? 1 + i + 40 : 100 + i, 'todos', id, { description: `b2 ${id}` }, `k2-${id}`)) };
    const sorted = (b: FixtureBucket): FixtureBucket => ({ bucket: b.bucket, ops: [...b.ops].sort((x, y) => Number(BigInt(x.op_id) - BigInt(y.op_id))) });
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(200, [sorted(b2), sorted(b1)]), lines.data('b2', sorted(b2).ops), lines.data('b1', sorted(b1).ops), lines.complete(200));
    const expected = ids.map((id, i) => ({ id, description: `${i % 2 === 0 ? 'b1' : 'b2'} ${id}` })).sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(await todos(db)).toEqual(expected);
  });

  it('deletes local buckets missing from the first checkpoint of a connection', async () => {
    db = await openTestDb();
    const b1: FixtureBucket = { bucket: 'old', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    await (await newSession(db)).feed(lines.checkpoint(1, [b1]), lines.data('old', b1.ops), lines.complete(1));
    const second = await newSession(db);
    expect(second.request).toEqual([{ name: 'old', after: '1' }]);
    await second.feed(lines.checkpoint(2, []), lines.complete(2));
    expect(await todos(db)).toEqual([]);
  });

  it('keeps 64-bit integers and unknown types exactly', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(1, 'todos', 'a', '{"id":"a","big":9223372036854775807,"score":1.5}'), putOp(2, 'mystery', 'm', { x: 1 })] };
    await (await newSession(db)).feed(lines.checkpoint(2, [b]), lines.data('b', b.ops), lines.complete(2));
    expect(await db.get('SELECT big, score FROM todos')).toEqual({ big: 9223372036854775807n, score: 1.5 });
    expect(await db.get('SELECT type, id FROM sl_untyped')).toEqual({ type: 'mystery', id: 'm' });
  });

  it('ignores data for buckets outside the checkpoint and a complete for another checkpoint', async () => {
    db = await openTestDb();
    const b: FixtureBucket = { bucket: 'b', ops: [putOp(1, 'todos', 'a', { description: 'A' })] };
    const { feed } = await newSession(db);
    await feed(lines.checkpoint(1, [b]), lines.data('stray', [putOp(9, 'todos', 'z', {})]), lines.data('b', b.ops), lines.complete(99));
    expect(await todos(db)).toEqual([]);
    await feed(lines.complete(1));
    expect((await todos(db)).map((r) => r.id)).toEqual(['a']);
  });

  it('asks for fresh credentials at token_expires_in ≤ 30 and closes at 0', async () => {
    db = await openTestDb();
    const { feed } = await newSession(db);
    expect(await feed(lines.tokenExpiresIn(60), lines.tokenExpiresIn(30), lines.tokenExpiresIn(0))).toEqual([
      null,
      { type: 'refresh_credentials' },
      expect.objectContaining({ type: 'close', invalidateCredentials: true }),
    ]);
  });

  it('rejects a checkpoint_diff before any checkpoint', async () => {
    db = await openTestDb();
    const { feed } = await newSession(db);
    await expect(feed(lines.diff(1, []))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });
});
