/**
 * The upload loop (reference client §4.5): whenever the queue may have entries (connect, first
 * sync line, local writes), hand them to `connector.uploadData` until the queue is empty, then
 * request a write checkpoint so downloads can be applied again. Failures — `uploadData` throwing
 * or not completing the first entry — are retried with capped, jittered backoff until they
 * succeed or the loop stops; a new local write does not have to come along first.
 */
import { ClientErrorCodes, SynclineError, toSynclineError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { backoffDelay, type BackoffOptions } from '../sync/backoff.ts';
import { sleep } from '../sync/sleep.ts';
import type { SyncStatus } from '../sync/sync-status.ts';
import type { CrudQueue } from './crud-queue.ts';

export interface UploadLoopDeps {
  crud: CrudQueue;
  /** Calls the connector's `uploadData`. */
  upload: () => Promise<void>;
  fetchWriteCheckpoint: (signal: AbortSignal) => Promise<bigint>;
  /** The write-checkpoint target moved: a held-back checkpoint may now apply. */
  onTargetUpdated: () => Promise<void>;
  updateStatus: (patch: Partial<SyncStatus>) => void;
  logger: Logger;
  throttleMs: number;
  backoff: BackoffOptions;
  random?: () => number;
}

export class UploadLoop {
  private readonly controller = new AbortController();
  private pending = false;
  private wake: (() => void) | undefined;
  private task: Promise<void> | undefined;

  constructor(private readonly deps: UploadLoopDeps) {}

  start(): void {
    this.task ??= this.run();
  }

  /** Requests an upload round (coalesced with any pending request). */
  trigger(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await this.task;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      if (!this.pending) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.pending = false;
      await Promise.all([this.uploadAll(signal), sleep(this.deps.throttleMs, signal)]);
    }
  }

  private async uploadAll(signal: AbortSignal): Promise<void> {
    let lastFirst: number | null = null;
    let attempt = 0;
    try {
      while (!signal.aborted) {
        try {
          const first = await this.deps.crud.first();
          if (first !== null) {
            this.deps.updateStatus({ uploading: true });
            if (first === lastFirst) {
              throw new SynclineError(ClientErrorCodes.UPLOAD_STALLED, `uploadData() did not complete queued entry ${first}; retrying later`);
            }
            lastFirst = first;
            await this.deps.upload();
            this.deps.updateStatus({ uploadError: undefined });
            continue;
          }
          if (await this.deps.crud.updateLocalTarget(() => this.deps.fetchWriteCheckpoint(signal))) {
            await this.deps.onTargetUpdated();
          }
          return;
        } catch (e) {
          if (signal.aborted) return;
          const error = toSynclineError(e, ClientErrorCodes.UPLOAD_FAILED);
          attempt++;
          const delay = backoffDelay(attempt, this.deps.backoff, this.deps.random);
          this.deps.logger.warn('Upload failed; retrying', { code: error.code, message: error.message, attempt, delayMs: delay });
          this.deps.updateStatus({ uploadError: error, uploading: false });
          lastFirst = null;
          await sleep(delay, signal);
        }
      }
    } finally {
      this.deps.updateStatus({ uploading: false });
    }
  }
}
