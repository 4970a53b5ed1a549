/**
 * Which row keys a bucket's stored ops can hold, known without asking SQLite. Storing a data line
 * first looks up the stored op of every key it touches (to supersede it); in a first download
 * almost none exists, and those lookups were ~12 % of a 1M-row download's client time. For a
 * bucket this storage watched from empty, a set of 30-bit hashes of every key it stored since
 * then answers "certainly not stored" for most keys; only keys whose hash is in the set are looked
 * up (a hash collision costs one lookup, never a missed op). Keys are added before their line
 * commits: a line rolled back leaves hashes of keys never stored, which only cost lookups.
 *
 * The set is only trusted while the bucket's row still carries the stamp this storage wrote last
 * (its checksums and the count of ops stored since the last complete apply, which every stored line
 * raises): any other writer (another tab leading for a while, a deleted and re-created bucket)
 * changes it, and the bucket is forgotten — back to looking up every key. Pure: no I/O.
 */

/**
 * A set of 30-bit integers in one typed array (open addressing, linear probing, at most half
 * full): at a million entries V8's `Set` took ~0.6 µs per add here, this 0.15–0.35 µs, and 8–16
 * bytes per key instead of ~21.
 */
export class IntSet {
  private table = new Int32Array(64);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** `value` is a 30-bit non-negative integer; stored as value + 1 so that 0 marks an empty slot. */
  has(value: number): boolean {
    const t = this.table;
    const mask = t.length - 1;
    const v = value + 1;
    for (let i = Math.imul(v, 0x9e3779b1) & mask; ; i = (i + 1) & mask) {
      const x = t[i]!;
      if (x === v) return true;
      if (x === 0) return false;
    }
  }

  add(value: number): void {
    if ((this.count + 1) * 2 > this.table.length) this.grow();
    if (IntSet.insert(this.table, value + 1)) this.count++;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2);
    for (const x of old) if (x !== 0) IntSet.insert(this.table, x);
  }

  private static insert(t: Int32Array, v: number): boolean {
    const mask = t.length - 1;
    for (let i = Math.imul(v, 0x9e3779b1) & mask; ; i = (i + 1) & mask) {
      const x = t[i]!;
      if (x === v) return false;
      if (x === 0) {
        t[i] = v;
        return true;
      }
    }
  }
}

interface Watched {
  hashes: IntSet;
  stamp: string;
  /** `hashes.size` as counted in the filter's total. */
  counted: number;
}

/** What a bucket's row says about its stored ops: checksums and ops stored since the last complete apply. */
export function bucketStamp(add: number, opSum: number, countSinceLast: number): string {
  return `${add >>> 0}:${opSum >>> 0}:${countSinceLast}`;
}

/** FNV-1a over the UTF-16 code units of `key`, cut to 30 bits (an {@link IntSet} value). */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

export class StoredKeyFilter {
  private readonly buckets = new Map<number, Watched>();
  /** Hashes counted in all watched buckets (as of each one's last {@link stored}). */
  private keys = 0;

  /** @param maxKeys beyond this many hashes in all (8–16 bytes each: 8–16 MB at the default) nothing is watched */
  constructor(private readonly maxKeys = 1_000_000) {}

  /**
   * The key hashes of `bucket` if it is watched and its row's {@link bucketStamp} is the one
   * {@link stored} recorded last; else undefined (and the bucket is forgotten). The caller adds the
   * hash of every key it is about to store — before its line commits: a set that holds more than
   * was stored only costs lookups.
   */
  known(bucket: number, stamp: string): IntSet | undefined {
    const w = this.buckets.get(bucket);
    if (!w) return undefined;
    if (w.stamp === stamp) return w.hashes;
    this.forget(bucket);
    return undefined;
  }

  /** Starts watching `bucket`, which holds no ops now. */
  watch(bucket: number): IntSet | undefined {
    if (this.keys >= this.maxKeys) return undefined;
    this.forget(bucket);
    const w: Watched = { hashes: new IntSet(), stamp: '', counted: 0 };
    this.buckets.set(bucket, w);
    return w.hashes;
  }

  /** Records the stamp a line left on a watched bucket's row (its keys are in the set already). */
  stored(bucket: number, stamp: string): void {
    const w = this.buckets.get(bucket);
    if (!w) return;
    this.keys += w.hashes.size - w.counted;
    w.counted = w.hashes.size;
    w.stamp = stamp;
    if (this.keys > this.maxKeys) this.clear();
  }

  forget(bucket: number): void {
    const w = this.buckets.get(bucket);
    if (!w) return;
    this.keys -= w.counted;
    this.buckets.delete(bucket);
  }

  clear(): void {
    this.buckets.clear();
    this.keys = 0;
  }
}
