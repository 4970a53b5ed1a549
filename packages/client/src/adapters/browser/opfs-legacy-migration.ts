/**
 * Moves a database out of the `opfs-sahpool` pool that every database of an origin shared up to
 * 0.1 ({@link LEGACY_POOL_DIRECTORY}) into the database's own pool, so that it is no longer
 * limited to one open database per origin. Runs in the worker that opens the database, after it
 * installed the database's own pool (so it owns the database: that pool is exclusive to one
 * worker) and before it opens the file.
 *
 * Crash safety — the rule every step keeps: **while the legacy pool still holds `/filename`, that
 * copy is the database**; the copy in the own pool counts only once the legacy one is gone. A
 * worker killed at any point therefore leaves either the untouched legacy copy (the next open
 * discards whatever it finds in the own pool and starts over) or the complete, verified copy in
 * the own pool:
 * 1. open the legacy copy with SQLite once, so a hot journal a killed worker left there is rolled
 *    back (`sahpool-recovery.ts`), and read its page count;
 * 2. delete any earlier attempt's files in the own pool (database, journal), import the bytes;
 * 3. verify the copy: `PRAGMA integrity_check` passes (or fails exactly as the source's does), and
 *    it has the source's page count;
 * 4. delete the legacy file (the commit point: one header write), then its `-journal`/`-wal`;
 * 5. delete journals whose database is gone; remove the legacy pool once it holds no files.
 *
 * Workers of the origin take turns (Web Lock {@link MIGRATION_LOCK}); each holds the legacy pool
 * only while it moves its own database, then hands the pool on.
 */
import { enableHotJournalRollback } from './sahpool-recovery.ts';
import { releasePoolGuard } from './opfs-pool-guard.ts';
import { describeError, FREE_POOL_SLOTS, installPool, isQuotaError, opfsDirectory, poolFullError, type Db, type Pool } from './opfs-pool.ts';
import type { Sqlite3 } from './wasm-statement.ts';
import { LEGACY_POOL_ERROR, POOL_FULL_ERROR } from './worker-protocol.ts';

/** The pool all databases of an origin shared up to 0.1. */
export const LEGACY_POOL_DIRECTORY = '.syncline-sahpool';
const LEGACY_VFS = 'syncline-sahpool-legacy';
const MIGRATION_LOCK = 'syncline-opfs-legacy-pool';
const SIDE_FILES = ['-journal', '-wal'] as const;

/** The points between the steps above (for the crash tests). */
export type MigrationStep = 'recovered' | 'imported' | 'verified' | 'legacy-removed';
export type MigrationTestHook = (step: MigrationStep, context: { target: Pool; path: string }) => Promise<void>;

let testHook: MigrationTestHook | undefined;

/**
 * Test builds only: called between the steps (the crash tests stop the worker there). This module
 * is not among the package's exports, so only a worker bundle built from the sources can set it.
 */
export function setMigrationTestHook(hook: MigrationTestHook | undefined): void {
  testHook = hook;
}

async function legacyPoolExists(): Promise<boolean> {
  return (await opfsDirectory(LEGACY_POOL_DIRECTORY)) !== undefined;
}

/**
 * Moves `/filename` from the legacy pool into `target` if it is there; removes the legacy pool
 * when nothing is left in it. Returns whether the database was moved. Throws
 * {@link LEGACY_POOL_ERROR} (or `POOL_FULL_ERROR` for lack of storage) when it could not check or
 * move it — the legacy copy is then untouched, and opening must not go on.
 */
export async function migrateFromLegacyPool(s: Sqlite3, target: Pool, filename: string, waitMs: number): Promise<boolean> {
  if (!(await legacyPoolExists())) return false;
  const run = (): Promise<boolean> => withLegacyPool(s, filename, waitMs, (legacy) => moveDatabase(s, legacy, target, filename));
  return navigator.locks ? navigator.locks.request(MIGRATION_LOCK, run) : run();
}

async function withLegacyPool(s: Sqlite3, filename: string, waitMs: number, body: (legacy: Pool) => Promise<boolean>): Promise<boolean> {
  if (!(await legacyPoolExists())) return false; // another worker removed it while we waited for the lock
  let legacy: Pool;
  try {
    legacy = (await installPool(s, LEGACY_POOL_DIRECTORY, LEGACY_VFS, waitMs, filename)).pool;
  } catch (e) {
    releasePoolGuard(LEGACY_POOL_DIRECTORY);
    if (e instanceof Error && e.name === POOL_FULL_ERROR) throw e;
    throw legacyError(filename, 'could not open the shared pool of version 0.1 to look for it there', e, 'Close other tabs of this site (one may run an older version of the app) and open it again.');
  }
  try {
    const moved = await body(legacy);
    removeOrphanSideFiles(legacy);
    return moved;
  } finally {
    // Hand the pool on: the next worker's database may be in it too. The guard goes first only
    // when the pool is removed (it would block that); otherwise last, after the pool's files.
    if (legacy.getFileCount() === 0) {
      releasePoolGuard(LEGACY_POOL_DIRECTORY);
      await legacy.removeVfs();
    } else {
      legacy.pauseVfs();
      releasePoolGuard(LEGACY_POOL_DIRECTORY);
    }
  }
}

