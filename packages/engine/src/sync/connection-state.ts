/**
 * What one sync connection knows between checkpoints (reference server §1.7), as pure state: the
 * bucket set with its subscription reasons and priorities, the checksums last announced, the
 * client's positions, the buckets whose data is still owed, and the write checkpoint last sent.
 * The I/O loop in sync-stream.ts feeds it checkpoints, checksums and op pages; it decides which
 * lines to send. No storage access here, so every rule is unit-tested without a database.
 */
import type { BucketChecksumLine, StreamDescriptionLine, SyncLine } from '@syncline/protocol';
import type { BucketDescription, StreamDescription } from '../sync-rules/types.ts';

export interface SentChecksum {
  checksum: number;
  count: number;
}

/** The part of a checkpoint event the state needs. */
export interface CheckpointView {
  opId: bigint;
  /** Buckets with new ops since the previous event; null = unknown (all may have changed). */
  changedBuckets: ReadonlySet<string> | null;
  /** Parameter lookups that changed; null = unknown. */
  changedLookups: ReadonlySet<string> | null;
}

/** The data to send for one checkpoint: buckets grouped by priority, most urgent (0) first. */
export interface DataPlan {
  lastOpId: string;
  groups: Array<{ priority: number; buckets: string[] }>;
}

export class ConnectionState {
  /** Client position per bucket (`after` of the next data line). */
  readonly positions: Map<string, bigint>;
  private buckets: Map<string, BucketDescription> | null = null;
  private lastSent: Map<string, SentChecksum> | null = null;
  private writeCheckpoint: bigint | null = null;
  /** Buckets announced but whose data up to the announced checkpoint is not sent completely yet. */
  private readonly pending = new Set<string>();
  /** Buckets whose stored checksum changed under us (compaction): re-read at the next checkpoint. */
  private readonly recheck = new Set<string>();
  private setChanged = false;

  constructor(requested: ReadonlyArray<{ name: string; after: string }> = []) {
    this.positions = new Map(requested.map((b) => [b.name, BigInt(b.after)]));
  }

  get bucketCount(): number {
    return this.buckets?.size ?? 0;
  }

  /** Whether the bucket set must be (re)resolved at this checkpoint. */
  needsResolve(cp: CheckpointView, lookups: ReadonlyArray<{ key: string }>, hasDynamic: boolean): boolean {
    if (!this.buckets) return true;
    if (!hasDynamic) return false;
    return cp.changedLookups === null || lookups.some((l) => cp.changedLookups!.has(l.key));
  }

  /** Installs a freshly resolved bucket set. */
  setBuckets(resolved: readonly BucketDescription[]): void {
    const next = new Map(resolved.map((b) => [b.bucket, b]));
    const prev = this.buckets;
    this.setChanged = !prev || next.size !== prev.size || [...next.keys()].some((b) => !prev.has(b));
    this.buckets = next;
  }

  /** Buckets whose checksums must be read at this checkpoint: all at first, then changed, new or suspect ones. */
  bucketsToCheck(cp: CheckpointView): string[] {
    const buckets = this.requireBuckets();
    const out: string[] = [];
    if (this.lastSent && !this.setChanged && cp.changedBuckets !== null && cp.changedBuckets.size + this.recheck.size < buckets.size) {
      // Same bucket set as announced last time (so every bucket is in lastSent): only changed or
      // suspect buckets — O(changed), not O(buckets held), per checkpoint.
      for (const b of cp.changedBuckets) if (buckets.has(b)) out.push(b);
      for (const b of this.recheck) if (buckets.has(b) && !cp.changedBuckets.has(b)) out.push(b);
      this.recheck.clear();
      return out;
    }
    for (const b of buckets.keys()) {
      if (!this.lastSent || !this.lastSent.has(b) || cp.changedBuckets === null || cp.changedBuckets.has(b) || this.recheck.has(b)) out.push(b);
    }
    this.recheck.clear();
    return out;
  }

  /** The write checkpoint to announce: the first line reads it from storage, later ones take released values. */
  get isFirstCheckpoint(): boolean {
    return this.lastSent === null;
  }

  mergeWriteCheckpoint(released: bigint | null | undefined): bigint | null {
    if (released === undefined || released === null) return this.writeCheckpoint;
    return this.writeCheckpoint === null || released > this.writeCheckpoint ? released : this.writeCheckpoint;
  }

