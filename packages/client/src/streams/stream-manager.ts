/**
 * Sync Streams subscriptions of one database: ref-counted handles per (stream, canonical params),
 * persistence through {@link SubscriptionStore}, the published `syncStreams` status, the expiry
 * timer, and change notifications the sync client turns into a reconnect when the request it
 * would send now differs from the one in flight.
 */
import type { DatabaseInternals } from '../db/syncline-database.ts';
import { Mutex } from '../db/mutex.ts';
import { StreamConnection, type ConnectionHost } from './stream-connection.ts';
import { subscriptionKey } from './stream-key.ts';
import { buildStreamStatuses, statusSignature, type SubscriptionRow } from './stream-status.ts';
import { SubscriptionStore } from './subscription-store.ts';

/** setTimeout's limit; a later expiry is re-checked when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LiveEntry {
  name: string;
  params: string;
  count: number;
}

export class StreamManager implements ConnectionHost {
  readonly store: SubscriptionStore;
  /** Bumped after every change to the set of subscriptions (after it is stored). */
  generation = 0;
  private readonly live = new Map<string, LiveEntry>();
  /** Multi-tab leader: subscriptions other tabs hold handles on (see {@link setRemoteLive}). */
  private remoteLive: ReadonlySet<string> = new Set();
  private rows: SubscriptionRow[] = [];
  private connection: StreamConnection | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly publishLock = new Mutex();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private signature = '';
  private lightQueued = false;
  private closed = false;

  constructor(private readonly db: DatabaseInternals) {
    this.store = new SubscriptionStore(db);
  }

  get logger(): DatabaseInternals['logger'] {
    return this.db.logger;
  }

  /** Loads the persisted subscriptions and publishes the first `syncStreams` status. */
  async load(): Promise<void> {
    await this.refresh(true);
  }

  /** Called on every change that may alter the request (a subscription, an expiry). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private liveKeys(): Set<string> {
    const keys = new Set(this.live.keys());
    for (const k of this.remoteLive) keys.add(k);
    return keys;
  }

  /** The subscriptions this tab's own handles hold (what a multi-tab follower tells the leader). */
  heldKeys(): string[] {
    return [...this.live.keys()];
  }

  /**
   * Multi-tab leader: the subscriptions the other tabs hold now. They count as live here (kept in
   * the request, TTL extended, never expired while held), and the rows they changed are re-read.
   */
  async setRemoteLive(keys: ReadonlySet<string>): Promise<void> {
    if (this.closed) return;
    this.remoteLive = keys;
    this.generation++;
    await this.refresh(true);
    this.notify();
  }

  /** Returns the live entry the handle holds (a later `clear()` replaces it, so old handles stop counting). */
  async subscribe(name: string, params: string, ttlMs: number | null, priority: number | null): Promise<LiveEntry> {
    const key = subscriptionKey(name, params);
    const entry = this.live.get(key) ?? { name, params, count: 0 };
    entry.count++;
    this.live.set(key, entry);
    try {
      await this.store.subscribe(name, params, ttlMs, priority, Date.now(), this.liveKeys());
    } catch (e) {
      entry.count--;
      if (entry.count === 0 && this.live.get(key) === entry) this.live.delete(key);
      throw e;
    }
    this.generation++;
    await this.refresh(true);
    this.notify();
    return entry;
  }

  /** One handle let go; at zero the TTL starts (nothing is requested differently until it expires). */
  async release(key: string, held: LiveEntry): Promise<void> {
    const entry = this.live.get(key);
    if (!entry || entry !== held) return;
    entry.count--;
    if (entry.count > 0) return;
    // Store the new expiry while the entry still counts as live, so a concurrent request assembly
    // cannot see the old (possibly past) expiry of a handle-less row and end it at once.
    try {
      await this.store.release(entry.name, entry.params, Date.now());
    } finally {
      if (entry.count === 0 && this.live.get(key) === entry) this.live.delete(key);
    }
    await this.refresh(true);
    this.notify();
  }

  /** Ends the subscription now for every handle (PowerSync's `unsubscribeAll`). */
  async clear(name: string, params: string): Promise<void> {
    this.live.delete(subscriptionKey(name, params));
    await this.store.clearExplicit(name, params);
    this.generation++;
    await this.refresh(true);
    this.notify();
  }

  /**
   * The streams part of a request made now: extends live subscriptions, expires the others whose
   * TTL has run out, and returns the connection object for the session.
   */
  async assemble(includeDefaults: boolean): Promise<StreamConnection> {
    const before = this.rows.filter((r) => r.explicit).length;
    const explicit = await this.store.prepareRequest(this.liveKeys(), Date.now());
    if (explicit.length !== before) this.generation++;
    await this.refresh(true);
    return new StreamConnection(this, explicit, includeDefaults);
  }

  /** The connection whose checkpoints drive the status (undefined while disconnected). */
  attach(connection: StreamConnection | undefined): void {
    this.connection = connection;
    void this.refresh(false);
  }

  hasSubscriptions(): boolean {
    return this.rows.length > 0;
  }

  isCurrent(connection: StreamConnection): boolean {
    return this.connection === connection;
  }

  async refresh(reload: boolean): Promise<void> {
    // Progress-only refreshes (one per data batch) coalesce while one is already waiting.
    if (!reload) {
      if (this.lightQueued) return;
      this.lightQueued = true;
    }
    await this.publishLock.run(async () => {
      if (!reload) this.lightQueued = false;
      if (this.closed) return;
      if (reload) this.rows = await this.store.load();
      const statuses = buildStreamStatuses(this.rows, this.connection?.view());
      const signature = statusSignature(statuses);
      if (signature !== this.signature || this.db.status.syncStreams === undefined) {
        this.signature = signature;
        this.db.updateStatus({ syncStreams: statuses });
      }
      if (reload) this.scheduleExpiry();
    });
  }

  private scheduleExpiry(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Multi-tab: only the leader tab knows every tab's handles (setRemoteLive); a follower
    // expiring a subscription another tab holds would end it for that tab.
    if (this.db.adapter.multiTab?.role === 'follower') return;
    const live = this.liveKeys();
    let next: number | undefined;
    for (const r of this.rows) {
      if (!r.explicit || r.expiresAt === null || live.has(subscriptionKey(r.name, r.params))) continue;
      next = next === undefined ? r.expiresAt : Math.min(next, r.expiresAt);
    }
    if (next === undefined || this.closed) return;
    const delay = Math.max(0, Math.min(MAX_TIMER_MS, next - Date.now()));
    this.timer = setTimeout(() => void this.expire(), delay);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** The expiry timer fired: drop what expired and let the sync client compare requests. */
  private async expire(): Promise<void> {
    if (this.closed) return;
    try {
      const before = this.rows.filter((r) => r.explicit).length;
      const explicit = await this.store.prepareRequest(this.liveKeys(), Date.now());
      if (explicit.length !== before) this.generation++;
      await this.refresh(true);
      this.notify();
    } catch (e) {
      this.db.logger.warn('Could not expire stream subscriptions', { message: String(e) });
    }
  }

  /** After `disconnectAndClear()`: server state is gone, explicit subscriptions stay. */
  async afterClear(): Promise<void> {
    await this.db.write((a) => this.store.forgetServerState(a));
    await this.refresh(true);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.listeners.clear();
  }
}
