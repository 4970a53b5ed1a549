/**
 * Leader tab: the stream subscriptions each follower tab holds handles on (multi-tab mode). Only
 * the leader syncs, so it requests these as if its own handles held them — and extends their
 * TTL while they are held. A follower's keys are forgotten when its tab goes away: it holds its
 * tab lock for its whole life, and the registry waits on that lock (as the lease server does).
 */
import { tabLockName } from './tab-protocol.ts';

export class FollowerStreams {
  private readonly byTab = new Map<string, { keys: readonly string[]; watch: AbortController }>();
  private closed = false;

  constructor(
    private readonly filename: string,
    /** Called with the union of all followers' keys whenever it may have changed. */
    private readonly onChange: (keys: ReadonlySet<string>) => void,
  ) {}

  /** Follower `tabId` now holds exactly `keys`. */
  set(tabId: string, keys: readonly string[]): void {
    if (this.closed) return;
    const known = this.byTab.get(tabId);
    if (known) known.keys = keys;
    else {
      const watch = new AbortController();
      this.byTab.set(tabId, { keys, watch });
      // Granted once the follower's tab is gone (closed or crashed).
      navigator.locks.request(tabLockName(this.filename, tabId), { signal: watch.signal }, () => this.drop(tabId)).catch(() => undefined);
    }
    this.onChange(this.union());
  }

  private drop(tabId: string): void {
    const known = this.byTab.get(tabId);
    if (!known || this.closed) return;
    this.byTab.delete(tabId);
    if (known.keys.length > 0) this.onChange(this.union());
  }

  union(): Set<string> {
    const out = new Set<string>();
    for (const { keys } of this.byTab.values()) for (const k of keys) out.add(k);
    return out;
  }

  close(): void {
    this.closed = true;
    for (const { watch } of this.byTab.values()) watch.abort();
    this.byTab.clear();
  }
}
