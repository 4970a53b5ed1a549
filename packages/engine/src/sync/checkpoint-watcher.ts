/**
 * One per API process: follows the serving sync-rules version and its checkpoints through
 * LISTEN/NOTIFY on the storage database (with a slow poll as a safety net), computes once per
 * checkpoint what changed (buckets, parameter lookups, released write checkpoints) and fans the
 * result out to every connection. Connections never poll storage on their own.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { withConnectionPurpose } from '../storage/application-name.ts';
import { CHECKPOINT_CHANNEL, type CheckpointNotification } from '../storage/checkpoint-notify.ts';
import { PgBucketReader } from '../storage/pg-bucket-reader.ts';
import { getServingVersion, getVersion } from '../storage/pg-versions.ts';
import { PROCESS_STALE_SECONDS } from '../admin/cluster-view.ts';
import { getWriteCheckpointsReleasedSince, WRITE_CHECKPOINT_CHANNEL, type WriteCheckpointCursor } from '../storage/pg-write-checkpoints.ts';
import type { BucketChecksum, SyncRulesVersion } from '../storage/storage-types.ts';
import { ChecksumCache } from './checksum-cache.ts';
import { KeyBatcher } from './key-batcher.ts';
import { OpPageCache } from './op-page-cache.ts';

export interface CheckpointEvent {
  type: 'checkpoint';
  versionId: number;
  opId: bigint;
  lsn: string;
  /** Buckets with new ops since the subscriber's previous event; null = unknown (treat all as changed). */
  changedBuckets: Set<string> | null;
  changedLookups: Set<string> | null;
  /** user_key → write checkpoint released since the previous event. */
  releasedWriteCheckpoints: Map<string, bigint>;
}

export type WatcherEvent = CheckpointEvent | { type: 'version-changed'; versionId: number | null };

export interface CheckpointSubscription extends AsyncDisposable {
  /** Resolves with the next event, or 'timeout' after `timeoutMs`; null when the watcher stopped. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<WatcherEvent | 'timeout' | null>;
}

export interface ServingState {
  version: SyncRulesVersion;
  opId: bigint;
  lsn: string;
}

/** How long a report of the versions this process reads protects them from cleanup, from its side. */
const READER_REPORT_TRUSTED_MS = (PROCESS_STALE_SECONDS - 5) * 1000;

export class CheckpointWatcher {
  readonly reader: PgBucketReader;
  readonly checksums: ChecksumCache;
  /** Op pages at the current checkpoint, shared by connections asking for the same page. */
  readonly opPages: OpPageCache;
  private readonly writeCheckpoints: KeyBatcher<string, bigint>;
  private listener: pg.Client | null = null;
  private state: ServingState | null = null;
  /** Where write checkpoints were last looked at (null until the first checkpoint of a version). */
  private writeCursor: WriteCheckpointCursor | null = null;
  private readonly subscribers = new Set<Subscriber>();
  /** Open streams per version they read (see `readVersion`). */
  private readonly readers = new Map<number, number>();
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private poll: NodeJS.Timeout | null = null;
  /** The newest checkpoint announced by NOTIFY since the last refresh (see `servingVersion`). */
  private notified: { versionId: number; opId: bigint; lsn: string } | null = null;
  /** A NOTIFY since the last refresh announced an activation or could not be read: re-read the version. */
  private notifiedOther = false;
  private stopped = false;
  private readyWaiters: Array<() => void> = [];
  /** Checkpoints processed (for metrics). */
  checkpointsSeen = 0;
  /** When the versions this process reads were last reported to storage (see `readersReported`). */
  private readersReportedAt = performance.now();

  constructor(
    private readonly storageUrl: string,
    readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly pollMs = 5_000,
  ) {
    this.reader = new PgBucketReader(pool);
    this.checksums = new ChecksumCache(this.reader);
    this.opPages = new OpPageCache(this.reader, (v, buckets, cp) => this.checksums.fresh(v, buckets, cp));
    this.writeCheckpoints = new KeyBatcher((lsn, keys) => this.reader.getReleasedWriteCheckpoints(keys, lsn));
  }

