/** Web Locks helpers for multi-tab mode. */

/**
 * Requests the lock `name` and keeps it until `release()` (or until the tab goes away, when the
 * browser frees it). `granted` resolves true once held — or false at once when `ifAvailable` is
 * set and another tab holds it.
 */
export function holdLock(name: string, options: LockOptions): { granted: Promise<boolean>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const granted = new Promise<boolean>((resolve, reject) => {
    navigator.locks
      .request(name, options, async (lock) => {
        resolve(lock !== null);
        if (lock) await held;
      })
      .catch(reject);
  });
  return { granted, release };
}
