/** Polling with a deadline for the sync API's tests: a wait that fails says what it waited for. */

/** Polls `get` every 50 ms until `ok` holds for its value; throws with `what` and the last value. */
export async function waitFor<T>(what: string, get: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)?.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