async function moveDatabase(s: Sqlite3, legacy: Pool, target: Pool, filename: string): Promise<boolean> {
  const path = `/${filename}`;
  if (!legacy.getFileNames().includes(path)) return false;
  try {
    // 1. Recover (the first read rolls a hot journal back) and measure the source.
    const source = inspect(s, legacy, path, 'w', false);
    await testHook?.('recovered', { target, path });
    if (source.pageCount === 0) {
      // Created but never written (an old worker died right after opening it): nothing to move.
      legacy.unlink(path);
      return false;
    }
    const bytes = await legacy.exportFile(path); // typed async, runs synchronously
    // 2. Whatever is in the own pool is from an attempt that never reached its commit point.
    for (const p of [path, ...SIDE_FILES.map((x) => path + x)]) target.unlink(p);
    await target.reserveMinimumCapacity(target.getFileCount() + FREE_POOL_SLOTS);
    await target.importDb(path, bytes);
    await testHook?.('imported', { target, path });
    // 3. Verify the copy.
    const copy = inspect(s, target, path, 'r', true);
    // A copy that fails the check is still faithful when the source fails it the same way (checked
    // only then: integrity_check reads the whole file, and the copy passing is what matters).
    const sourceCheck = copy.check === 'ok' ? 'ok' : inspect(s, legacy, path, 'r', true).check;
    if (copy.check !== sourceCheck || copy.pageCount !== source.pageCount || bytes.byteLength !== source.pageCount * source.pageSize) {
      target.unlink(path);
      throw new Error(`the copy does not match (integrity_check "${copy.check}" vs "${sourceCheck}", ${copy.pageCount} vs ${source.pageCount} pages, ${bytes.byteLength} bytes)`);
    }
    await testHook?.('verified', { target, path });
  } catch (e) {
    target.unlink(path);
    if (isQuotaError(e)) throw await poolFullError(filename, 'moving it out of the shared pool of version 0.1 needs room for a second copy', e, 'Its data is still in the shared pool, unchanged.');
    throw legacyError(filename, 'could not move it out of the shared pool of version 0.1', e, 'Its data is still there, unchanged; opening it again retries the move.');
  }
  // 4. The commit point: from here on the own pool's copy is the database.
  legacy.unlink(path);
  await testHook?.('legacy-removed', { target, path });
  for (const x of SIDE_FILES) legacy.unlink(path + x);
  return true;
}

/** Opens `path` in `pool` (rolling back a hot journal first when writable) and reads its size and, if asked, its integrity check. */
function inspect(s: Sqlite3, pool: Pool, path: string, mode: 'r' | 'w', integrity: boolean): { check: string; pageCount: number; pageSize: number } {
  // The typings declare only the filename; sqlite-wasm's oo1 constructors take the open mode second.
  const db = new (pool.OpfsSAHPoolDb as unknown as new (filename: string, mode: string) => Db)(path, mode);
  try {
    enableHotJournalRollback(s, db.pointer as number);
    const pageCount = Number(db.selectValue('PRAGMA page_count'));
    const check = integrity ? db.selectValues('PRAGMA integrity_check').join('\n') : '';
    return { check, pageCount, pageSize: Number(db.selectValue('PRAGMA page_size')) };
  } finally {
    db.close();
  }
}

/** Deletes `-journal`/`-wal` files whose database is no longer in the pool (a move killed after its commit point). */
function removeOrphanSideFiles(pool: Pool): void {
  const names = new Set(pool.getFileNames());
  for (const name of names) {
    const suffix = SIDE_FILES.find((x) => name.endsWith(x));
    if (suffix && !names.has(name.slice(0, -suffix.length))) pool.unlink(name);
  }
}

function legacyError(filename: string, what: string, cause: unknown, todo: string): Error {
  const error = new Error(`"${filename}": ${what}: ${describeError(cause)}. ${todo}`, { cause });
  error.name = LEGACY_POOL_ERROR;
  return error;
}
