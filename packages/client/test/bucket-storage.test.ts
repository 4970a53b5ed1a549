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
