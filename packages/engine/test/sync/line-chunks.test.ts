/**
 * Data lines of ordinary rows stay below V8's large-object size (128 KB of JSON) whatever their sizes, and
 * every connection at the same position gets the same line arrays (so a line is encoded once).
 */
import { describe, expect, it } from 'vitest';
import { DATA_LINE_BYTES, lineChunks } from '../../src/sync/sync-stream.ts';
import type { StoredOp } from '../../src/storage/storage-types.ts';

function page(n: number, dataBytes: (i: number) => number, first = 1): StoredOp[] {
  return Array.from({ length: n }, (_, i) => ({
    opId: BigInt(first + i),
    op: 'PUT' as const,
    table: 'todos',
    rowId: `${123456789 + i}`,
    subkey: 'b5a3f6c1-1f0e-4c1e-9f57-8d8f3d9a0e2b',
    checksum: 4_000_000_000 - i,
    data: JSON.stringify({ id: `${123456789 + i}`, description: 'ordinary text, é '.repeat(Math.max(0, dataBytes(i) - 40) / 16), done: 0 }),
    targetOp: null,
  }));
}

/** The JSON of a data line's ops as a client receives them. */
function lineJson(ops: StoredOp[]): number {
  return JSON.stringify(ops.map((o) => ({ op_id: o.opId.toString(), op: o.op, object_type: o.table, object_id: o.rowId, subkey: o.subkey, data: o.data, checksum: o.checksum }))).length;
}

describe('data lines of a page', () => {
  it('are below 128 KB of JSON for small, mixed and large rows, and keep every op in order', () => {
    for (const ops of [page(1000, () => 150), page(1000, (i) => (i % 7 === 0 ? 2000 : 100)), page(300, () => 5000)]) {
      const chunks = lineChunks(ops, DATA_LINE_BYTES);
      expect(chunks.flat()).toEqual(ops);
      for (const c of chunks) expect(lineJson(c)).toBeLessThan(128 * 1024);
      expect(chunks.length).toBeGreaterThan(1);
    }
  });

  it('puts a row larger than the budget on a line of its own, and a small page on one line', () => {
    const ops = page(3, (i) => (i === 1 ? 300_000 : 100));
    expect(lineChunks(ops, DATA_LINE_BYTES).map((c) => c.map((o) => o.opId))).toEqual([[1n, 2n], [3n]]);
    const small = page(10, () => 100);
    expect(lineChunks(small, DATA_LINE_BYTES)).toEqual([small]);
    expect(lineChunks(small, DATA_LINE_BYTES)[0]).toBe(small);
    expect(lineChunks([], DATA_LINE_BYTES)).toEqual([[]]);
  });

  it('hands every stream at the same page the same line arrays', () => {
    const ops = page(1000, () => 150);
    const a = lineChunks(ops, DATA_LINE_BYTES);
    const b = lineChunks(ops, DATA_LINE_BYTES);
    expect(b).toBe(a);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBe(a[i]);
    // Another budget is another cut.
    expect(lineChunks(ops, 1_000_000)).toEqual([ops]);
  });
});
