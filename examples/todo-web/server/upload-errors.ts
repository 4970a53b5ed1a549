/**
 * Errors the upload endpoint answers with: a stable `code`, the HTTP `status` and a message that
 * says what to do. The app treats every 4xx as "rejected: drop the transaction and show the
 * message", and anything else as "retry later".
 */
export const UploadErrorCodes = {
  /** No or an invalid/expired JWT. Fix: sign in again (fetch a fresh token). */
  UNAUTHENTICATED: 401,
  /** The batch writes a list or todo the user does not own. Not retried: the write is dropped. */
  FORBIDDEN: 403,
  /** The body is not a valid upload batch (bad JSON, unknown table/column, missing id). */
  MALFORMED_BATCH: 400,
  /** A value breaks a rule of the data (empty name, description too long, unknown list). */
  INVALID_VALUE: 422,
  /** Method or path not served. */
  NOT_FOUND: 404,
} as const;

export type UploadErrorCode = keyof typeof UploadErrorCodes;

export class UploadError extends Error {
  readonly status: number;
  constructor(
    readonly code: UploadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
    this.status = UploadErrorCodes[code];
  }

  toJSON(): { code: UploadErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
