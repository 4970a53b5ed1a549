/**
 * Process-wide per-bucket checksum cache at the current checkpoint, shared by every connection.
 * The checkpoint watcher moves it forward, evicting only the buckets that changed, so a new
 * checkpoint costs O(changed buckets) instead of one checksum query per connection. Concurrent
 * requests for the same bucket share one storage query, and misses of all connections in one
 * event-loop turn are read with one query.
 */
import type { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import type { BucketChecksum } from '../storage/storage-types.ts';
import { KeyBatcher } from './key-batcher.ts';

const MAX_ENTRIES = 500_000;

export class ChecksumCache {
  private versionId = -1;
  private checkpoint = -1n;
  private readonly entries = new Map<string, BucketChecksum>();
  private readonly inflight = new Map<string, Promise<BucketChecksum>>();
  hits = 0;
  misses = 0;

  private readonly batch: KeyBatcher<{ versionId: number; checkpoint: bigint }, BucketChecksum>;

  constructor(private readonly reader: PgBucketReader) {
    this.batch = new KeyBatcher(({ versionId, checkpoint }, keys) => this.reader.getChecksums(versionId, keys, checkpoint));
  }

  /** Storage queries issued for checksums (cache misses and fresh reads). */
  get queries(): number {
    return this.batch.queries;
  }

  /**
   * Checksums read from storage now, bypassing the cache (to verify what was sent against a
   * concurrent compaction); reads of many connections in one event-loop turn share one query,
   * which always starts after the request.
   */
  async fresh(versionId: number, buckets: string[], checkpoint: bigint): Promise<Map<string, BucketChecksum>> {
    return this.load(versionId, buckets, checkpoint);
  }

  private async load(versionId: number, buckets: string[], checkpoint: bigint): Promise<Map<string, BucketChecksum>> {
    const got = await this.batch.load(`${versionId}/${checkpoint}`, { versionId, checkpoint }, buckets);
    const out = new Map<string, BucketChecksum>();
    for (const [b, v] of got) out.set(b, v ?? { bucket: b, checksum: 0, count: 0 });
    return out;
  }

  /**
   * Moves the cache to a new checkpoint; `changed` = buckets with new ops (null = unknown, clear
   * all); `known` = checksums exact at the new checkpoint, read together with `changed`.
   */
  advance(versionId: number, checkpoint: bigint, changed: Iterable<string> | null, known: Iterable<BucketChecksum> = []): void {
    if (versionId !== this.versionId || changed === null || this.entries.size > MAX_ENTRIES) {
      this.entries.clear();
    } else {
      for (const b of changed) this.entries.delete(b);
    }
    if (changed !== null) for (const s of known) this.entries.set(s.bucket, { bucket: s.bucket, checksum: s.checksum, count: s.count });
    this.inflight.clear();
    this.versionId = versionId;
    this.checkpoint = checkpoint;
  }

  async get(versionId: number, buckets: string[], checkpoint: bigint): Promise<Map<string, BucketChecksum>> {
    if (versionId !== this.versionId || checkpoint !== this.checkpoint) {
      return this.load(versionId, buckets, checkpoint);
    }
    const out = new Map<string, BucketChecksum>();
    const missing: string[] = [];
    const waits: Array<Promise<void>> = [];
    for (const b of buckets) {
      const hit = this.entries.get(b);
      if (hit) {
        out.set(b, hit);
        this.hits++;
        continue;
      }
      const pending = this.inflight.get(b);
      if (pending) waits.push(pending.then((v) => void out.set(b, v)));
      else missing.push(b);
    }
    if (missing.length > 0) {
      this.misses += missing.length;
      const query = this.load(versionId, missing, checkpoint);
      for (const b of missing) {
        const p = query.then((m) => m.get(b)!);
        this.inflight.set(b, p);
        p.catch(() => {});
      }
      const result = await query;
      const stillCurrent = versionId === this.versionId && checkpoint === this.checkpoint;
      for (const [b, v] of result) {
        out.set(b, v);
        if (stillCurrent) {
          this.entries.set(b, v);
          this.inflight.delete(b);
        }
      }
    }
    await Promise.all(waits);
    return out;
  }

  /** Drops one bucket (its stored checksum changed without a new checkpoint, e.g. by compaction). */
  evict(bucket: string): void {
    this.entries.delete(bucket);
  }

  get size(): number {
    return this.entries.size;
  }
}
