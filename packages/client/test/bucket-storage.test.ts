import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { addChecksums } from '@syncline/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SynclineDatabase } from '../src/index.ts';
import type { DatabaseInternals } from '../src/db/syncline-database.ts';
import { BucketStorage } from '../src/sync/bucket-storage.ts';
import { applyReduction, bucketChecksum, emptyBucketState, reduceDataLine, type OplogEntry } from '../src/sync/op-log-reduction.ts';
import { openTestDb } from './helpers.ts';

let db: SynclineDatabase;
let storage: BucketStorage;
beforeAll(async () => {
  db = await openTestDb();
  storage = new BucketStorage((db as unknown as { internals: DatabaseInternals }).internals);
});
afterAll(async () => {
  await db.close();
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('PUT' as const), id: fc.constantFrom('a', 'b', 'c'), sub: fc.constantFrom('s1', 's2'), checksum: u32 }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('REMOVE' as const), id: fc.constantFrom('a', 'b', 'c'), sub: fc.constantFrom('s1', 's2'), checksum: u32 }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('MOVE' as const), id: fc.constant(''), sub: fc.constant(''), checksum: u32 }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('CLEAR' as const), id: fc.constant(''), sub: fc.constant(''), checksum: u32 }) },
);
const lines = fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 });

let bucketCounter = 0;
/** An op-log row's key (type/id/subkey) rebuilt from its columns. */
const KEY = `row_type || '/' || row_id || '/' || subkey`;

/** Turns a current database back into the version-4 op log: the whole key in a `key` column. */
async function toVersion4OpLog(old: SynclineDatabase): Promise<void> {
  await old.execute(`ALTER TABLE sl_oplog RENAME COLUMN subkey TO key`);
  await old.execute(`UPDATE sl_oplog SET key = row_type || '/' || row_id || '/' || key`);
  await old.execute(`DELETE FROM sl_migrations WHERE version > 4`);
}

describe('SQL op storage matches the pure reduction', () => {
  it('stores the same live ops and checksum parts as the in-memory model, for any sequence of lines (one transaction per line or all together)', async () => {
    await fc.assert(
      fc.asyncProperty(lines, fc.boolean(), async (generated, batched) => {
        const bucket = `prop-${++bucketCounter}`;
        let opId = 0;
        let model = emptyBucketState();
        const batch: { bucket: string; ops: OplogEntry[]; byteLength: number }[] = [];
        for (const line of generated) {
          const ops: OplogEntry[] = line.map((o) => {
            opId++;
            return o.op === 'PUT' || o.op === 'REMOVE'
              ? { opId: BigInt(opId), op: o.op, checksum: o.checksum, objectType: 'todos', objectId: o.id, subkey: o.sub, data: o.op === 'PUT' ? `{"n":${opId}}` : undefined }
              : { opId: BigInt(opId), op: o.op, checksum: o.checksum };
          });
          if (batched) batch.push({ bucket, ops, byteLength: 0 });
          else await storage.storeData(bucket, ops, 0);
          model = applyReduction(model, reduceDataLine(ops, model.ops, true));
        }
        if (batched) await storage.storeDataLines(batch);
        const stored = await db.getAll<{ key: string; data: string; hash: number }>(
          `SELECT ${KEY} AS key, data, hash FROM sl_oplog WHERE bucket = (SELECT id FROM sl_buckets WHERE name = ?) ORDER BY key`,
          [bucket],
        );
        expect(stored).toEqual([...model.ops.values()].sort((x, y) => (x.key < y.key ? -1 : 1)).map((s) => ({ key: s.key, data: s.data, hash: s.hash })));
        const parts = await db.get<{ add_checksum: number; op_checksum: number; last_op: number }>(`SELECT add_checksum, op_checksum, last_op FROM sl_buckets WHERE name = ?`, [bucket]);
        expect(addChecksums(parts.add_checksum, parts.op_checksum)).toBe(bucketChecksum(model));
        expect(parts.last_op).toBe(opId);
      }),
      { numRuns: 60 },
    );
  });
});

describe('keys known without a lookup (stored-key-filter.ts)', () => {
  it('stays exact when two storages write the same bucket in turns (a leader tab, then the next, then the first again)', async () => {
    const internals = (db as unknown as { internals: DatabaseInternals }).internals;
    const writers = [new BucketStorage(internals), new BucketStorage(internals)];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.array(op, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 1 })), { minLength: 2, maxLength: 8 }), async (generated) => {
        const bucket = `turns-${++bucketCounter}`;
        let opId = 0;
        let model = emptyBucketState();
        for (const [line, writer] of generated) {
          const ops: OplogEntry[] = line.map((o) => {
            opId++;
            return o.op === 'PUT' || o.op === 'REMOVE'
              ? { opId: BigInt(opId), op: o.op, checksum: o.checksum, objectType: 'todos', objectId: o.id, subkey: o.sub, data: o.op === 'PUT' ? `{"n":${opId}}` : undefined }
              : { opId: BigInt(opId), op: o.op, checksum: o.checksum };
          });
          await writers[writer]!.storeData(bucket, ops, 0);
          model = applyReduction(model, reduceDataLine(ops, model.ops, true));
        }
        const stored = await db.getAll<{ key: string; hash: number }>(`SELECT ${KEY} AS key, hash FROM sl_oplog WHERE bucket = (SELECT id FROM sl_buckets WHERE name = ?) ORDER BY key`, [bucket]);
        expect(stored).toEqual([...model.ops.values()].sort((x, y) => (x.key < y.key ? -1 : 1)).map((s) => ({ key: s.key, hash: s.hash })));
        const parts = await db.get<{ add_checksum: number; op_checksum: number }>(`SELECT add_checksum, op_checksum FROM sl_buckets WHERE name = ?`, [bucket]);
        expect(addChecksums(parts.add_checksum, parts.op_checksum)).toBe(bucketChecksum(model));
      }),
      { numRuns: 80 },
    );
  });
});

