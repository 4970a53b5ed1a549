/**
 * One sync connection's download logic (reference client §2.4): tracks the current checkpoint,
 * stores data lines, deletes buckets that left the set, validates and applies at every
 * (partial) checkpoint complete, and tells the driver when to close the stream or refresh
 * credentials. Transport-free: the driver feeds it parsed lines.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { FULL_SYNC_PRIORITY } from '../schema/internal-schema.ts';
import { Mutex } from '../db/mutex.ts';
import type { BucketStorage } from './bucket-storage.ts';
import { addDownloaded, initialProgress, toDownloadProgress, type BucketProgress } from './download-progress.ts';
import type { OplogEntry } from './op-log-reduction.ts';
import { applyCheckpointDiff, type Checkpoint, type StreamInfo, type SyncLine } from './sync-lines.ts';
import type { SessionStreams } from '../streams/stream-connection.ts';
import { withPriorityApplied, type SyncStatus } from './sync-status.ts';

export type SessionAction =
  /** End this connection; reconnect after a delay (checksum failure, expired token). */
  | { type: 'close'; error: SynclineError; invalidateCredentials: boolean }
  /** Credentials expire within 30 s: fetch new ones, then reconnect at once. */
  | { type: 'refresh_credentials' };

export interface SessionHost {
  logger: Logger;
  status(): SyncStatus;
  updateStatus(patch: Partial<SyncStatus>): void;
}

/** Token lifetimes (seconds) at or below which new credentials are fetched ahead of time. */
export const TOKEN_REFRESH_THRESHOLD_S = 30;

export class SyncSession {
  private localBuckets: string[] = [];
  private tracked: Checkpoint | null = null;
  private pending: Checkpoint | null = null;
  private progress = new Map<string, BucketProgress>();
  /** Lines and upload notifications are handled strictly one after another. */
  private readonly queue = new Mutex();

  constructor(
    private readonly storage: BucketStorage,
    private readonly host: SessionHost,
    private readonly streams?: SessionStreams,
  ) {}

  /** The `buckets` of the request body: every local bucket with its resume position. */
  async begin(): Promise<{ name: string; after: string }[]> {
    const positions = await this.storage.bucketPositions();
    this.localBuckets = positions.map((p) => p.name);
    return positions.map((p) => ({ name: p.name, after: p.after.toString() }));
  }

  get trackedCheckpoint(): Checkpoint | null {
    return this.tracked;
  }

  handleLine(line: SyncLine, byteLength = 0): Promise<SessionAction | null> {
    return this.queue.run(() => this.handle(line, byteLength));
  }

