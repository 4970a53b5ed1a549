/**
 * The public sync status: a plain immutable snapshot, replaced (never mutated) on every change.
 *
 * @example
 * db.onStatusChanged((s) => renderBadge(s.connected, s.downloadProgress?.downloadedFraction));
 * if (statusForPriority(db.currentStatus, 1).hasSynced) { … }
 */
import { FULL_SYNC_PRIORITY } from '../schema/internal-schema.ts';
import { findStreamStatus, type SyncStreamDescription, type SyncStreamStatus } from '../streams/stream-status.ts';

export interface PriorityStatus {
  /** Priority number (0 = highest); {@link FULL_SYNC_PRIORITY} for a complete sync. */
  priority: number;
  lastSyncedAt: Date | undefined;
  hasSynced: boolean;
}

export interface DownloadProgress {
  downloadedOperations: number;
  totalOperations: number;
  /** 0..1; 1 when nothing is left to download. */
  downloadedFraction: number;
  /** Progress counting only buckets with priority number ≤ `priority`. */
  untilPriority(priority: number): Omit<DownloadProgress, 'untilPriority'>;
}

export interface SyncStatus {
  connected: boolean;
  connecting: boolean;
  /** A checkpoint is being downloaded and has not been applied yet. */
  downloading: boolean;
  /** The upload loop is sending queued writes. */
  uploading: boolean;
  downloadProgress: DownloadProgress | null;
  /** Time of the last applied complete checkpoint (persisted: known after a restart). */
  lastSyncedAt: Date | undefined;
  /** A complete checkpoint has been applied at least once (`undefined` until the database is open). */
  hasSynced: boolean | undefined;
  /** Sorted by priority number; a complete sync is recorded as {@link FULL_SYNC_PRIORITY}. */
  priorityStatusEntries: readonly PriorityStatus[];
  /** Last download-side error; cleared when a checkpoint is applied. */
  downloadError: Error | undefined;
  /** Last upload error; cleared after a successful upload. */
  uploadError: Error | undefined;
  /**
   * Every tracked Sync Streams subscription (explicit ones and the defaults the server reported),
   * in creation order; `undefined` until the database is open.
   */
  syncStreams: readonly SyncStreamStatus[] | undefined;
  /** Transport of the current (or last) sync stream; `undefined` before the first one opened. */
  transport: 'websocket' | 'http' | undefined;
  /** Why the last attempt fell back from WebSocket to HTTP (`undefined` when it did not). */
  transportFallback: string | undefined;
  /** The status of one subscription; parameters are compared as canonical JSON (key order does not matter). */
  forStream(description: SyncStreamDescription): SyncStreamStatus | undefined;
}

function forStream(this: SyncStatus, description: SyncStreamDescription): SyncStreamStatus | undefined {
  return findStreamStatus(this.syncStreams, description);
}

export const INITIAL_STATUS: SyncStatus = Object.freeze({
  connected: false,
  connecting: false,
  downloading: false,
  uploading: false,
  downloadProgress: null,
  lastSyncedAt: undefined,
  hasSynced: undefined,
  priorityStatusEntries: [],
  downloadError: undefined,
  uploadError: undefined,
  syncStreams: undefined,
  transport: undefined,
  transportFallback: undefined,
  forStream,
});

/** Sync state for one priority: a sync at a lower number (or a complete sync) implies it. */
export function statusForPriority(status: SyncStatus, priority: number): PriorityStatus {
  for (const entry of status.priorityStatusEntries) {
    if (entry.priority >= priority) return entry;
  }
  return { priority, lastSyncedAt: undefined, hasSynced: false };
}

/** Status entries after an apply at `priority`: it subsumes every entry with a smaller number. */
export function withPriorityApplied(entries: readonly PriorityStatus[], priority: number, at: Date): PriorityStatus[] {
  const kept = priority === FULL_SYNC_PRIORITY ? [] : entries.filter((e) => e.priority > priority);
  return [{ priority, lastSyncedAt: at, hasSynced: true }, ...kept].sort((a, b) => a.priority - b.priority);
}

function sameError(a: Error | undefined, b: Error | undefined): boolean {
  return a === b || (a?.message === b?.message && a?.name === b?.name);
}

/** True when two snapshots differ in anything a listener can observe. */
export function statusChanged(a: SyncStatus, b: SyncStatus): boolean {
  return (
    a.connected !== b.connected ||
    a.connecting !== b.connecting ||
    a.downloading !== b.downloading ||
    a.uploading !== b.uploading ||
    a.hasSynced !== b.hasSynced ||
    a.lastSyncedAt?.getTime() !== b.lastSyncedAt?.getTime() ||
    a.downloadProgress?.downloadedOperations !== b.downloadProgress?.downloadedOperations ||
    a.downloadProgress?.totalOperations !== b.downloadProgress?.totalOperations ||
    a.priorityStatusEntries.length !== b.priorityStatusEntries.length ||
    a.priorityStatusEntries.some((e, i) => e.priority !== b.priorityStatusEntries[i]?.priority || e.lastSyncedAt?.getTime() !== b.priorityStatusEntries[i]?.lastSyncedAt?.getTime()) ||
    !sameError(a.downloadError, b.downloadError) ||
    !sameError(a.uploadError, b.uploadError) ||
    a.syncStreams !== b.syncStreams ||
    a.transport !== b.transport ||
    a.transportFallback !== b.transportFallback
  );
}
