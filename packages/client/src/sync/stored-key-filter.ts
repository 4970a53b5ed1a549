/**
 * Which row keys a bucket's stored ops can hold, known without asking SQLite. Storing a data line
 * first looks up the stored op of every key it touches (to supersede it); in a first download
 * almost none exists, and those lookups were ~12 % of a 1M-row download's client time. For a
 * bucket this storage watched from empty, a set of 32-bit hashes of every key it stored since
 * then answers "certainly not stored" for most keys; only keys whose hash is in the set are looked
 * up (a hash collision costs one lookup, never a missed op).
 *
 * The set is only trusted while the bucket's row still carries the stamp this storage wrote last
 * (its checksums and the count of ops stored since the last complete apply, which every stored line
 * raises): any other writer (another tab leading for a while, a rolled-back transaction, a deleted
 * and re-created bucket) changes it, and the bucket is forgotten — back to looking up every key.
 * Pure: no I/O.
 */
interface Watched {
  hashes: Set<number>;
  stamp: string;
}

/** What a bucket's row says about its stored ops: checksums and ops stored since the last complete apply. */
export function bucketStamp(add: number, opSum: number, countSinceLast: number): string {
  return `${add >>> 0}:${opSum >>> 0}:${countSinceLast}`;
}

/**
 * FNV-1a over the UTF-16 code units of `key`, cut to 30 bits: V8 keeps such numbers unboxed (as
 * small integers), so a set of a million of them is one table, not a million heap objects.
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

export class StoredKeyFilter {
  private readonly buckets = new Map<number, Watched>();
  private keys = 0;

  /** @param maxKeys beyond this many hashes in all (~21 bytes each: ~21 MB at the default) nothing is watched */
  constructor(private readonly maxKeys = 1_000_000) {}

  /**
   * The key hashes stored for `bucket` if it is watched and its row's {@link bucketStamp} is the
   * one {@link stored} recorded last; else undefined (and the bucket is forgotten).
   */
  known(bucket: number, stamp: string): ReadonlySet<number> | undefined {
    const w = this.buckets.get(bucket);
    if (!w) return undefined;
    if (w.stamp === stamp) return w.hashes;
    this.forget(bucket);
    return undefined;
  }

  /** Starts watching `bucket`, which holds no ops now. */
  watch(bucket: number): ReadonlySet<number> | undefined {
    if (this.keys >= this.maxKeys) return undefined;
    this.forget(bucket);
    const w: Watched = { hashes: new Set(), stamp: '' };
    this.buckets.set(bucket, w);
    return w.hashes;
  }

  /** Records the keys a line stored for a watched bucket and the stamp it left on the bucket's row. */
  stored(bucket: number, keys: Iterable<string>, stamp: string): void {
    const w = this.buckets.get(bucket);
    if (!w) return;
    const before = w.hashes.size;
    for (const k of keys) w.hashes.add(keyHash(k));
    this.keys += w.hashes.size - before;
    w.stamp = stamp;
    if (this.keys > this.maxKeys) this.clear();
  }

  forget(bucket: number): void {
    const w = this.buckets.get(bucket);
    if (!w) return;
    this.keys -= w.hashes.size;
    this.buckets.delete(bucket);
  }

  clear(): void {
    this.buckets.clear();
    this.keys = 0;
  }
}