describe('op log layout migration (internal schema 3)', () => {
  it('replaces the (bucket, key) and row indexes of a version-2 database and keeps reducing its stored ops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-oplog-migration-'));
    try {
      const path = join(dir, 'v2.db');
      const put = (opId: number, id: string, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'PUT', checksum, objectType: 'todos', objectId: id, subkey: 's', data: `{"n":${opId}}` });
      const old = await openTestDb(path);
      await new BucketStorage((old as unknown as { internals: DatabaseInternals }).internals).storeData('b', [put(1, 'a', 10), put(2, 'b', 20)], 0);
      // Back to the version-2 layout, as a database written before this migration has it.
      await toVersion4OpLog(old);
      await old.execute(`DROP INDEX sl_oplog_by_row_bucket`);
      await old.execute(`CREATE UNIQUE INDEX sl_oplog_by_key ON sl_oplog (bucket, key)`);
      await old.execute(`CREATE INDEX sl_oplog_by_row ON sl_oplog (row_type, row_id, op_id)`);
      await old.execute(`DELETE FROM sl_migrations WHERE version > 2`);
      await old.close();

      const migrated = await openTestDb(path);
      expect(await migrated.getAll(`SELECT version FROM sl_migrations ORDER BY version`)).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
      expect(await migrated.getAll(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sl_oplog' ORDER BY name`)).toEqual([
        { name: 'sl_oplog_by_op' },
        { name: 'sl_oplog_by_row_bucket' },
      ]);
      // The stored PUT of 'a' is found through the new index: superseded (not duplicated) by op 3.
      await new BucketStorage((migrated as unknown as { internals: DatabaseInternals }).internals).storeData('b', [put(3, 'a', 30)], 0);
      expect(await migrated.getAll(`SELECT row_id, op_id, hash FROM sl_oplog ORDER BY row_id`)).toEqual([
        { row_id: 'a', op_id: 3, hash: 30 },
        { row_id: 'b', op_id: 2, hash: 20 },
      ]);
      const parts = await migrated.get<{ add_checksum: number; op_checksum: number }>(`SELECT add_checksum, op_checksum FROM sl_buckets WHERE name = 'b'`);
      expect(addChecksums(parts.add_checksum, parts.op_checksum)).toBe(10 + 20 + 30);
      await migrated.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('op log index without the key (internal schema 4)', () => {
  it('replaces the (row_type, row_id, bucket, key, op_id) index of a version-3 database; stored ops are still found, superseded and removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-oplog-migration-4-'));
    try {
      const path = join(dir, 'v3.db');
      const put = (opId: number, id: string, subkey: string, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'PUT', checksum, objectType: 'todos', objectId: id, subkey, data: `{"n":${opId}}` });
      const old = await openTestDb(path);
      const oldStorage = new BucketStorage((old as unknown as { internals: DatabaseInternals }).internals);
      await oldStorage.storeData('b', [put(1, 'a', 's1', 10), put(2, 'a', 's2', 20), put(3, 'c', 's1', 40)], 0);
      await oldStorage.storeData('other', [put(4, 'a', 's1', 50)], 0);
      // Back to the version-3 layout.
      await toVersion4OpLog(old);
      await old.execute(`DROP INDEX sl_oplog_by_row_bucket`);
      await old.execute(`CREATE INDEX sl_oplog_by_row_key ON sl_oplog (row_type, row_id, bucket, key, op_id)`);
      await old.execute(`DELETE FROM sl_migrations WHERE version > 3`);
      await old.close();

      const migrated = await openTestDb(path);
      expect(await migrated.getAll(`SELECT max(version) AS v FROM sl_migrations`)).toEqual([{ v: 5 }]);
      expect(await migrated.getAll(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sl_oplog' ORDER BY name`)).toEqual([
        { name: 'sl_oplog_by_op' },
        { name: 'sl_oplog_by_row_bucket' },
      ]);
      // Same row, two subkeys, and the same key in another bucket: only (b, a/s1) is superseded,
      // (b, c/s1) is removed.
      const storage = new BucketStorage((migrated as unknown as { internals: DatabaseInternals }).internals);
      await storage.storeData('b', [put(5, 'a', 's1', 60), { opId: 6n, op: 'REMOVE', checksum: 70, objectType: 'todos', objectId: 'c', subkey: 's1' }], 0);
      expect(await migrated.getAll(`SELECT b.name, ${KEY} AS key, o.op_id FROM sl_oplog o JOIN sl_buckets b ON b.id = o.bucket ORDER BY b.name, key`)).toEqual([
        { name: 'b', key: 'todos/a/s1', op_id: 5 },
        { name: 'b', key: 'todos/a/s2', op_id: 2 },
        { name: 'other', key: 'todos/a/s1', op_id: 4 },
      ]);
      const parts = await migrated.get<{ add_checksum: number; op_checksum: number }>(`SELECT add_checksum, op_checksum FROM sl_buckets WHERE name = 'b'`);
      expect(addChecksums(parts.add_checksum, parts.op_checksum)).toBe(10 + 20 + 40 + 60 + 70);
      await migrated.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('op log stores the subkey, not the whole key (internal schema 5)', () => {
  it('cuts the keys of a version-4 database down to their subkeys; its stored ops are still found, superseded and removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-oplog-migration-5-'));
    try {
      const path = join(dir, 'v4.db');
      const old = await openTestDb(path);
      await toVersion4OpLog(old);
      // Rows as version 4 wrote them: the key repeats type and id; ids and subkeys with slashes,
      // non-ASCII characters and a missing subkey ('null').
      const rows: [string, number, string, string, string, number][] = [
        ['b', 1, 'todos', 'a', 'todos/a/s1', 10],
        ['b', 2, 'todos', 'a/b', 'todos/a/b/x/y', 20],
        ['b', 3, 'todos', 'é€😀', 'todos/é€😀/ü', 40],
        ['b', 4, 'lists', 'l', 'lists/l/null', 80],
        ['other', 5, 'todos', 'a', 'todos/a/s1', 160],
      ];
      for (const [bucket, opId, type, id, key, hash] of rows) {
        await old.execute(`INSERT INTO sl_buckets (name, op_checksum, last_op) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET op_checksum = op_checksum + excluded.op_checksum, last_op = excluded.last_op`, [bucket, hash, opId]);
        await old.execute(`INSERT INTO sl_oplog (bucket, op_id, row_type, row_id, key, data, hash) VALUES ((SELECT id FROM sl_buckets WHERE name = ?), ?, ?, ?, ?, ?, ?)`, [bucket, opId, type, id, key, `{"n":${opId}}`, hash]);
      }
      expect(await old.getAll(`SELECT max(version) AS v FROM sl_migrations`)).toEqual([{ v: 4 }]);
      await old.close();

      const migrated = await openTestDb(path);
      expect(await migrated.getAll(`SELECT max(version) AS v FROM sl_migrations`)).toEqual([{ v: 5 }]);
      expect((await migrated.getAll<{ name: string }>(`SELECT name FROM pragma_table_info('sl_oplog') ORDER BY cid`)).map((c) => c.name)).toEqual([
        'bucket', 'op_id', 'row_type', 'row_id', 'subkey', 'data', 'hash',
      ]);
      expect(await migrated.getAll(`SELECT op_id, subkey FROM sl_oplog ORDER BY op_id`)).toEqual([
        { op_id: 1, subkey: 's1' },
        { op_id: 2, subkey: 'x/y' },
        { op_id: 3, subkey: 'ü' },
        { op_id: 4, subkey: 'null' },
        { op_id: 5, subkey: 's1' },
      ]);
      const storage = new BucketStorage((migrated as unknown as { internals: DatabaseInternals }).internals);
      const put = (opId: number, type: string, id: string, subkey: string | undefined, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'PUT', checksum, objectType: type, objectId: id, subkey, data: `{"n":${opId}}` });
      const remove = (opId: number, type: string, id: string, subkey: string | undefined, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'REMOVE', checksum, objectType: type, objectId: id, subkey });
      await storage.storeData('b', [put(6, 'todos', 'a', 's1', 320), put(7, 'todos', 'a/b', 'x/y', 640), remove(8, 'todos', 'é€😀', 'ü', 1280), remove(9, 'lists', 'l', undefined, 2560)], 0);
      expect(await migrated.getAll(`SELECT b.name, ${KEY} AS key, o.op_id FROM sl_oplog o JOIN sl_buckets b ON b.id = o.bucket ORDER BY b.name, key`)).toEqual([
        { name: 'b', key: 'todos/a/b/x/y', op_id: 7 },
        { name: 'b', key: 'todos/a/s1', op_id: 6 },
        { name: 'other', key: 'todos/a/s1', op_id: 5 },
      ]);
      const parts = await migrated.get<{ add_checksum: number; op_checksum: number }>(`SELECT add_checksum, op_checksum FROM sl_buckets WHERE name = 'b'`);
      expect(addChecksums(parts.add_checksum, parts.op_checksum)).toBe(10 + 20 + 40 + 80 + 320 + 640 + 1280 + 2560);
      await migrated.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