  /** The write checkpoint of `userKey` released at a checkpoint with this LSN (batched across connections). */
  async releasedWriteCheckpoint(userKey: string, checkpointLsn: string): Promise<bigint | null> {
    const got = await this.writeCheckpoints.load(checkpointLsn, checkpointLsn, [userKey]);
    return got.get(userKey) ?? null;
  }

  async start(): Promise<void> {
    await this.connectListener();
    await this.refresh();
    this.poll = setInterval(() => void this.refresh(), this.pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    await this.listener?.end().catch(() => {});
    for (const s of this.subscribers) s.close();
    this.subscribers.clear();
  }

  /** The serving version and its current checkpoint (null before the first consistent checkpoint). */
  current(): ServingState | null {
    return this.state;
  }

  /** Waits until a serving version with a checkpoint exists (or the timeout passes). */
  async waitForCheckpoint(timeoutMs: number, signal?: AbortSignal): Promise<ServingState | null> {
    if (this.state) return this.state;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      signal?.addEventListener('abort', () => resolve(), { once: true });
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.state;
  }

  subscribe(): CheckpointSubscription {
    const s = new Subscriber();
    this.subscribers.add(s);
    const remove = () => this.subscribers.delete(s);
    return {
      next: (timeoutMs, signal) => s.next(timeoutMs, signal),
      [Symbol.asyncDispose]: async () => {
        remove();
        s.close();
      },
    };
  }

  /**
   * Marks a stream as reading version `versionId` until disposed. `versionsRead()` lists it
   * meanwhile (the process heartbeat reports it), so the cleanup of the version once it stops waits
   * for the stream. Call it right after reading `current()`, with no await in between.
   */
  readVersion(versionId: number): Disposable {
    this.readers.set(versionId, (this.readers.get(versionId) ?? 0) + 1);
    let done = false;
    return {
      [Symbol.dispose]: () => {
        if (done) return;
        done = true;
        const n = (this.readers.get(versionId) ?? 1) - 1;
        if (n > 0) this.readers.set(versionId, n);
        else this.readers.delete(versionId);
      },
    };
  }

  /** Versions whose op-log this process may read: the serving one and every one a stream reads. */
  versionsRead(): number[] {
    const out = new Set(this.readers.keys());
    if (this.state) out.add(this.state.version.id);
    return [...out].sort((a, b) => a - b);
  }

  /** Whether `versionId` is still the version this process serves (false once it saw another activated). */
  serves(versionId: number): boolean {
    return this.state?.version.id === versionId;
  }

  /**
   * The process heartbeat stored `versionsRead()` as it was at `at` (performance.now()). Other
   * processes count this one as a reader of those versions only while that report is fresh.
   */
  readersReported(at: number = performance.now()): void {
    this.readersReportedAt = at; // heartbeats run one at a time, so reports arrive in order
  }

  /**
   * Whether a stream may complete a checkpoint of `versionId` from the pages it read. Normally
   * `serves()`: a replaced version's op log is not deleted while this process reports reading it.
   * But once that report is older than the cleanup trusts (PROCESS_STALE_SECONDS, less a margin for
   * clocks and the write itself) — the process was frozen, or its heartbeats fail — the op log may
   * have been deleted under the stream before this process heard of the new version, so the version
   * row is read from storage: only a version still ACTIVE has all its data. Called after the reads.
   */
  confirmServes(versionId: number): boolean | Promise<boolean> {
    if (!this.serves(versionId)) return false;
    if (performance.now() - this.readersReportedAt < READER_REPORT_TRUSTED_MS) return true;
    return getVersion(this.pool, versionId).then((v) => v?.state === 'ACTIVE');
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: withConnectionPurpose(this.storageUrl, 'listen') });
    client.on('notification', (msg) => {
      if (msg.channel === CHECKPOINT_CHANNEL) this.noteCheckpoint(msg.payload);
      void this.refresh();
    });
    client.on('error', (e) => {
      this.logger.warn({ error: e.message }, 'checkpoint listener lost; reconnecting');
      this.listener = null;
      if (!this.stopped) setTimeout(() => void this.connectListener().then(() => this.refresh()).catch(() => {}), 1000);
    });
    await client.connect();
    await client.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    await client.query(`LISTEN ${WRITE_CHECKPOINT_CHANNEL}`);
    this.listener = client;
  }

