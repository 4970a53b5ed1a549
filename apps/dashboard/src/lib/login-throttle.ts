/**
 * Bounds login guessing: at most MAX_FAILURES failed attempts per WINDOW_MS per process. Counts are
 * process-wide (the dashboard is a single-operator console), kept on globalThis so every server
 * module copy shares them.
 */
const MAX_FAILURES = 20;
const WINDOW_MS = 60_000;

interface ThrottleState {
  failures: number[];
}

function state(): ThrottleState {
  const key = Symbol.for('syncline.dashboard.loginThrottle');
  const g = globalThis as unknown as Record<symbol, ThrottleState | undefined>;
  let s = g[key];
  if (!s) {
    s = { failures: [] };
    g[key] = s;
  }
  return s;
}

function prune(now: number): number[] {
  const s = state();
  s.failures = s.failures.filter((t) => now - t < WINDOW_MS);
  return s.failures;
}

/** Seconds until another attempt is allowed, or 0 when attempts are allowed now. */
export function loginRetryAfterSeconds(now = Date.now()): number {
  const failures = prune(now);
  if (failures.length < MAX_FAILURES) return 0;
  const oldest = failures[0] ?? now;
  return Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000));
}

export function recordLoginFailure(now = Date.now()): void {
  prune(now).push(now);
}
