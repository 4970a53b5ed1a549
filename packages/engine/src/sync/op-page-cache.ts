/**
 * Process-wide cache of op pages at the current checkpoint, shared by every connection. When a
 * checkpoint changes a bucket that many connections hold (a global or team bucket), each of them
 * asks for the same page — the same buckets from the same positions up to the same checkpoint —
 * and one storage query answers all of them. Pages are immutable below a checkpoint except for
 * compaction, which every stream checks for after sending (fresh checksums), exactly as with a
 * page it read itself. Bounded by total ops held; cleared when the checkpoint moves.
 */
import type { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import type { StoredOp } from '../storage/storage-types.ts';

export interface OpPage {
  results: Array<{ bucket: string; ops: StoredOp[]; hasMore: boolean }>;
  resumeFrom: number;
}

/** Requests over more buckets than this are read directly (initial syncs of large bucket sets). */
const MAX_BUCKETS_PER_KEY = 32;
const MAX_CACHED_OPS = 20_000;

export class OpPageCache {
  private checkpoint = -1n;
  private versionId = -1;
  private readonly pages = new Map<string, Promise<OpPage>>();
  private cachedOps = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly reader: PgBucketReader) {}

  /** Called by the checkpoint watcher when the serving checkpoint moves. */
  advance(versionId: number, checkpoint: bigint): void {
    this.pages.clear();
    this.cachedOps = 0;
    this.versionId = versionId;
    this.checkpoint = checkpoint;
  }

  getOps(versionId: number, positions: Array<{ bucket: string; after: bigint }>, checkpoint: bigint, limit: number): Promise<OpPage> {
    if (versionId !== this.versionId || checkpoint !== this.checkpoint || positions.length > MAX_BUCKETS_PER_KEY) {
      return this.reader.getOps(versionId, positions, checkpoint, limit);
    }
    let key = `${limit}`;
    for (const p of positions) key += `|${p.bucket}|${p.after}`;
    const cached = this.pages.get(key);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const page = this.reader.getOps(versionId, positions, checkpoint, limit);
    if (this.cachedOps >= MAX_CACHED_OPS) return page;
    this.pages.set(key, page);
    page.then(
      (p) => {
        if (this.pages.get(key) !== page) return;
        for (const r of p.results) this.cachedOps += r.ops.length;
      },
      () => {
        if (this.pages.get(key) === page) this.pages.delete(key);
      },
    );
    return page;
  }

  get size(): number {
    return this.pages.size;
  }
}
