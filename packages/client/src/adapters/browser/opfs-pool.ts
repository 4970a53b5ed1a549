/**
 * The `opfs-sahpool` pools of the SQLite worker: installing one (waiting while another worker
 * still holds it), opening a database in it, and the typed error for a pool that has no room.
 *
 * Each database has a pool of its own under {@link POOL_ROOT}, held by the worker that opened it,
 * so any number of databases can be open side by side. (Up to 0.1 every database of the origin
 * shared one pool; `opfs-legacy-migration.ts` moves them out of it.)
 */
import { holdPoolGuard, releasePoolGuard } from './opfs-pool-guard.ts';
import type { Sqlite3 } from './wasm-statement.ts';
import { POOL_FULL_ERROR } from './worker-protocol.ts';

export type Pool = Awaited<ReturnType<Sqlite3['installOpfsSAHPoolVfs']>>;
export type Db = InstanceType<Sqlite3['oo1']['DB']>;

/** Parent directory of the per-database pools. */
export const POOL_ROOT = '.syncline-sahpool-db';
/** VFS name of the database's own pool (one database per worker). */
export const POOL_VFS = 'syncline-sahpool';
/** Free pool slots kept before opening: the database file and its journal need one each. */
export const FREE_POOL_SLOTS = 2;

/** The pool directory of the database `filename`. */
export function ownPoolDirectory(filename: string): string {
  return `${POOL_ROOT}/${encodeURIComponent(filename)}`;
}

/** Another worker (a closing leader tab, this tab before a reload) still holds the OPFS pool's files. */
export function isPoolBusy(e: unknown): boolean {
  return e instanceof Error && (e.name === 'NoModificationAllowedError' || e.name === 'InvalidStateError' || /access handle/i.test(e.message));
}

/**
 * The origin's storage quota is used up: OPFS raises `QuotaExceededError` (possibly as the cause of
 * a wrapper) — except a sync access handle's `write`, which Chromium 156 lets return a bogus count
 * instead, so sqlite-wasm's `importDb` reports a short write ("Expected to write …").
 */
export function isQuotaError(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    if (c.name === 'QuotaExceededError' || /quota|Expected to write \d+ bytes but wrote/i.test(c.message)) return true;
  }
  return false;
}

/** `name: message` of a thrown value, without a final full stop (it goes inside a sentence). */
export function describeError(e: unknown): string {
  return (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).replace(/\.+$/, '');
}

/** ` (this site uses … of … bytes of storage)` for an error message, or '' without an estimate. */
export async function storageUsage(): Promise<string> {
  try {
    const estimate = await navigator.storage.estimate();
    return ` (this site uses ${estimate.usage ?? '?'} of ${estimate.quota ?? '?'} bytes of storage)`;
  } catch {
    return '';
  }
}

/**
 * The {@link POOL_FULL_ERROR} for `filename`: says what failed, how much of the origin's storage is
 * in use, and what to do about it. `state` says what is on disk now.
 */
export async function poolFullError(filename: string, what: string, cause: unknown, state: string): Promise<Error> {
  const usage = await storageUsage();
  const error = new Error(
    `OPFS has no room for "${filename}": ${what}${usage}: ${describeError(cause)}. ${state} ` +
      'Free storage for this site (delete databases or cached data the app no longer needs; ask the user to allow persistent storage with navigator.storage.persist()), then open the database again.',
    { cause },
  );
  error.name = POOL_FULL_ERROR;
  return error;
}

/**
 * Installs the pool in `directory` as the VFS `vfsName`, retrying with a short backoff for up to
 * `waitMs` while it is busy. A pool that cannot be created for lack of storage throws
 * {@link POOL_FULL_ERROR}.
 */
export async function installPool(s: Sqlite3, directory: string, vfsName: string, waitMs: number, filename: string): Promise<{ pool: Pool; waitedMs: number }> {
  const existed = (await opfsDirectory(directory)) !== undefined;
  const started = Date.now();
  const deadline = started + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    try {
      // First the guard: a failed install below must not be able to delete the pool's files.
      if (typeof FileSystemFileHandle !== 'undefined' && 'createSyncAccessHandle' in FileSystemFileHandle.prototype) await holdPoolGuard(directory);
      const waitedMs = Date.now() - started;
      const pool = await s.installOpfsSAHPoolVfs({ name: vfsName, directory, forceReinitIfPreviouslyFailed: true } as never);
      // A pool this worker handed on earlier (paused) takes its files back.
      if (pool.isPaused()) await pool.unpauseVfs();
      return { pool, waitedMs };
    } catch (e) {
      if (isQuotaError(e)) {
        // A pool this attempt created holds no data: remove what it got to, so that it takes none of the little room left.
        if (!existed) await removeNewPool(directory);
        throw await poolFullError(filename, `could not open or create the pool in ${directory}`, e, 'Nothing was written.');
      }
      if (!isPoolBusy(e) || Date.now() + delay > deadline) {
        throw new Error(`${describeError(e)} (OPFS pool, waited ${waitMs - (deadline - Date.now())} ms)`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The OPFS directory at `path`, or undefined where it (or OPFS) does not exist. */
export async function opfsDirectory(path: string): Promise<FileSystemDirectoryHandle | undefined> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.getDirectory) return undefined;
  let dir = await storage.getDirectory();
  try {
    for (const part of path.split('/').filter(Boolean)) dir = await dir.getDirectoryHandle(part);
    return dir;
  } catch (e) {
    if (e instanceof Error && (e.name === 'NotFoundError' || e.name === 'TypeMismatchError')) return undefined;
    throw e;
  }
}

async function removeNewPool(directory: string): Promise<void> {
  releasePoolGuard(directory);
  const parts = directory.split('/').filter(Boolean);
  const name = parts.pop();
  const parent = await opfsDirectory(parts.join('/'));
  await parent?.removeEntry(name ?? '', { recursive: true }).catch(() => undefined);
}

/**
 * Opens `/filename` in the pool, first growing the pool so that it has free slots for the file
 * and its journal (a pool holds a fixed number of files, 6 by default). Throws
 * {@link POOL_FULL_ERROR} if it still cannot open the file.
 */
export async function openInPool(pool: Pool, filename: string): Promise<Db> {
  const path = `/${filename}`;
  const exists = pool.getFileNames().includes(path);
  const needed = pool.getFileCount() + (exists ? 1 : FREE_POOL_SLOTS);
  try {
    if (pool.getCapacity() < needed) await pool.reserveMinimumCapacity(needed);
    return new pool.OpfsSAHPoolDb(path);
  } catch (e) {
    throw await poolFullError(
      filename,
      `its pool could not grow to ${needed} files (capacity ${pool.getCapacity()}, ${pool.getFileCount()} in use)`,
      e,
      exists ? 'The database file is unchanged.' : 'Nothing was written.',
    );
  }
}
