/** Typed compaction failures with stable codes and a message that says what to do. */
import { ServiceError } from '@syncline/protocol';

export type CompactionErrorCode =
  /** Another process is compacting or defragmenting this version. Fix: retry when it finishes. */
  | 'COMPACTION_BUSY'
  /** The version stopped being served while compacting; the rest was skipped (its data is deleted anyway). */
  | 'VERSION_NOT_ACTIVE'
  /** The run was stopped (shutdown or abort signal) between two batches; storage is consistent. */
  | 'COMPACTION_ABORTED'
  /** Storage changed under a batch in a way only a concurrent compactor could cause; the batch was rolled back. */
  | 'CONCURRENT_MODIFICATION'
  /** No such bucket in the serving version. */
  | 'BUCKET_NOT_FOUND'
  /** No ACTIVE version with a checkpoint to compact or defragment. */
  | 'NO_ACTIVE_VERSION';

export class CompactionError extends Error {
  constructor(
    readonly code: CompactionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CompactionError';
  }
}

/** Compaction failures as the ServiceErrors every admin surface (REST, tRPC) renders. */
export function compactionToServiceError(e: unknown): unknown {
  if (!(e instanceof CompactionError)) return e;
  switch (e.code) {
    case 'COMPACTION_BUSY':
    case 'VERSION_NOT_ACTIVE':
    case 'CONCURRENT_MODIFICATION':
      return new ServiceError('CONFLICT', e.message);
    case 'BUCKET_NOT_FOUND':
      return new ServiceError('NOT_FOUND', e.message);
    case 'NO_ACTIVE_VERSION':
      return new ServiceError('NO_SYNC_RULES', e.message);
    case 'COMPACTION_ABORTED':
      return new ServiceError('SHUTTING_DOWN', e.message);
  }
}
