/**
 * Capped exponential backoff with jitter: attempt n (1-based) waits
 * `min(max, base · 2^(n−1)) · (1 − jitter + jitter · random())`.
 *
 * @example
 * backoffDelay(3, { baseMs: 1000, maxMs: 30000, jitter: 0.5 }, () => 1); // 4000
 */
export interface BackoffOptions {
  /** Delay of the first retry (default 1000 ms). */
  baseMs: number;
  /** Upper bound before jitter (default 30 000 ms). */
  maxMs: number;
  /** Fraction of the delay that is randomised (0..1, default 0.5). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 30_000, jitter: 0.5 };

export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const exponent = Math.min(n - 1, 30);
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.round(capped * (1 - jitter + jitter * random()));
}
