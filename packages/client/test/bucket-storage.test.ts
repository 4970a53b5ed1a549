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
          `SELECT key, data, hash FROM sl_oplog WHERE bucket = (SELECT id FROM sl_buckets WHERE name = ?) ORDER BY key`,
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

describe('op log layout migration (internal schema 3)', () => {
  it('replaces the (bucket, key) and row indexes of a version-2 database and keeps reducing its stored ops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncline-oplog-migration-'));
    try {
      const path = join(dir, 'v2.db');
      const put = (opId: number, id: string, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'PUT', checksum, objectType: 'todos', objectId: id, subkey: 's', data: `{"n":${opId}}` });
      const old = await openTestDb(path);
      await new BucketStorage((old as unknown as { internals: DatabaseInternals }).internals).storeData('b', [put(1, 'a', 10), put(2, 'b', 20)], 0);
      // Back to the version-2 layout, as a database written before this migration has it.
      await old.execute(`DROP INDEX sl_oplog_by_row_bucket`);
      await old.execute(`CREATE UNIQUE INDEX sl_oplog_by_key ON sl_oplog (bucket, key)`);
      await old.execute(`CREATE INDEX sl_oplog_by_row ON sl_oplog (row_type, row_id, op_id)`);
      await old.execute(`DELETE FROM sl_migrations WHERE version > 2`);
      await old.close();

      const migrated = await openTestDb(path);
      expect(await migrated.getAll(`SELECT version FROM sl_migrations ORDER BY version`)).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);
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
      await old.execute(`DROP INDEX sl_oplog_by_row_bucket`);
      await old.execute(`CREATE INDEX sl_oplog_by_row_key ON sl_oplog (row_type, row_id, bucket, key, op_id)`);
      await old.execute(`DELETE FROM sl_migrations WHERE version > 3`);
      await old.close();

      const migrated = await openTestDb(path);
      expect(await migrated.getAll(`SELECT max(version) AS v FROM sl_migrations`)).toEqual([{ v: 4 }]);
      expect(await migrated.getAll(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sl_oplog' ORDER BY name`)).toEqual([
        { name: 'sl_oplog_by_op' },
        { name: 'sl_oplog_by_row_bucket' },
      ]);
      // Same row, two subkeys, and the same key in another bucket: only (b, a/s1) is superseded,
      // (b, c/s1) is removed.
      const storage = new BucketStorage((migrated as unknown as { internals: DatabaseInternals }).internals);
      await storage.storeData('b', [put(5, 'a', 's1', 60), { opId: 6n, op: 'REMOVE', checksum: 70, objectType: 'todos', objectId: 'c', subkey: 's1' }], 0);
      expect(await migrated.getAll(`SELECT b.name, o.key, o.op_id FROM sl_oplog o JOIN sl_buckets b ON b.id = o.bucket ORDER BY b.name, o.key`)).toEqual([
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
