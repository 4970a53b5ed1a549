/**
 * Backstop for streams whose client stopped reading: the engine ends a stream at `exp` with
 * `{"token_expires_in": 0}`, but only when the next line is pulled, and a client that reads nothing
 * (HTTP backpressure) or grants no RSocket credits never pulls. Transports arm this timer and close
 * such a stream shortly after `exp`, so an expired token never keeps a stream (and its buffers) open.
 */

/** Time after `exp` a well-behaved stream has to end on its own before the transport closes it. */
export const EXPIRY_GRACE_MS = 2_000;

/** Calls `onExpired` once the token (exp in seconds) has been expired for EXPIRY_GRACE_MS; returns a disarm function. */
export function armTokenExpiry(expiresAt: number, onExpired: () => void): () => void {
  const ms = Math.min(2 ** 31 - 1, Math.max(0, expiresAt * 1000 - Date.now()) + EXPIRY_GRACE_MS);
  const timer = setTimeout(onExpired, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