  /** Re-reads the serving version and checkpoint; coalesces concurrent calls. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          await this.refreshOnce();
        } catch (e) {
          this.logger.warn({ err: e }, 'checkpoint refresh failed');
        }
      } while (this.refreshAgain && !this.stopped);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /**
   * Re-reads the serving version and checkpoint from storage now, never from a NOTIFY this process
   * has not handled yet: for a client that holds ops past this process's checkpoint (it resumes
   * from another process that is ahead).
   */
  refreshFromStorage(): Promise<void> {
    this.notifiedOther = true;
    return this.refresh();
  }

  /** Remembers the checkpoint a NOTIFY announced, so the refresh it triggers need not re-read the version. */
  private noteCheckpoint(payload: string | undefined): void {
    const n = parseNotification(payload);
    if (!n || n.activated) {
      this.notifiedOther = true;
      return;
    }
    if (!this.notified || n.opId > this.notified.opId || n.versionId !== this.notified.versionId) this.notified = n;
  }

  /**
   * The serving version at its newest checkpoint. A NOTIFY of a new checkpoint of the version this
   * process already serves carries everything needed (saving one storage round trip on the hot path
   * of every write); anything else — the first refresh, an activation, another version, the poll,
   * a write-checkpoint notification — reads the version row.
   */
  private async servingVersion(): Promise<SyncRulesVersion | null> {
    const n = this.notified;
    const other = this.notifiedOther;
    this.notified = null;
    this.notifiedOther = false;
    const cur = this.state;
    if (n && !other && cur && cur.version.id === n.versionId && n.opId >= cur.opId) {
      return { ...cur.version, lastCheckpoint: n.opId, lastCheckpointLsn: n.lsn };
    }
    return getServingVersion(this.pool);
  }

  private async refreshOnce(): Promise<void> {
    const version = await this.servingVersion();
    const prev = this.state;
    if (!version || version.lastCheckpoint === null || version.lastCheckpointLsn === null) {
      if (prev) {
        this.state = null;
        this.writeCursor = null;
        this.broadcast({ type: 'version-changed', versionId: null });
      }
      return;
    }
    if (prev && prev.version.id !== version.id) {
      this.state = null;
      this.writeCursor = null;
      this.broadcast({ type: 'version-changed', versionId: version.id });
    }
    const base = this.state;
    const opId = version.lastCheckpoint;
    const lsn = version.lastCheckpointLsn;
    // Write checkpoints are looked at on every refresh, also without a new checkpoint: a row that
    // commits after a checkpoint past its LSN was processed is released as soon as it is seen.
    const cursor = this.writeCursor;
    const writes = getWriteCheckpointsReleasedSince(this.pool, base ? cursor : null, lsn);
    if (base && base.opId === opId && base.lsn === lsn) {
      const { released, cursor: next } = await writes;
      this.writeCursor = next;
      if (released.size > 0) {
        this.broadcast({ type: 'checkpoint', versionId: version.id, opId, lsn, changedBuckets: new Set(), changedLookups: new Set(), releasedWriteCheckpoints: released });
      }
      return;
    }
    let changedBuckets: Set<string> | null = null;
    let changedLookups: Set<string> | null = null;
    let states: BucketChecksum[] = [];
    const [b, l, w] = await Promise.all([
      base && opId > base.opId ? this.reader.getChangedBuckets(version.id, base.opId) : Promise.resolve([]),
      base && opId > base.opId ? this.reader.getChangedLookups(version.id, base.opId, opId) : Promise.resolve([]),
      writes,
    ]);
    this.writeCursor = w.cursor;
    const released = base ? w.released : new Map<string, bigint>();
    if (base) {
      changedBuckets = b ? new Set(b.map((s) => s.bucket)) : null;
      changedLookups = l ? new Set(l) : null;
      // Totals of changed buckets with no op past this checkpoint are its exact checksums: seed the
      // cache so connections holding them need no query of their own.
      states = b?.filter((s) => s.lastOp <= opId) ?? [];
    }
    this.checksums.advance(version.id, opId, changedBuckets, states);
    this.opPages.advance(version.id, opId);
    this.state = { version, opId, lsn };
    this.checkpointsSeen++;
    for (const w of this.readyWaiters.splice(0)) w();
    this.broadcast({
      type: 'checkpoint',
      versionId: version.id,
      opId,
      lsn,
      changedBuckets,
      changedLookups,
      releasedWriteCheckpoints: released,
    });
  }

