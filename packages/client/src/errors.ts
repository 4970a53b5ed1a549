/**
 * Typed errors of the client SDK. Every error carries a stable `code` (documented below: cause and
 * fix) so apps can branch on it without parsing messages.
 *
 * @example
 * try { await db.get('SELECT * FROM todos WHERE id = ?', [id]); }
 * catch (e) { if (isSynclineError(e, 'RESULT_EMPTY')) { ... } }
 */
export const ClientErrorCodes = {
  /** `get()` found no row. Use `getOptional()` when absence is expected. */
  RESULT_EMPTY: 'RESULT_EMPTY',
  /** The database was closed; create a new `SynclineDatabase`. */
  DATABASE_CLOSED: 'DATABASE_CLOSED',
  /** The schema is invalid (bad name, duplicate column, declared `id`, …); the message names the culprit. */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** `connect()`/`updateSchema()` called in a state that does not allow it. */
  INVALID_STATE: 'INVALID_STATE',
  /** `fetchCredentials()` returned null: the user is signed out. Sign in, then connect again. */
  NOT_SIGNED_IN: 'NOT_SIGNED_IN',
  /** The credentials endpoint is malformed (must be an absolute http(s) URL without trailing `/`). */
  INVALID_ENDPOINT: 'INVALID_ENDPOINT',
  /** The sync service rejected the token (HTTP 401); credentials are refetched on the next attempt. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The sync service answered with an unexpected HTTP status; retried with backoff. */
  HTTP_ERROR: 'HTTP_ERROR',
  /** A sync line could not be parsed or violates the protocol; the connection is retried. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** Bucket checksums did not match at a checkpoint; the failing buckets are re-downloaded. */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** The stream ended or the network failed; retried with backoff. */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** `uploadData()` returned without completing the first queued entry; retried with backoff. */
  UPLOAD_STALLED: 'UPLOAD_STALLED',
  /** `uploadData()` threw; the same entries are retried with backoff. */
  UPLOAD_FAILED: 'UPLOAD_FAILED',
  /** An operation was aborted (disconnect/close or an AbortSignal). */
  ABORTED: 'ABORTED',
  /** An argument is invalid (a negative stream `ttl`, a priority outside 0..3, non-JSON stream parameters); the message names it. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** More stream subscriptions than the sync protocol accepts in one request (1,000); unsubscribe some first. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /** A SQLite adapter could not be opened or is unsupported in this environment. */
  ADAPTER_ERROR: 'ADAPTER_ERROR',
  /**
   * Browser: the origin's storage quota leaves no room for the database's OPFS pool
   * (`opfs-sahpool`): its files, the database file and its journal, or the copy a move out of the
   * shared pool of 0.1 needs. The message says what is on disk (nothing written / still in the
   * shared pool). Free storage for the site or ask for persistent storage, then open again. See
   * "Storage quota" in the README.
   */
  OPFS_POOL_FULL: 'OPFS_POOL_FULL',
  /**
   * Browser: a write failed because the origin's storage quota is used up (SQLite reported an I/O
   * error and the site has almost no room left). SQLite rolled the statement's transaction back:
   * nothing it wrote was kept, and the database is intact. Free storage for the site or ask for
   * persistent storage, then retry; a sync in progress retries on its own at its next connection.
   */
  STORAGE_FULL: 'STORAGE_FULL',
  /**
   * Multi-tab: the leader tab (which owns the database) closed or crashed while this tab's
   * transaction was running on it. The transaction was NOT committed (the new leader checked);
   * run it again. `execute`/`getAll`/… retry on their own; `readTransaction`/`writeTransaction`
   * callbacks are not re-run for you.
   */
  TAB_LEADER_CHANGED: 'TAB_LEADER_CHANGED',
} as const;

export type ClientErrorCode = (typeof ClientErrorCodes)[keyof typeof ClientErrorCodes];

export class SynclineError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SynclineError';
  }
}

export function isSynclineError(e: unknown, code?: ClientErrorCode): e is SynclineError {
  return e instanceof SynclineError && (code === undefined || e.code === code);
}

/** Normalises any thrown value into a {@link SynclineError} (keeps the original as `cause`). */
export function toSynclineError(e: unknown, fallback: ClientErrorCode): SynclineError {
  if (e instanceof SynclineError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new SynclineError(fallback, message, { cause: e });
}
