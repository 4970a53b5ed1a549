/**
 * Writes over the origin's storage quota. OPFS refuses the write inside sqlite-wasm's VFS, and
 * SQLite reports only a generic I/O error (`SQLITE_IOERR`, or `SQLITE_FULL`): the VFS's own record of
 * the cause is cleared by the VFS calls of the rollback that follows, and `navigator.storage.estimate()`
 * need not show the quota that refused it. So this worker notes every write or resize of an OPFS
 * sync access handle that the quota refuses ({@link watchQuotaRefusals}), and a statement that
 * failed with an I/O error while one was noted is a write refused for lack of storage.
 */
import { describeError, isQuotaError, storageUsage } from './opfs-pool.ts';
import { WasmSqliteError } from './wasm-statement.ts';
import { STORAGE_FULL_ERROR } from './worker-protocol.ts';

const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

let refusals = 0;
let watching = false;

interface SyncAccessHandle {
  write(buffer: ArrayBufferView | ArrayBuffer, options?: { at?: number }): number;
  truncate(size: number): void;
}

/**
 * Notes each write or truncate of an OPFS sync access handle (this worker's) that the quota refuses:
 * one that throws `QuotaExceededError`, or a write that returns a short count (Chromium 156 does
 * that over quota instead of throwing). The calls themselves behave exactly as before.
 */
export function watchQuotaRefusals(): void {
  const ctor = (globalThis as { FileSystemSyncAccessHandle?: { prototype: SyncAccessHandle } }).FileSystemSyncAccessHandle;
  if (watching || !ctor) return;
  watching = true;
  const proto = ctor.prototype;
  const write = proto.write;
  const truncate = proto.truncate;
  proto.write = function (this: SyncAccessHandle, buffer, options) {
    try {
      const n = write.call(this, buffer, options);
      if (n !== buffer.byteLength) refusals++;
      return n;
    } catch (e) {
      if (isQuotaError(e)) refusals++;
      throw e;
    }
  };
  proto.truncate = function (this: SyncAccessHandle, size) {
    try {
      truncate.call(this, size);
    } catch (e) {
      if (isQuotaError(e)) refusals++;
      throw e;
    }
  };
}

/** The number of refused writes so far: compare before and after a statement. */
export function quotaRefusals(): number {
  return refusals;
}

/** Whether `e` is an error SQLite reports for a write the VFS could not do. */
function isWriteFailure(e: unknown): boolean {
  const primary = e instanceof WasmSqliteError ? e.resultCode & 0xff : -1;
  return primary === SQLITE_IOERR || primary === SQLITE_FULL || isQuotaError(e);
}

/**
 * The {@link STORAGE_FULL_ERROR} for a statement on `filename` that failed with `e`, or undefined
 * when it is not a write refused for lack of storage. `refused`: the quota refused a write while
 * the statement ran.
 */
export async function storageFullError(filename: string, e: unknown, refused: boolean): Promise<Error | undefined> {
  if (!isWriteFailure(e) || !(refused || isQuotaError(e))) return undefined;
  const error = new Error(
    `The site's storage is full: SQLite could not write "${filename}"${await storageUsage()}: ${describeError(e)}. ` +
      'The write was not committed (the database is intact). Free storage for this site (delete databases or cached data the app no longer needs; ask the user to allow persistent storage with navigator.storage.persist()), then retry.',
    { cause: e },
  );
  error.name = STORAGE_FULL_ERROR;
  return error;
}