  /**
   * The checkpoint line for these checksums (a full `checkpoint` first, then `checkpoint_diff`s), or
   * null when nothing a client sees changed. Records what was announced and returns the data plan.
   */
  announce(
    cp: CheckpointView,
    checked: readonly string[],
    sums: ReadonlyMap<string, SentChecksum>,
    writeCheckpoint: bigint | null,
    streams: readonly StreamDescription[],
  ): { line: SyncLine; plan: DataPlan } | null {
    const buckets = this.requireBuckets();
    const lastSent = this.lastSent;
    const lineFor = (b: string): BucketChecksumLine => {
      const d = buckets.get(b)!;
      const s = sums.get(b) ?? lastSent?.get(b) ?? { checksum: 0, count: 0 };
      return { bucket: b, checksum: s.checksum | 0, count: s.count, priority: d.priority, subscriptions: d.reasons };
    };
    const updated: BucketChecksumLine[] = [];
    for (const b of checked) {
      const prev = lastSent?.get(b);
      const s = sums.get(b) ?? { checksum: 0, count: 0 };
      if (!prev || prev.checksum !== s.checksum || prev.count !== s.count) updated.push(lineFor(b));
    }
    // With the set unchanged since the last announcement, lastSent holds exactly its buckets.
    const removed = lastSent && this.setChanged ? [...lastSent.keys()].filter((b) => !buckets.has(b)) : [];
    const wcChanged = writeCheckpoint !== this.writeCheckpoint;
    if (lastSent && updated.length === 0 && removed.length === 0 && !wcChanged && !this.setChanged) return null;

    const lastOpId = cp.opId.toString();
    let line: SyncLine;
    if (!lastSent) {
      line = {
        checkpoint: {
          last_op_id: lastOpId,
          ...(writeCheckpoint !== null ? { write_checkpoint: writeCheckpoint.toString() } : {}),
          buckets: [...buckets.keys()].map(lineFor),
          streams: streams.map(toStreamLine),
        },
      };
      for (const b of [...this.positions.keys()]) if (!buckets.has(b)) this.positions.delete(b);
    } else {
      line = {
        checkpoint_diff: {
          last_op_id: lastOpId,
          ...(writeCheckpoint !== null && wcChanged ? { write_checkpoint: writeCheckpoint.toString() } : {}),
          updated_buckets: updated,
          removed_buckets: removed,
        },
      };
      for (const b of removed) {
        this.positions.delete(b);
        this.pending.delete(b);
      }
    }
    // Updated in place: the map is private and everything above that read it is computed.
    const sent = lastSent ?? new Map<string, SentChecksum>();
    for (const b of removed) sent.delete(b);
    for (const b of checked) sent.set(b, sums.get(b) ?? { checksum: 0, count: 0 });
    const toFetch = new Set(this.pending);
    for (const l of lastSent ? updated : [...buckets.keys()]) toFetch.add(typeof l === 'string' ? l : l.bucket);
    this.lastSent = sent;
    this.writeCheckpoint = writeCheckpoint;
    this.setChanged = false;
    return { line, plan: this.planData(lastOpId, toFetch) };
  }

  private planData(lastOpId: string, toFetch: Iterable<string>): DataPlan {
    const buckets = this.requireBuckets();
    const byPriority = new Map<number, string[]>();
    for (const b of toFetch) {
      const d = buckets.get(b);
      if (!d) continue;
      this.pending.add(b);
      const list = byPriority.get(d.priority) ?? [];
      list.push(b);
      byPriority.set(d.priority, list);
    }
    const groups = [...byPriority.entries()].sort((a, b) => a[0] - b[0]).map(([priority, list]) => ({ priority, buckets: list.sort() }));
    if (groups.length === 0) groups.push({ priority: 3, buckets: [] });
    return { lastOpId, groups };
  }

  /** Start position of a bucket's next data line. */
  after(bucket: string): bigint {
    return this.positions.get(bucket) ?? 0n;
  }

  /** A data line for `bucket` up to `opId` was sent. */
  advance(bucket: string, opId: bigint): void {
    this.positions.set(bucket, opId);
  }

  /** The bucket's data up to the announced checkpoint is complete. */
  delivered(bucket: string): void {
    this.pending.delete(bucket);
  }

  /** The checksum announced for a bucket (what the client will verify). */
  announcedChecksum(bucket: string): number | undefined {
    return this.lastSent?.get(bucket)?.checksum;
  }

  /** The stored checksum changed under us: announce it again with the next checkpoint. */
  invalidate(bucket: string): void {
    this.recheck.add(bucket);
  }

  /** Every announced bucket was delivered: the checkpoint is complete. */
  completed(): void {
    this.pending.clear();
  }

  private requireBuckets(): Map<string, BucketDescription> {
    if (!this.buckets) throw new Error('ConnectionState: setBuckets() must be called before the first checkpoint');
    return this.buckets;
  }
}

function toStreamLine(s: StreamDescription): StreamDescriptionLine {
  return { name: s.name, is_default: s.isDefault, errors: s.errors.map((e) => ({ subscription: e.subscription, message: e.message })) };
}
