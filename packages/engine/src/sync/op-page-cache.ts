/**
 * Process-wide cache of op pages at the current checkpoint, shared by every connection. When a
 * checkpoint changes a bucket that many connections hold (a global or team bucket), each of them
 * asks for the same page — the same buckets from the same positions up to the same checkpoint —
 * and one storage query answers all of them. Pages are immutable below a checkpoint except for
 * compaction, which every stream checks for after sending (fresh checksums), exactly as with a
 * page it read itself. Bounded by total ops held; cleared when the checkpoint moves.
 *
 * A page that one bucket filled on its own (it has more ops up to the checkpoint it was read at) is
 * the same at every later checkpoint: the first `limit` ops after a position never change once a
 * checkpoint past them exists (op ids only grow; compaction keeps checksums and is checked for as
 * always). Such pages are kept across checkpoints, keyed by that bucket and position alone, and
 * serve every stream at the same position at that checkpoint or a later one — a storm of first
 * syncs reads (and encodes) each page of a large shared bucket once instead of once per client.
 *
 * That check is shared too: `verified(page)` reads the checksums of the page's buckets once, right
 * after the page was read (a cached page starts the read as soon as it arrives), so the streams
 * that sent it find the answer ready instead of each waiting for one more storage round trip.
 */
import type { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import type { BucketChecksum, StoredOp } from '../storage/storage-types.ts';

export interface OpPage {
  results: Array<{ bucket: string; ops: StoredOp[]; hasMore: boolean }>;
  resumeFrom: number;
}

/** Requests over more buckets than this are read directly (initial syncs of large bucket sets). */
const MAX_BUCKETS_PER_KEY = 32;
const MAX_CACHED_OPS = 20_000;
/** Ops held in pages kept across checkpoints (least recently used dropped first). */
const MAX_STABLE_OPS = 50_000;

interface StablePage {
  page: OpPage;
  /** Checkpoint the page was read at: it serves streams at this checkpoint or later. */
  readAt: bigint;
  ops: number;
}

export class OpPageCache {
  private checkpoint = -1n;
  private versionId = -1;
  private readonly pages = new Map<string, Promise<OpPage>>();
  private cachedOps = 0;
  /** Single-bucket full pages by `version|limit|bucket|after`, across checkpoints (insertion order = LRU order). */
  private readonly stable = new Map<string, StablePage>();
  private stableOps = 0;
  /** Reads in flight by the same key, with the checkpoint they read at. */
  private readonly flying = new Map<string, { page: Promise<OpPage>; readAt: bigint }>();
  /** The newest read of a page's checksums and when it started (see `verified`). */
  private readonly checks = new WeakMap<OpPage, { startedAt: number; sums: Promise<Map<string, BucketChecksum>> }>();
  /** Logical clock ordering page requests and checksum reads. */
  private clock = 0;
  hits = 0;
  misses = 0;
  /** Requests answered by a page kept from an earlier checkpoint. */
  stableHits = 0;

  constructor(
    private readonly reader: Pick<PgBucketReader, 'getOps'>,
    /** Reads stored checksums now, bypassing any cache (ChecksumCache.fresh). */
    private readonly freshChecksums: (versionId: number, buckets: string[], checkpoint: bigint) => Promise<Map<string, BucketChecksum>>,
  ) {}

  /** A point in the cache's order of events: take it before asking for a page, pass it to `verified`. */
  tick(): number {
    return ++this.clock;
  }

  /**
   * The stored checksums at `checkpoint` of the buckets whose data `page` completes (no `hasMore`),
   * read after the page was read and after `requestedAt` (the stream's `tick()` before it asked for
   * the page): a compaction that rewrote ops the stream should have sent shows as a checksum that
   * differs from the one announced. Every stream that asked for the page before the read started
   * shares one read — for a fan-out, all of them, and it is started as soon as the page arrives.
   */
  verified(versionId: number, page: OpPage, checkpoint: bigint, requestedAt: number): Promise<Map<string, BucketChecksum>> {
    const check = this.checks.get(page);
    if (check && check.startedAt > requestedAt) return check.sums;
    const next = { startedAt: this.tick(), sums: this.freshChecksums(versionId, completedBuckets(page), checkpoint) };
    this.checks.set(page, next);
    next.sums.catch(() => {
      if (this.checks.get(page) === next) this.checks.delete(page);
    });
    return next.sums;
  }

  /** Called by the checkpoint watcher when the serving checkpoint moves. */
  advance(versionId: number, checkpoint: bigint): void {
    if (versionId !== this.versionId) {
      this.stable.clear();
      this.stableOps = 0;
    }
    this.pages.clear();
    this.cachedOps = 0;
    this.versionId = versionId;
    this.checkpoint = checkpoint;
  }

  getOps(versionId: number, positions: Array<{ bucket: string; after: bigint }>, checkpoint: bigint, limit: number): Promise<OpPage> {
    const first = positions[0];
    const stableKey = first ? `${versionId}|${limit}|${first.bucket}|${first.after}` : '';
    const kept = first ? this.stable.get(stableKey) : undefined;
    if (kept && kept.readAt <= checkpoint) {
      this.stable.delete(stableKey);
      this.stable.set(stableKey, kept);
      this.stableHits++;
      return Promise.resolve(kept.page);
    }
    if (!first) return this.read(versionId, positions, checkpoint, limit);
    // Streams moving through a large bucket together ask for its next page at about the same time,
    // each at its own checkpoint: one read at an earlier checkpoint answers them all if it turns
    // out to be a kept page (otherwise each reads its own).
    const flying = this.flying.get(stableKey);
    if (flying && flying.readAt <= checkpoint) {
      return flying.page.then(
        (p) => {
          if (!isStable(p)) return this.read(versionId, positions, checkpoint, limit);
          this.stableHits++;
          return p;
        },
        () => this.read(versionId, positions, checkpoint, limit),
      );
    }
    const page = this.read(versionId, positions, checkpoint, limit);
    if (!flying) {
      const entry = { page, readAt: checkpoint };
      this.flying.set(stableKey, entry);
      const land = () => {
        if (this.flying.get(stableKey) === entry) this.flying.delete(stableKey);
      };
      page.then((p) => {
        land();
        if (isStable(p)) this.keep(stableKey, p, checkpoint);
      }, land);
    }
    return page;
  }

  /** Keeps a page the first bucket filled on its own (see the class comment). */
  private keep(key: string, page: OpPage, readAt: bigint): void {
    const only = page.results[0]!;
    const prev = this.stable.get(key);
    if (prev && prev.readAt <= readAt) return;
    if (prev) this.stableOps -= prev.ops;
    this.stable.delete(key);
    this.stable.set(key, { page, readAt, ops: only.ops.length });
    this.stableOps += only.ops.length;
    for (const [k, v] of this.stable) {
      if (this.stableOps <= MAX_STABLE_OPS) break;
      this.stable.delete(k);
      this.stableOps -= v.ops;
    }
  }

  private read(versionId: number, positions: Array<{ bucket: string; after: bigint }>, checkpoint: bigint, limit: number): Promise<OpPage> {
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
        // Start the shared post-read check at once: it is ready when the streams finished sending.
        if (completedBuckets(p).length > 0) this.verified(versionId, p, checkpoint, 0).catch(() => {});
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

/** A page its first bucket filled on its own: the same at every later checkpoint. */
function isStable(page: OpPage): boolean {
  return page.resumeFrom === 0 && page.results.length === 1 && page.results[0]!.hasMore;
}

/** Buckets whose data up to the checkpoint ends in this page. */
function completedBuckets(page: OpPage): string[] {
  const out: string[] = [];
  for (const r of page.results) if (!r.hasMore) out.push(r.bucket);
  return out;
}
