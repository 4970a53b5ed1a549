/**
 * Messages between the tabs that share one database (multi-tab mode). All travel on one
 * BroadcastChannel per database file; every message names its sender (`from`), and those meant
 * for one tab name it (`to`) — the others ignore them. Values go by structured clone.
 *
 * A follower runs statements on the leader through a *lease*: `acquire` → `granted` (the leader
 * now holds its connection lock for this follower) → any number of `call` → `reply` → `release`.
 *
 * Only the leader syncs, so a follower tells it which stream subscriptions it holds (`streams`,
 * after every change and again to each new leader): the leader requests and keeps them as its own.
 * For the same reason a follower's `disconnectAndClear()` runs on the leader (`clear`/`cleared`):
 * clearing the shared database under a leader that keeps syncing would download it all again.
 */
import type { QueryResult, SqliteValue } from '../../db/sqlite-adapter.ts';
import type { WireError, WireStatus } from '../../sync/status-codec.ts';
import type { WasmVfs } from './worker-protocol.ts';

export type RemoteOp =
  | { kind: 'execute'; sql: string; params: readonly SqliteValue[] }
  | { kind: 'batch'; sql: string; paramSets: readonly (readonly SqliteValue[])[] }
  /** COMMIT, recording `marker` in `sl_tab_commits` in the same transaction (see `resolveCommit`). */
  | { kind: 'commit'; marker: string };

export type TabMessage =
  | { t: 'hello'; from: string }
  | { t: 'leader'; from: string; vfs: Exclude<WasmVfs, 'auto'>; status: WireStatus | undefined }
  | { t: 'acquire'; from: string; to: string; lease: string }
  | { t: 'granted'; from: string; to: string; lease: string }
  | { t: 'call'; from: string; to: string; lease: string; seq: number; op: RemoteOp }
  | { t: 'reply'; from: string; to: string; lease: string; seq: number; ok: true; result: QueryResult | { rowsAffected: number }; changed: string[] }
  | { t: 'reply'; from: string; to: string; lease: string; seq: number; ok: false; error: WireError }
  | { t: 'release'; from: string; to: string; lease: string }
  | { t: 'changes'; from: string; origin: string; tables: string[] }
  | { t: 'status'; from: string; status: WireStatus }
  /** Follower → leader: the stream subscriptions this tab holds handles on now (`subscriptionKey`s). */
  | { t: 'streams'; from: string; to: string; keys: string[] }
  /** Follower → leader: `disconnectAndClear()` was called there; the leader does it and answers `cleared`. */
  | { t: 'clear'; from: string; to: string; id: string; clearLocal: boolean }
  | { t: 'cleared'; from: string; to: string; id: string; error?: WireError };

/** Web Lock held by the leader: whoever holds it owns the database file. */
export const leaderLockName = (filename: string): string => `syncline-leader:${filename}`;
/** Web Lock every tab holds while it lives; the leader waits on it to notice a follower died. */
export const tabLockName = (filename: string, tabId: string): string => `syncline-tab:${filename}:${tabId}`;
export const channelName = (filename: string): string => `syncline-tabs:${filename}`;

/** Table of committed follower transactions (marker id, time in ms); rows older than an hour are dropped. */
export const COMMITS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS sl_tab_commits (id TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL)`;
export const COMMIT_MARKER_TTL_MS = 3_600_000;
