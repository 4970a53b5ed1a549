/**
 * Crash recovery for databases on the `opfs-sahpool` VFS of `@sqlite.org/sqlite-wasm` (3.50).
 *
 * The VFS's `xCheckReservedLock` always answers "another connection holds a RESERVED lock". SQLite
 * asks exactly that before rolling back a hot journal, so with the stock VFS a journal left behind
 * by a worker that died in the middle of a commit (tab closed or crashed, multi-tab leader
 * handover, reload) is never played back: the next open reads the half-written database file and
 * fails with `SQLITE_CORRUPT`, or silently sees a torn transaction. Nothing else can hold a lock on
 * the file: OPFS sync access handles are exclusive to one worker, and this worker opens one
 * connection per pool — so the right answer is "no", and the standard rollback then runs.
 */
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm';

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;

/** I/O method tables already patched (one per VFS implementation in this worker). */
const patchedTables = new Set<number>();

/**
 * Makes hot-journal rollback work for the database `pDb` (opened on `opfs-sahpool`, no statement
 * run yet: the rollback happens on the first read). Patches the VFS's shared I/O method table
 * once per SQLite module.
 */
export function enableHotJournalRollback(s: Sqlite3, pDb: number): void {
  const { capi, wasm } = s;
  const stack = wasm.pstack.pointer;
  let pMethods: number;
  try {
    const ppFile = wasm.pstack.allocPtr() as number;
    const rc = capi.sqlite3_file_control(pDb as never, 'main', capi.SQLITE_FCNTL_FILE_POINTER, ppFile as never);
    if (rc !== 0) throw new Error(`sqlite3_file_control(FILE_POINTER) failed: ${rc}`);
    const pFile = wasm.peekPtr(ppFile) as number;
    pMethods = wasm.peekPtr(pFile) as number; // sqlite3_file.pMethods is its first member
  } finally {
    wasm.pstack.restore(stack);
  }
  if (!pMethods) throw new Error('the database file has no I/O methods');
  if (patchedTables.has(pMethods)) return;
  const methods = new capi.sqlite3_io_methods(pMethods as never);
  methods.installMethod('xCheckReservedLock', (_pFile: number, pOut: number) => {
    wasm.poke32(pOut, 0);
    return 0;
  });
  patchedTables.add(pMethods);
}