  private broadcast(e: WatcherEvent): void {
    for (const s of this.subscribers) s.push(e);
  }
}

function parseNotification(payload: string | undefined): { versionId: number; opId: bigint; lsn: string; activated: boolean } | null {
  try {
    const p = JSON.parse(payload ?? '') as Partial<CheckpointNotification>;
    if (typeof p.version !== 'number' || typeof p.op_id !== 'string' || !/^\d{1,20}$/.test(p.op_id) || typeof p.lsn !== 'string') return null;
    return { versionId: p.version, opId: BigInt(p.op_id), lsn: p.lsn, activated: p.activated === true };
  } catch {
    return null;
  }
}

/** Per-connection mailbox: keeps at most one pending checkpoint event, merging what changed. */
class Subscriber {
  private pending: WatcherEvent | null = null;
  private waiter: ((e: WatcherEvent | 'timeout' | null) => void) | null = null;
  private closed = false;
  /**
   * The wait's timer outlives the wait: a stream woken by a checkpoint asks again for about the same
   * deadline (its next keepalive), so the timer is kept instead of being cleared and re-armed once
   * per connection per checkpoint. `deadline` is when it fires; `expired` that it fired while no
   * one was waiting.
   */
  private timer: NodeJS.Timeout | null = null;
  private deadline = 0;
  private expired = false;
  private readonly onTimer = () => {
    this.timer = null;
    const w = this.waiter;
    this.waiter = null;
    if (w) w('timeout');
    else this.expired = true;
  };
  /** The connection's abort signal, listened to once (not once per wait: fan-out is hot). */
  private signal: AbortSignal | null = null;
  private readonly onAbort = () => {
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  };

  push(e: WatcherEvent): void {
    if (this.closed) return;
    this.pending = this.pending ? merge(this.pending, e) : e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      const p = this.pending;
      this.pending = null;
      w(p);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.signal = null;
    this.waiter?.(null);
    this.waiter = null;
  }

  next(timeoutMs: number, signal?: AbortSignal): Promise<WatcherEvent | 'timeout' | null> {
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      return Promise.resolve(p);
    }
    if (this.closed || signal?.aborted) return Promise.resolve(null);
    if (signal && signal !== this.signal) {
      this.signal?.removeEventListener('abort', this.onAbort);
      this.signal = signal;
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    const deadline = Date.now() + timeoutMs;
    // A timer due up to a second earlier than asked counts (the stream re-checks on 'timeout'); one
    // due later, or much earlier, is replaced.
    const fits = this.deadline <= deadline && this.deadline >= deadline - 1_000;
    if (this.expired) {
      this.expired = false;
      if (fits) return Promise.resolve('timeout');
    }
    if (this.timer && !fits) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.timer) {
      this.deadline = deadline;
      this.timer = setTimeout(this.onTimer, timeoutMs);
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

function merge(a: WatcherEvent, b: WatcherEvent): WatcherEvent {
  if (a.type === 'version-changed') return a;
  if (b.type === 'version-changed') return b;
  if (a.versionId !== b.versionId) return b;
  const union = (x: Set<string> | null, y: Set<string> | null) => (x === null || y === null ? null : new Set([...x, ...y]));
  const released = new Map(a.releasedWriteCheckpoints);
  for (const [k, v] of b.releasedWriteCheckpoints) released.set(k, v);
  return {
    ...b,
    changedBuckets: union(a.changedBuckets, b.changedBuckets),
    changedLookups: union(a.changedLookups, b.changedLookups),
    releasedWriteCheckpoints: released,
  };
}
