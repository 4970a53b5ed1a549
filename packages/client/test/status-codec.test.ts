import { describe, expect, it } from 'vitest';
import { SynclineError } from '../src/errors.ts';
import { toDownloadProgress } from '../src/sync/download-progress.ts';
import { decodeStatus, encodeStatus } from '../src/sync/status-codec.ts';
import { INITIAL_STATUS, statusChanged, type SyncStatus } from '../src/sync/sync-status.ts';

describe('sync status between tabs', () => {
  const progress = toDownloadProgress(
    new Map([
      ['a', { priority: 0, atLast: 0, sinceLast: 5, targetCount: 10 }],
      ['b', { priority: 3, atLast: 0, sinceLast: 1, targetCount: 30 }],
    ]),
  );
  const status: SyncStatus = {
    ...INITIAL_STATUS,
    connected: true,
    downloading: true,
    hasSynced: true,
    lastSyncedAt: new Date(1_700_000_000_000),
    priorityStatusEntries: [{ priority: 1, lastSyncedAt: new Date(1_700_000_000_000), hasSynced: true }],
    downloadProgress: progress,
    downloadError: new SynclineError('NETWORK_ERROR', 'stream ended'),
    uploadError: Object.assign(new Error('boom'), { name: 'TypeError' }),
    syncStreams: [],
    transport: 'http',
  };

  it('survives a structured clone with everything a listener can observe', () => {
    const decoded = decodeStatus(structuredClone(encodeStatus(status)));
    // syncStreams is compared by reference (a new array per change): a clone is a new one.
    expect(statusChanged(status, { ...decoded, syncStreams: status.syncStreams })).toBe(false);
    expect(decoded.syncStreams).toEqual(status.syncStreams);
    expect(decoded.downloadError).toBeInstanceOf(SynclineError);
    expect((decoded.downloadError as SynclineError).code).toBe('NETWORK_ERROR');
    expect(decoded.uploadError).toMatchObject({ name: 'TypeError', message: 'boom' });
    expect(decoded.lastSyncedAt).toEqual(new Date(1_700_000_000_000));
    expect(decoded.forStream({ name: 'x', parameters: null })).toBeUndefined();
  });

  it('keeps per-priority download progress', () => {
    const decoded = decodeStatus(structuredClone(encodeStatus(status)));
    for (const p of [0, 1, 2, 3]) expect(decoded.downloadProgress?.untilPriority(p)).toEqual(progress.untilPriority(p));
    expect(decoded.downloadProgress?.downloadedOperations).toBe(6);
  });

  it('encodes a status without progress or errors', () => {
    expect(statusChanged(INITIAL_STATUS, decodeStatus(structuredClone(encodeStatus(INITIAL_STATUS))))).toBe(false);
  });
});
