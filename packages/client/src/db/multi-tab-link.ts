/**
 * What `SynclineDatabase` needs from an adapter that shares one database between several tabs
 * (the browser's multi-tab mode, `openWasmSqlite({ multiTab: true })`): one tab — the leader —
 * owns the SQLite connection, the sync connection and the upload loop; the others (followers)
 * run their statements on the leader's connection and mirror its sync status.
 *
 * The adapter implements the transport (Web Locks + BroadcastChannel in the browser); this file
 * only states the contract, so the database stays free of browser APIs.
 */
import { ClientErrorCodes, isSynclineError } from '../errors.ts';
import type { SyncStatus } from '../sync/sync-status.ts';

export type TabRole = 'leader' | 'follower';

export interface MultiTabEvents {
  /** Tables another tab committed changes to (never this tab's own writes). */
  changes(tables: ReadonlySet<string>): void;
  /** Followers: the leader's sync status changed. */
  status(status: SyncStatus): void;
  /** This tab became the leader: the database is now open here; start syncing. */
  promoted(): void;
  /**
   * Leader: the stream subscriptions the other tabs hold handles on changed (`subscriptionKey`s,
   * all followers together). Their rows are in the database already; request them as this tab's.
   */
  streams?(keys: ReadonlySet<string>): void;
  /**
   * Leader: a follower called `disconnectAndClear()` — stop syncing (for every tab) and clear the
   * database here, as if this tab had called it.
   */
  clearRequested?(options: ClearOptions): Promise<void>;
}

/** Options of `disconnectAndClear()`. */
export interface ClearOptions {
  /** Also delete local-only tables (default true). */
  clearLocal?: boolean;
}

export interface MultiTabLink {
  readonly role: TabRole;
  /** This tab's id (diagnostics). */
  readonly tabId: string;
  /**
   * Runs `fn` holding the one connection lock of the database across all tabs (leader: a local
   * mutex that followers' sessions also take; follower: a session on the leader). Statements
   * issued through the adapter inside `fn` run in that session. Throws `TAB_LEADER_CHANGED` when
   * the leader went away during `fn` and its work was not committed.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Leader: tell the other tabs which tables this tab's committed writes changed. */
  publishChanges(tables: ReadonlySet<string>): void;
  /** Leader: tell the other tabs the new sync status. */
  publishStatus(status: SyncStatus): void;
  /**
   * Follower: tell the leader which stream subscriptions this tab holds handles on (after a
   * change, once it is stored); repeated to every new leader.
   */
  publishStreams(keys: readonly string[]): void;
  /**
   * Follower: has the leader disconnect and clear (see {@link MultiTabEvents.clearRequested}),
   * retried on a new leader after a handover. Resolves `false` without asking when this tab is
   * the leader by then: it must clear itself.
   */
  clearOnLeader(options: ClearOptions): Promise<boolean>;
  subscribe(events: MultiTabEvents): () => void;
}

/** Attempts per call when the leader tab changes under a follower's statement (bounded). */
const LEADER_CHANGE_ATTEMPTS = 5;

/**
 * Runs `op` again when it failed with `TAB_LEADER_CHANGED` (the leader checked that nothing was
 * committed, so a re-run cannot apply a write twice). Only for operations without user
 * callbacks (`execute`, `getAll`, …); at most {@link LEADER_CHANGE_ATTEMPTS} attempts.
 */
export async function retryOnLeaderChange<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      if (attempt >= LEADER_CHANGE_ATTEMPTS || !isSynclineError(e, ClientErrorCodes.TAB_LEADER_CHANGED)) throw e;
    }
  }
}
