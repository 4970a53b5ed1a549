/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Lets pending I/O callbacks run (Node: `setImmediate`), e.g. between the statements of a long
 * transaction on a synchronous SQLite binding, so the sync stream keeps being read meanwhile.
 * Where there is no `setImmediate` (browsers: the database runs in a worker, its calls already
 * yield) it only yields to microtasks.
 */
export function yieldToIo(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return immediate ? new Promise((resolve) => immediate(resolve)) : Promise.resolve();
}
