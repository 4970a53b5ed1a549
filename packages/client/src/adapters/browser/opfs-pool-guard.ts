/**
 * Keeps a failed `installOpfsSAHPoolVfs` from deleting the database. When installing the
 * `opfs-sahpool` VFS fails — e.g. another worker (a closing leader tab, this tab before a reload)
 * still holds one of the pool's files — sqlite-wasm 3.50 cleans up with `removeVfs()`, which
 * removes the pool's directory recursively: every database in it. OPFS refuses that while any file
 * below holds a sync access handle, so the deletion happens exactly when the old owner lets go
 * between our failed attempt and the cleanup — the moment the open retries are waiting for.
 *
 * The worker therefore holds a sync access handle on a file in a subdirectory of the pool's
 * `.opaque` directory (the pool only uses the files directly in it) for as long as it lives: the
 * recursive removal then always fails and the files stay. A dying worker's guard is released with
 * its other handles, so taking the guard is also the first sign that the old owner is gone. A worker
 * that hands a pool on while it lives (the legacy shared pool after a migration, see
 * `opfs-legacy-migration.ts`) releases that pool's guard with the pool.
 */

const OPAQUE_DIR = '.opaque';
const GUARD_DIR = '.syncline-guard';
const GUARD_FILE = 'held';

/** The part of `FileSystemSyncAccessHandle` (worker-only, not in the DOM typings) used here. */
interface SyncAccessHandle {
  close(): void;
}

/** Guards held by this worker, by pool directory. */
const guards = new Map<string, SyncAccessHandle>();

/** Takes the guard of the pool in `directory` (once per worker and directory); throws the OPFS busy error while another worker holds it. */
export async function holdPoolGuard(directory: string): Promise<void> {
  if (guards.has(directory)) return;
  let dir = await navigator.storage.getDirectory();
  for (const part of [...directory.split('/').filter(Boolean), OPAQUE_DIR, GUARD_DIR]) dir = await dir.getDirectoryHandle(part, { create: true });
  const file = await dir.getFileHandle(GUARD_FILE, { create: true });
  guards.set(directory, await (file as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }).createSyncAccessHandle());
}

/** Lets go of the guard of `directory` (before this worker hands the pool on, or removes it). */
export function releasePoolGuard(directory: string): void {
  guards.get(directory)?.close();
  guards.delete(directory);
}