  private async handle(line: SyncLine, byteLength: number): Promise<SessionAction | null> {
    switch (line.type) {
      case 'checkpoint': {
        const previous = this.tracked ? [...this.tracked.buckets.keys()] : this.localBuckets;
        await this.storage.deleteBuckets(previous.filter((b) => !line.checkpoint.buckets.has(b)));
        await this.track(line.checkpoint, line.streams);
        return null;
      }
      case 'checkpoint_diff': {
        if (!this.tracked) throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, 'checkpoint_diff received before any checkpoint');
        await this.storage.deleteBuckets(line.removed);
        await this.track(applyCheckpointDiff(this.tracked, line), undefined);
        return null;
      }
      case 'data': {
        if (!this.tracked?.buckets.has(line.bucket)) {
          this.host.logger.warn('Ignoring data for a bucket that is not in the current checkpoint', { bucket: line.bucket });
          return null;
        }
        await this.storage.storeData(line.bucket, line.ops, byteLength);
        addDownloaded(this.progress, line.bucket, line.ops.length);
        this.host.updateStatus({ downloadProgress: toDownloadProgress(this.progress) });
        this.streams?.onProgress(this.progress);
        return null;
      }
      case 'checkpoint_complete':
        return this.complete(line.lastOpId, null);
      case 'partial_checkpoint_complete':
        return this.complete(line.lastOpId, line.priority);
      case 'token_expires_in':
        if (line.seconds <= 0) {
          return { type: 'close', error: new SynclineError(ClientErrorCodes.UNAUTHORIZED, 'The token expired'), invalidateCredentials: true };
        }
        return line.seconds <= TOKEN_REFRESH_THRESHOLD_S ? { type: 'refresh_credentials' } : null;
      case 'unknown':
        this.host.logger.debug('Ignoring unknown sync line', { key: line.key });
        return null;
    }
  }

  /**
   * Stores consecutive data lines in one transaction (same effect as {@link handleLine} for each,
   * in order). The caller must not hold back any other line kind behind them.
   */
  handleDataLines(lines: readonly { line: Extract<SyncLine, { type: 'data' }>; byteLength: number }[]): Promise<void> {
    return this.queue.run(async () => {
      const stored: { bucket: string; ops: OplogEntry[]; byteLength: number }[] = [];
      for (const { line, byteLength } of lines) {
        if (!this.tracked?.buckets.has(line.bucket)) {
          this.host.logger.warn('Ignoring data for a bucket that is not in the current checkpoint', { bucket: line.bucket });
          continue;
        }
        stored.push({ bucket: line.bucket, ops: line.ops, byteLength });
      }
      if (stored.length === 0) return;
      await this.storage.storeDataLines(stored);
      for (const l of stored) addDownloaded(this.progress, l.bucket, l.ops.length);
      this.host.updateStatus({ downloadProgress: toDownloadProgress(this.progress) });
      this.streams?.onProgress(this.progress);
    });
  }

  /** The upload queue drained and the target moved: retry a checkpoint the gate held back. */
  completedUpload(): Promise<void> {
    return this.queue.run(() => this.retryPending());
  }

  private async retryPending(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    const result = await this.storage.syncLocal(pending, null);
    if (result.status === 'applied' && this.pending === pending) {
      this.pending = null;
      await this.markApplied(null);
    }
  }

  private async track(checkpoint: Checkpoint, streams: StreamInfo[] | undefined): Promise<void> {
    this.tracked = checkpoint;
    this.pending = null;
    this.progress = initialProgress(checkpoint, await this.storage.counters());
    this.host.updateStatus({ downloading: true, downloadProgress: toDownloadProgress(this.progress) });
    if (this.streams) {
      await this.streams.onCheckpoint(checkpoint, streams);
      this.streams.onProgress(this.progress);
    }
  }

  private async complete(lastOpId: bigint, priority: number | null): Promise<SessionAction | null> {
    const tracked = this.tracked;
    if (!tracked) throw new SynclineError(ClientErrorCodes.PROTOCOL_ERROR, 'checkpoint complete received before any checkpoint');
    if (lastOpId !== tracked.lastOpId) {
      this.host.logger.warn('Ignoring a checkpoint complete for another checkpoint', { expected: tracked.lastOpId.toString(), got: lastOpId.toString() });
      return null;
    }
    const started = Date.now();
    const result = await this.storage.syncLocal(tracked, priority);
    this.host.logger.debug('Checkpoint validated', { status: result.status, priority, ms: Date.now() - started });
    if (result.status === 'checksum_failed') {
      const names = result.failures.map((f) => f.bucket);
      await this.storage.deleteBuckets(names);
      const detail = result.failures.map((f) => `${f.bucket} (expected ${f.expected}, got ${f.actual})`).join(', ');
      this.host.logger.warn('Checksums did not match; buckets will be downloaded again', { buckets: names });
      return { type: 'close', error: new SynclineError(ClientErrorCodes.CHECKSUM_MISMATCH, `Checksums did not match for: ${detail}`), invalidateCredentials: false };
    }
    if (result.status === 'pending') {
      if (priority === null) {
        this.pending = tracked;
        this.host.logger.info('Could not apply checkpoint due to local changes; will retry after upload or at the next checkpoint');
      }
      return null;
    }
    await this.markApplied(priority);
    return null;
  }

  private async markApplied(priority: number | null): Promise<void> {
    const now = new Date();
    const status = this.host.status();
    if (priority === null) {
      this.host.updateStatus({
        downloading: false,
        downloadProgress: null,
        hasSynced: true,
        lastSyncedAt: now,
        priorityStatusEntries: withPriorityApplied(status.priorityStatusEntries, FULL_SYNC_PRIORITY, now),
        downloadError: undefined,
      });
    } else {
      this.host.updateStatus({ priorityStatusEntries: withPriorityApplied(status.priorityStatusEntries, priority, now) });
    }
    await this.streams?.onApplied(priority);
  }
}
