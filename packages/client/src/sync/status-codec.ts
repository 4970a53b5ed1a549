/**
 * Sync status across tabs: the leader tab posts its status to the followers (BroadcastChannel,
 * structured clone). A `SyncStatus` carries functions (`forStream`, `untilPriority`) and errors
 * whose `code` a structured clone would drop, so it travels as this plain shape and is rebuilt
 * on the other side. Pure functions; no I/O.
 */
import { SynclineError, type ClientErrorCode } from '../errors.ts';
import { INITIAL_STATUS, type DownloadProgress, type SyncStatus } from './sync-status.ts';

type ProgressSummary = Omit<DownloadProgress, 'untilPriority'>;

export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export interface WireStatus extends Omit<SyncStatus, 'forStream' | 'downloadProgress' | 'downloadError' | 'uploadError'> {
  downloadProgress: (ProgressSummary & { byPriority: [number, ProgressSummary][] }) | null;
  downloadError: WireError | undefined;
  uploadError: WireError | undefined;
}

/** Bucket priorities of the sync protocol; `untilPriority` is sent for each. */
const PRIORITIES = [0, 1, 2, 3] as const;

function summary(p: ProgressSummary): ProgressSummary {
  return { downloadedOperations: p.downloadedOperations, totalOperations: p.totalOperations, downloadedFraction: p.downloadedFraction };
}

/** An error as plain data for another tab: a `SynclineError` keeps its code (also used by the tab relay). */
export function encodeError(e: unknown): WireError;
export function encodeError(e: Error | undefined): WireError | undefined;
export function encodeError(e: unknown): WireError | undefined {
  if (e === undefined) return undefined;
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const code = e instanceof SynclineError ? e.code : undefined;
  return { name: e.name, message: e.message, ...(code ? { code } : {}) };
}

/** The error {@link encodeError} described, rebuilt in this tab. */
export function decodeError(e: WireError): Error;
export function decodeError(e: WireError | undefined): Error | undefined;
export function decodeError(e: WireError | undefined): Error | undefined {
  if (!e) return undefined;
  if (e.code) return new SynclineError(e.code as ClientErrorCode, e.message);
  const error = new Error(e.message);
  error.name = e.name;
  return error;
}

export function encodeStatus(s: SyncStatus): WireStatus {
  const { forStream: _forStream, downloadProgress, downloadError, uploadError, ...plain } = s;
  return {
    ...plain,
    priorityStatusEntries: s.priorityStatusEntries.map((e) => ({ ...e })),
    syncStreams: s.syncStreams?.map((x) => structuredClone(x)),
    downloadProgress: downloadProgress ? { ...summary(downloadProgress), byPriority: PRIORITIES.map((p) => [p, summary(downloadProgress.untilPriority(p))]) } : null,
    downloadError: encodeError(downloadError),
    uploadError: encodeError(uploadError),
  };
}

export function decodeStatus(w: WireStatus): SyncStatus {
  const { downloadProgress, downloadError, uploadError, ...plain } = w;
  let progress: DownloadProgress | null = null;
  if (downloadProgress) {
    const { byPriority, ...total } = downloadProgress;
    const table = new Map(byPriority);
    progress = { ...total, untilPriority: (p) => table.get(Math.min(3, p)) ?? summary(total) };
  }
  return Object.freeze({
    ...INITIAL_STATUS,
    ...plain,
    downloadProgress: progress,
    downloadError: decodeError(downloadError),
    uploadError: decodeError(uploadError),
  });
}
