import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { newMoveState, planClear, planMoves, rowKey, type ScanOp } from '@syncline/engine';
import { ClientBucket, sumOf, type ModelOp } from './op-log-model.ts';

const CODES = { PUT: 1, REMOVE: 2, MOVE: 3, CLEAR: 4 } as const;

function toScan(op: ModelOp): ScanOp {
  const [t, id] = op.key ? op.key.split('/') : [null, null];
  return {
    opId: op.opId,
    op: CODES[op.op],
    tableName: t ?? null,
    rowId: id ?? null,
    sourceTable: op.key ? 1 : null,
    sourceKey: op.key ? id! : null,
    checksum: op.checksum,
    bytes: op.data?.length ?? 0,
    targetOp: op.targetOp ?? null,
  };
}

/** Compacts a model op-log up to `upTo` with the planners, in batches, like the storage shell. */
function compactModel(log: ModelOp[], upTo: bigint, scanBatch: number, clearBatch: number, maxKeys: number): ModelOp[] {
  const ops = log.map((o) => ({ ...o }));
  const byId = new Map(ops.map((o) => [o.opId, o]));
  for (let partitions = 1; ; partitions *= 4) {
    let overflowed = false;
    for (let p = 0; p < partitions; p++) {
      const state = newMoveState(maxKeys, partitions, p);
      const desc = ops.filter((o) => o.opId <= upTo && (o.op === 'PUT' || o.op === 'REMOVE')).sort((a, b) => (a.opId < b.opId ? 1 : -1));
      for (let i = 0; i < desc.length; i += scanBatch) {
        for (const m of planMoves(desc.slice(i, i + scanBatch).map(toScan), state)) {
          const o = byId.get(m.opId)!;
          Object.assign(o, { op: 'MOVE', key: null, data: null, targetOp: m.targetOp });
        }
      }
      overflowed ||= state.overflowed;
    }
    if (!overflowed) break;
  }
  let current = ops.sort((a, b) => (a.opId < b.opId ? -1 : 1));
  for (;;) {
    const head = current.filter((o) => o.opId <= upTo).slice(0, clearBatch);
    const plan = planClear(head.map(toScan), clearBatch);
    if (!plan) break;
    const gone = new Set(plan.replaced.map(String));
    current = current.filter((o) => !gone.has(String(o.opId)) || o.opId === plan.clearOpId);
    const c = current.find((o) => o.opId === plan.clearOpId)!;
    Object.assign(c, { op: 'CLEAR', key: null, data: null, checksum: plan.checksum, targetOp: plan.targetOp });
    if (!plan.mayContinue) break;
  }
  return current;
}

const opLog = fc
  .array(fc.record({ kind: fc.constantFrom('PUT', 'PUT', 'REMOVE'), row: fc.integer({ min: 0, max: 6 }), v: fc.integer({ min: 0, max: 99 }), sum: fc.nat({ max: 0xffffffff }) }), { maxLength: 60 })
  .map((xs) =>
    xs.map<ModelOp>((x, i) => ({ opId: BigInt(i + 1), op: x.kind as 'PUT' | 'REMOVE', key: `t/r${x.row}`, data: x.kind === 'PUT' ? `{"v":${x.v}}` : null, checksum: x.sum })),
  );

describe('compaction planning (pure)', () => {
  it('turns superseded ops into MOVEs targeting the newest op, and the leading run into one CLEAR', () => {
    const log: ModelOp[] = [
      { opId: 1n, op: 'PUT', key: 't/t1', data: 'a', checksum: 10 },
      { opId: 2n, op: 'PUT', key: 't/t2', data: 'b', checksum: 20 },
      { opId: 3n, op: 'REMOVE', key: 't/t1', data: null, checksum: 30 },
      { opId: 4n, op: 'PUT', key: 't/t2', data: 'c', checksum: 40 },
    ];
    const out = compactModel(log, 4n, 2, 100, 100);
    expect(out.map((o) => [String(o.opId), o.op, o.checksum, o.targetOp ?? null])).toEqual([
      ['3', 'CLEAR', 60, 4n],
      ['4', 'PUT', 40, null],
    ]);
  });

  it('leaves a lone MOVE alone and never merges a PUT into a CLEAR', () => {
    const moves = planClear([toScan({ opId: 5n, op: 'MOVE', key: null, data: null, checksum: 1 }), toScan({ opId: 6n, op: 'PUT', key: 't/a', data: 'x', checksum: 2 })], 10);
    expect(moves).toBeNull();
  });

  it('keeps the checksum and live rows of every client: from scratch, resuming at any op, across any batch sizes and memory caps', () => {
    fc.assert(
      fc.property(opLog, fc.nat(), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 8 }), (log, cut, scan, clear, maxKeys) => {
        const upTo = BigInt(log.length === 0 ? 0 : (cut % log.length) + 1);
        const compacted = compactModel(log, upTo, scan, clear, maxKeys);
        expect(sumOf(compacted)).toBe(sumOf(log));
        const fresh = new ClientBucket();
        compacted.forEach((o) => fresh.apply(o));
        const reference = new ClientBucket();
        log.forEach((o) => reference.apply(o));
        expect(fresh.live()).toEqual(reference.live());
        expect(fresh.checksum()).toBe(reference.checksum());
        // A client that had the original log up to p and then resumes on the compacted log.
        for (let p = 0; p <= log.length; p++) {
          const c = new ClientBucket();
          log.filter((o) => o.opId <= BigInt(p)).forEach((o) => c.apply(o));
          compacted.filter((o) => o.opId > BigInt(p)).forEach((o) => c.apply(o));
          expect(c.live()).toEqual(reference.live());
          expect(c.checksum()).toBe(reference.checksum());
        }
        // Everything past the checkpoint is untouched; rewritten ops point at an op ≤ the checkpoint.
        expect(compacted.filter((o) => o.opId > upTo)).toEqual(log.filter((o) => o.opId > upTo));
        for (const o of compacted) if (o.targetOp != null) expect(o.targetOp <= upTo).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('uses the row identity including the source row', () => {
    const a = rowKey({ tableName: 't', rowId: '1', sourceTable: 1, sourceKey: 'x' });
    const b = rowKey({ tableName: 't', rowId: '1', sourceTable: 2, sourceKey: 'x' });
    expect(a).not.toBe(b);
  });
});
