/**
 * The public Sync Streams API: `db.syncStream(name, params)` → {@link SyncStream} →
 * `subscribe({ ttl, priority })` → {@link SyncStreamSubscription}.
 *
 * @example
 * const sub = await db.syncStream('list_todos', { list: listId }).subscribe({ ttl: 3600 });
 * await sub.waitForFirstSync();
 * render(await db.getAll('SELECT * FROM todos WHERE list_id = ?', [listId]));
 * sub.unsubscribe(); // data stays for the TTL (1 h), then its buckets and rows are removed
 */
import type { SynclineDatabase } from '../db/syncline-database.ts';
import type { LiveEntry, StreamManager } from './stream-manager.ts';
import { parseParameters, subscriptionKey, validateSubscribeOptions, type StreamParameters } from './stream-key.ts';
import type { SyncStreamDescription } from './stream-status.ts';

export interface SyncStreamSubscribeOptions {
  /**
   * Seconds the subscription keeps syncing after its last handle is released (default 86 400 =
   * 24 h; `Infinity` = until `unsubscribeAll()`). With several handles the longest TTL wins.
   */
  ttl?: number;
  /** Priority override for this subscription's buckets (0 = most urgent … 3). */
  priority?: 0 | 1 | 2 | 3;
}

export class SyncStream implements SyncStreamDescription {
  readonly parameters: StreamParameters;

  /** @internal use `db.syncStream(name, params)`. */
  constructor(
    private readonly manager: StreamManager,
    private readonly db: SynclineDatabase,
    readonly name: string,
    private readonly canonicalParams: string,
  ) {
    this.parameters = parseParameters(canonicalParams);
  }

  /**
   * Subscribes (persisted: it survives restarts until it expires). While connected, a new
   * subscription reconnects at once, keeping every downloaded bucket's position.
   * Throws `INVALID_ARGUMENT` for a negative/NaN `ttl` or a priority outside 0..3.
   */
  async subscribe(options?: SyncStreamSubscribeOptions): Promise<SyncStreamSubscription> {
    const { ttlMs, priority } = validateSubscribeOptions(options);
    await this.db.ready;
    const entry = await this.manager.subscribe(this.name, this.canonicalParams, ttlMs, priority);
    return new SyncStreamSubscription(this.manager, this.db, this.name, this.canonicalParams, entry);
  }

  /** Ends the subscription for every handle now; its data goes at the next checkpoint. */
  async unsubscribeAll(): Promise<void> {
    await this.db.ready;
    await this.manager.clear(this.name, this.canonicalParams);
  }
}

export class SyncStreamSubscription implements SyncStreamDescription {
  readonly parameters: StreamParameters;
  private released = false;

  /** @internal */
  constructor(
    private readonly manager: StreamManager,
    private readonly db: SynclineDatabase,
    readonly name: string,
    private readonly canonicalParams: string,
    private readonly entry: LiveEntry,
  ) {
    this.parameters = parseParameters(canonicalParams);
  }

  /** Resolves once a checkpoint covering this subscription has been applied (now, if one ever was). */
  async waitForFirstSync(signal?: AbortSignal): Promise<void> {
    const description = { name: this.name, parameters: this.parameters };
    await this.db.waitForStatus((s) => s.forStream(description)?.subscription.hasSynced === true, signal);
  }

  /** Releases this handle (idempotent); the TTL starts when the last handle is released. */
  unsubscribe(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.released = true;
    return this.manager.release(subscriptionKey(this.name, this.canonicalParams), this.entry).catch((e: unknown) => {
      this.db.logger.warn('Could not release a stream subscription', { stream: this.name, message: String(e) });
    });
  }
}
