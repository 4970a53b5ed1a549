import fc from 'fast-check';
import { addChecksums, sumChecksums } from '@syncline/protocol';
import { describe, expect, it } from 'vitest';
import {
  applyReduction,
  bucketChecksum,
  emptyBucketState,
  reduceDataLine,
  rowKey,
  type BucketState,
  type OplogEntry,
} from '../src/sync/op-log-reduction.ts';

const put = (opId: number, id: string, checksum: number, data = `{"v":${opId}}`): OplogEntry => ({
  opId: BigInt(opId),
  op: 'PUT',
  checksum,
  objectType: 't',
  objectId: id,
  subkey: 's',
  data,
});
const remove = (opId: number, id: string, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'REMOVE', checksum, objectType: 't', objectId: id, subkey: 's' });
const move = (opId: number, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'MOVE', checksum });
const clear = (opId: number, checksum: number): OplogEntry => ({ opId: BigInt(opId), op: 'CLEAR', checksum });

/** Feeds lines through reduce + apply, looking up existing keys like the SQL storage does. */
function reduceLines(lines: readonly (readonly OplogEntry[])[], initial: BucketState = emptyBucketState(), wasEmpty = true): BucketState {
  let state = initial;
  for (const line of lines) state = applyReduction(state, reduceDataLine(line, state.ops, wasEmpty));
  return state;
}

const live = (s: BucketState): Record<string, string> => Object.fromEntries([...s.ops.values()].map((o) => [o.key, o.data]).sort());

describe('op-log reduction (table)', () => {
  it('keeps only the latest PUT per row key and counts the superseded one in add', () => {
    const s = reduceLines([[put(1, 'a', 10), put(2, 'a', 20)]]);
    expect([...s.ops.values()].map((o) => o.opId)).toEqual([2n]);
    expect(s.add).toBe(10);
    expect(s.opSum).toBe(20);
    expect(bucketChecksum(s)).toBe(30);
  });

  it('never stores a REMOVE but counts it, and a REMOVE cancels an earlier PUT of the same download', () => {
    const s = reduceLines([[put(1, 'a', 10)], [remove(2, 'a', 5)]]);
    expect(s.ops.size).toBe(0);
    expect(bucketChecksum(s)).toBe(15);
  });

  it('counts MOVE ops only in the checksum', () => {
    const s = reduceLines([[move(1, 7), put(2, 'a', 3)]]);
    expect(live(s)).toEqual({ [rowKey('t', 'a', 's')]: '{"v":2}' });
    expect(bucketChecksum(s)).toBe(10);
  });

  it('CLEAR drops everything before it and sets add to its own checksum; later ops still count', () => {
    const s = reduceLines([[put(1, 'a', 10), put(2, 'b', 20)], [put(3, 'c', 1), clear(4, 30), put(5, 'd', 2)]]);
    expect(Object.keys(live(s))).toEqual([rowKey('t', 'd', 's')]);
    expect(s.add).toBe(30);
    expect(bucketChecksum(s)).toBe(32);
  });

  it('treats different subkeys of the same row as separate ops', () => {
    const s = reduceLines([[put(1, 'a', 1), { ...put(2, 'a', 2), subkey: 'other' }]]);
    expect(s.ops.size).toBe(2);
  });

  it('marks rows for re-evaluation when a REMOVE supersedes a row of an applied bucket', () => {
    const applied = reduceLines([[put(1, 'a', 10)]]);
    const r = reduceDataLine([remove(2, 'a', 5)], applied.ops, false);
    expect(r.updatedRows).toEqual([{ rowType: 't', rowId: 'a' }]);
    expect(reduceDataLine([remove(2, 'a', 5)], applied.ops, true).updatedRows).toEqual([]);
  });

  it('wraps checksums at 2^32 (u32 arithmetic)', () => {
    const s = reduceLines([[put(1, 'a', 4294967295), put(2, 'b', 2)]]);
    expect(bucketChecksum(s)).toBe(1);
    const t = reduceLines([[put(1, 'a', 4294967295), put(2, 'a', 4294967295)]]);
    expect(bucketChecksum(t)).toBe(4294967294);
  });

  it('counts a malformed PUT (no object type) in the checksum without storing it', () => {
    const s = reduceLines([[{ opId: 1n, op: 'PUT', checksum: 9 }]]);
    expect(s.ops.size).toBe(0);
    expect(bucketChecksum(s)).toBe(9);
  });

  it('reports the last op id and the op count of a line', () => {
    const r = reduceDataLine([put(7, 'a', 1), move(9, 1)], new Map(), true);
    expect(r.lastOpId).toBe(9n);
    expect(r.count).toBe(2);
  });
});

