/**
 * The two ways a checkpoint's changed ops reach the data tables (bucket-storage.ts: walking the
 * row index when most ops changed, sorting the changed ops otherwise) publish the same rows: for
 * any sequence of data lines, partial (priority) and complete applies and bucket deletions, the
 * data tables of three databases — plan chosen per apply, always walk, always sort — are equal, and
 * after every complete apply each synced row is its op with the highest op_id across buckets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addChecksums } from '@syncline/protocol';
import type { SynclineDatabase } from '../src/index.ts';
import type { DatabaseInternals } from '../src/db/syncline-database.ts';
import { BucketStorage, type ApplyPlan } from '../src/sync/bucket-storage.ts';
import type { OplogEntry } from '../src/sync/op-log-reduction.ts';
import type { BucketChecksum } from '../src/sync/sync-lines.ts';
import { openTestDb } from './helpers.ts';

const PRIORITY: Record<string, number> = { b1: 1, b2: 3, b3: 3 };
const step = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('line' as const),
      bucket: fc.constantFrom('b1', 'b2', 'b3'),
      // todos is a synced table; things has no table (sl_untyped).
      ops: fc.array(fc.record({ op: fc.constantFrom('PUT', 'PUT', 'PUT', 'REMOVE'), type: fc.constantFrom('todos', 'todos', 'things'), id: fc.constantFrom('a', 'b', 'c', 'd'), sub: fc.constantFrom('s1', 's2') }), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('apply' as const), priority: fc.constantFrom(null, null, 1, 3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), bucket: fc.constantFrom('b1', 'b2', 'b3') }) },
);

interface Replica {
  db: SynclineDatabase;
  storage: BucketStorage;
}

async function replica(plan: ApplyPlan): Promise<Replica> {
  const db = await openTestDb();
  return { db, storage: new BucketStorage((db as unknown as { internals: DatabaseInternals }).internals, plan) };
}

/** The checkpoint a server would send for what is stored: every bucket with its stored checksum. */
async function checkpointOf(db: SynclineDatabase, lastOpId: bigint): Promise<Map<string, BucketChecksum>> {
  const rows = await db.getAll<{ name: string; add_checksum: number; op_checksum: number }>(`SELECT name, add_checksum, op_checksum FROM sl_buckets`);
  return new Map(rows.map((r) => [r.name, { bucket: r.name, checksum: addChecksums(r.add_checksum, r.op_checksum), count: undefined, priority: PRIORITY[r.name]!, subscriptions: [] }]));
}

const published = (db: SynclineDatabase) =>
  db.getAll(`SELECT 'todos' AS type, id, data FROM sl_data__todos UNION ALL SELECT type, id, data FROM sl_untyped ORDER BY type, id`);
/** Each row's op with the highest op_id across buckets: what a complete apply must publish. */
const winners = (db: SynclineDatabase) =>
  db.getAll(
    `SELECT row_type AS type, row_id AS id, data FROM sl_oplog o WHERE NOT EXISTS (SELECT 1 FROM sl_oplog o2 WHERE o2.row_type = o.row_type AND o2.row_id = o.row_id AND o2.op_id > o.op_id) ORDER BY type, id`,
  );

describe('apply plans', () => {
  it('walking the row index and sorting the changed ops publish the same rows for any lines and applies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const replicas = [await replica('auto'), await replica('walk-rows'), await replica('sort-changed')];
        try {
          let opId = 0n;
          for (const s of steps) {
            if (s.kind === 'line') {
              const ops: OplogEntry[] = s.ops.map((o) => {
                opId++;
                return o.op === 'PUT'
                  ? { opId, op: 'PUT', checksum: Number(opId) * 7, objectType: o.type, objectId: o.id, subkey: o.sub, data: JSON.stringify({ description: `${s.bucket}@${opId}` }) }
                  : { opId, op: 'REMOVE', checksum: Number(opId) * 7, objectType: o.type, objectId: o.id, subkey: o.sub };
              });
              for (const r of replicas) await r.storage.storeData(s.bucket, ops, 0);
            } else if (s.kind === 'delete') {
              for (const r of replicas) await r.storage.deleteBuckets([s.bucket]);
            } else {
              for (const r of replicas) {
                const result = await r.storage.syncLocal({ lastOpId: opId, writeCheckpoint: null, buckets: await checkpointOf(r.db, opId) }, s.priority);
                expect(result.status).toBe('applied');
                if (s.priority === null) expect(await published(r.db)).toEqual(await winners(r.db));
              }
            }
            const [auto, ...others] = await Promise.all(replicas.map((r) => published(r.db)));
            for (const other of others) expect(other).toEqual(auto);
          }
        } finally {
          for (const r of replicas) await r.db.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
