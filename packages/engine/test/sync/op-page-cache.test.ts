import { describe, expect, it } from 'vitest';
import { OpPageCache, type OpPage } from '../../src/sync/op-page-cache.ts';
import type { StoredOp } from '../../src/storage/storage-types.ts';

/**
 * An in-memory op-log with PgBucketReader.getOps's page semantics (bucket by bucket, up to `limit`
 * ops, `hasMore` for the bucket the page stopped in, `resumeFrom` where the next read starts).
 */
class MemoryLog {
  readonly ops = new Map<string, bigint[]>();
  reads = 0;
  /** When set, reads wait for it (to hold several requests in flight). */
  gate: Promise<void> | null = null;

  add(bucket: string, ...ids: number[]): void {
    const list = this.ops.get(bucket) ?? [];
    list.push(...ids.map(BigInt));
    this.ops.set(bucket, list);
  }

  async getOps(_v: number, positions: Array<{ bucket: string; after: bigint }>, checkpoint: bigint, limit: number): Promise<OpPage> {
    this.reads++;
    if (this.gate) await this.gate;
    const results: OpPage['results'] = [];
    let left = limit;
    for (let i = 0; i < positions.length; i++) {
      const { bucket, after } = positions[i]!;
      const ids = (this.ops.get(bucket) ?? []).filter((id) => id > after && id <= checkpoint);
      if (ids.length === 0) continue;
      const take = ids.slice(0, left);
      results.push({ bucket, ops: take.map(op), hasMore: ids.length > take.length });
      left -= take.length;
      if (left === 0) return { results, resumeFrom: ids.length > take.length ? i : i + 1 };
    }
    return { results, resumeFrom: positions.length };
  }
}

const op = (id: bigint): StoredOp => ({ opId: id, op: 'PUT', table: 't', rowId: String(id), subkey: null, checksum: Number(id), data: '{}', targetOp: null });
const noChecksums = async () => new Map();
const ids = (p: OpPage) => p.results.map((r) => [r.bucket, r.ops.map((o) => Number(o.opId)), r.hasMore]);

function setup(): { log: MemoryLog; cache: OpPageCache } {
  const log = new MemoryLog();
  log.add('g', 1, 2, 3, 4, 5, 6, 7);
  return { log, cache: new OpPageCache(log, noChecksums) };
}

describe('OpPageCache: pages one bucket filled are kept across checkpoints', () => {
  it('serves a full page at later checkpoints without a read, never at an earlier one', async () => {
    const { log, cache } = setup();
    cache.advance(1, 6n);
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 0n }], 6n, 3))).toEqual([['g', [1, 2, 3], true]]);
    expect(log.reads).toBe(1);
    log.add('g', 8, 9);
    cache.advance(1, 9n);
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 0n }, { bucket: 'h', after: 0n }], 9n, 3))).toEqual([['g', [1, 2, 3], true]]);
    expect(log.reads).toBe(1);
    expect(cache.stableHits).toBe(1);
    // A stream behind the page's checkpoint reads its own: at 2 the bucket has no more.
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 0n }], 2n, 3))).toEqual([['g', [1, 2], false]]);
    expect(log.reads).toBe(2);
  });

  it('reads the last page of a bucket again at a new checkpoint (it grows)', async () => {
    const { log, cache } = setup();
    cache.advance(1, 7n);
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 3n }], 7n, 10))).toEqual([['g', [4, 5, 6, 7], false]]);
    log.add('g', 8);
    cache.advance(1, 8n);
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 3n }], 8n, 10))).toEqual([['g', [4, 5, 6, 7, 8], false]]);
    expect(log.reads).toBe(2);
  });

  it('does not keep a page that spans buckets or where the first bucket ended', async () => {
    const { log, cache } = setup();
    log.add('h', 10, 11);
    log.add('g', 12);
    cache.advance(1, 12n);
    // g ends in the page and h fills the rest: g's part grows at later checkpoints.
    expect(ids(await cache.getOps(1, [{ bucket: 'g', after: 5n }, { bucket: 'h', after: 0n }], 12n, 4))).toEqual([
      ['g', [6, 7, 12], false],
      ['h', [10], true],
    ]);
    cache.advance(1, 13n);
    await cache.getOps(1, [{ bucket: 'g', after: 5n }, { bucket: 'h', after: 0n }], 13n, 4);
    expect(log.reads).toBe(2);
    expect(cache.stableHits).toBe(0);
  });

  it('one read in flight answers streams at later checkpoints when it fills the page; otherwise each reads its own', async () => {
    const { log, cache } = setup();
    let open!: () => void;
    log.gate = new Promise((r) => (open = r));
    cache.advance(1, 5n);
    const a = cache.getOps(1, [{ bucket: 'g', after: 0n }], 5n, 2);
    cache.advance(1, 7n);
    const b = cache.getOps(1, [{ bucket: 'g', after: 0n }], 7n, 2);
    // The last page: at 5 it is [5], at 7 it is [5, 6, 7] — the later stream must not get [5].
    const c = cache.getOps(1, [{ bucket: 'g', after: 4n }], 5n, 10);
    const d = cache.getOps(1, [{ bucket: 'g', after: 4n }], 7n, 10);
    open();
    expect(ids(await a)).toEqual([['g', [1, 2], true]]);
    expect(ids(await b)).toEqual([['g', [1, 2], true]]);
    expect(ids(await c)).toEqual([['g', [5], false]]);
    expect(ids(await d)).toEqual([['g', [5, 6, 7], false]]);
    expect(log.reads).toBe(3);
  });

  it('forgets kept pages when the serving version changes', async () => {
    const { log, cache } = setup();
    cache.advance(1, 7n);
    await cache.getOps(1, [{ bucket: 'g', after: 0n }], 7n, 3);
    cache.advance(2, 7n);
    cache.advance(1, 7n);
    await cache.getOps(1, [{ bucket: 'g', after: 0n }], 7n, 3);
    expect(log.reads).toBe(2);
  });
});