// ---- properties ------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const opArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('PUT' as const), id: fc.constantFrom('a', 'b', 'c', 'd'), checksum: u32 }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('REMOVE' as const), id: fc.constantFrom('a', 'b', 'c', 'd'), checksum: u32 }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('MOVE' as const), id: fc.constant(''), checksum: u32 }) },
);
const historyArb = fc.array(opArb, { maxLength: 60 }).map((ops) =>
  ops.map((o, i): OplogEntry => {
    const opId = i + 1;
    if (o.kind === 'PUT') return put(opId, o.id, o.checksum);
    if (o.kind === 'REMOVE') return remove(opId, o.id, o.checksum);
    return move(opId, o.checksum);
  }),
);

/** Splits `ops` into consecutive lines at the given cut points. */
function chunk<T>(ops: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (ops.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let start = 0;
  for (const p of [...points, ops.length]) {
    if (p > start) out.push(ops.slice(start, p));
    start = Math.max(start, p);
  }
  return out;
}

/** Reference model: the latest op per key wins; live if it is a PUT. */
function model(ops: readonly OplogEntry[]): Record<string, string> {
  const last = new Map<string, OplogEntry>();
  for (const op of ops) if (op.op === 'PUT' || op.op === 'REMOVE') last.set(rowKey(op.objectType ?? '', op.objectId ?? '', op.subkey), op);
  return Object.fromEntries([...last].filter(([, op]) => op.op === 'PUT').map(([k, op]) => [k, op.data ?? '']).sort());
}

describe('op-log reduction (properties)', () => {
  it('the bucket checksum is the wrapping sum of every op, however the history is split into lines', () => {
    fc.assert(
      fc.property(historyArb, fc.array(fc.nat(), { maxLength: 8 }), (ops, cuts) => {
        const s = reduceLines(chunk(ops, cuts));
        expect(bucketChecksum(s)).toBe(sumChecksums(ops.map((o) => o.checksum)));
      }),
    );
  });

  it('line-by-line reduction equals all-at-once reduction and the latest-op model', () => {
    fc.assert(
      fc.property(historyArb, fc.array(fc.nat(), { maxLength: 8 }), (ops, cuts) => {
        const incremental = reduceLines(chunk(ops, cuts));
        const whole = reduceLines([ops]);
        expect(live(incremental)).toEqual(live(whole));
        expect(live(whole)).toEqual(model(ops));
        expect(incremental.lastOpId).toBe(whole.lastOpId);
      }),
    );
  });

  it('is invariant under compaction: superseded ops replaced by MOVEs, or a prefix by one CLEAR', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (ops, cutSeed) => {
        // MOVE compaction: every op superseded by a later op of the same key becomes a MOVE with the same checksum.
        const lastIndex = new Map<string, number>();
        ops.forEach((o, i) => {
          if (o.op === 'PUT' || o.op === 'REMOVE') lastIndex.set(rowKey(o.objectType ?? '', o.objectId ?? '', o.subkey), i);
        });
        const moved = ops.map((o, i) =>
          (o.op === 'PUT' || o.op === 'REMOVE') && lastIndex.get(rowKey(o.objectType ?? '', o.objectId ?? '', o.subkey)) !== i ? move(Number(o.opId), o.checksum) : o,
        );
        const a = reduceLines([ops]);
        const b = reduceLines([moved]);
        expect(live(b)).toEqual(live(a));
        expect(bucketChecksum(b)).toBe(bucketChecksum(a));

        // CLEAR compaction of a prefix whose PUTs are all superseded later (take the MOVE form's prefix of MOVE/REMOVE-only ops).
        let cut = 0;
        while (cut < moved.length && moved[cut]?.op !== 'PUT') cut++;
        cut = Math.min(cut, cutSeed % (moved.length + 1));
        const prefix = moved.slice(0, cut);
        const cleared = [clear(cut || 1, sumChecksums(prefix.map((o) => o.checksum))), ...moved.slice(cut)];
        const c = reduceLines([cleared]);
        expect(live(c)).toEqual(live(a));
        expect(bucketChecksum(c)).toBe(bucketChecksum(a));
      }),
    );
  });

  it('checksum arithmetic: add/subtract round-trips modulo 2^32', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        expect(addChecksums(addChecksums(a, b), -b)).toBe(a);
        expect(addChecksums(a, b)).toBe((a + b) % 2 ** 32);
      }),
    );
  });
});
