/**
 * The page of the OPFS pool tests (legacy-pool migration, storage quota): exposes
 * `window.opfsTest`, driven by Playwright with `page.evaluate`. Databases are created the old way
 * with `legacy-pool-worker.js` and opened with the real worker (`worker.js`) or the one with a
 * migration crash point (`migration-crash-worker.js`).
 */
import { Schema, SynclineDatabase, Table, column } from '../../src/index.ts';
import { openWasmSqlite } from '../../src/adapters/browser/index.ts';

const schema = new Schema({ todos: new Table({ description: column.text }) });
const open = new Map<string, SynclineDatabase>();

export interface OpenOptions {
  /** Stop the migration at this step (migration-crash-worker.js). */
  crashAt?: string;
  tamper?: boolean;
  multiTab?: boolean;
  opfsWaitMs?: number;
}

export interface Contents {
  rows: number;
  ids: string[];
  queued: number;
  check: string;
  filler?: number;
}

function errorText(e: unknown): { code: string; message: string } {
  return { code: (e as { code?: string }).code ?? '', message: e instanceof Error ? e.message : String(e) };
}

async function listDir(path: string[]): Promise<string[] | null> {
  try {
    let dir = await navigator.storage.getDirectory();
    for (const p of path) dir = await dir.getDirectoryHandle(p);
    const names: string[] = [];
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names.sort();
  } catch (e) {
    if (e instanceof Error && e.name === 'NotFoundError') return null;
    throw e;
  }
}

const api = {
  /** Creates `filename` in the shared pool as version 0.1 did, with `n` rows (one transaction), each with its upload-queue entry. */
  async createLegacy(filename: string, n: number): Promise<void> {
    const worker = new Worker(new URL('./legacy-pool-worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename, worker, vfs: 'opfs-sahpool', multiTab: false });
    const db = new SynclineDatabase({ schema, database });
    await db.ready;
    await db.writeTransaction(async (tx) => {
      for (let i = 0; i < n; i++) await tx.execute('INSERT INTO todos (id, description) VALUES (?, ?)', [`${filename}-${String(i).padStart(4, '0')}`, `row ${i} `.padEnd(400, 'x')]);
    });
    await db.close();
  },
  /**
   * Leaves a hot journal in the shared pool: opens `filename` the old way, starts a transaction
   * that changes every row and spills ~2 MB to the database file (tiny page cache), and kills the
   * worker before COMMIT.
   */
  async leaveHotJournal(filename: string): Promise<void> {
    const worker = new Worker(new URL('./legacy-pool-worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename, worker, vfs: 'opfs-sahpool', multiTab: false });
    await database.execute('CREATE TABLE IF NOT EXISTS filler (x BLOB)');
    await database.execute('PRAGMA cache_size = 2');
    await database.execute('BEGIN');
    await database.execute("UPDATE sl_data__todos SET data = json_set(data, '$.description', 'torn')");
    await database.execute('INSERT INTO filler SELECT randomblob(4000) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 500) SELECT i FROM c)');
    worker.terminate();
  },
  /** Opens `filename` with the client (the real worker, or the crash-point one); returns its VFS or error. */
  async open(filename: string, options: OpenOptions = {}): Promise<{ vfs?: string; code?: string; message?: string }> {
    const url = options.crashAt ? new URL(`./migration-crash-worker.js?crashAt=${options.crashAt}&tamper=${options.tamper ? 1 : 0}`, import.meta.url) : new URL('./worker.js', import.meta.url);
    try {
      const worker = new Worker(url, { type: 'module' });
      const database = await openWasmSqlite({ filename, worker, vfs: 'opfs-sahpool', multiTab: options.multiTab ?? false, ...(options.opfsWaitMs !== undefined ? { opfsWaitMs: options.opfsWaitMs } : {}) });
      const db = new SynclineDatabase({ schema, database });
      await db.ready;
      open.set(filename, db);
      return { vfs: database.vfs };
    } catch (e) {
      return errorText(e);
    }
  },
  /** Resolves with the first migration step a crash-point worker stopped at. */
  stoppedAt(): Promise<string> {
    const channel = new BroadcastChannel('migration-test');
    return new Promise((resolve) => (channel.onmessage = (e: MessageEvent<string>) => resolve(e.data)));
  },
  async contents(filename: string): Promise<Contents> {
    const db = open.get(filename);
    if (!db) throw new Error(`${filename} is not open`);
    const ids = (await db.getAll<{ id: string }>('SELECT id FROM todos ORDER BY id')).map((r) => r.id);
    const torn = (await db.get<{ n: number }>("SELECT count(*) AS n FROM todos WHERE description = 'torn'"))?.n ?? 0;
    const hasFiller = (await db.getAll("SELECT 1 FROM sqlite_master WHERE name = 'filler'")).length > 0;
    const filler = hasFiller ? (await db.get<{ n: number }>('SELECT count(*) AS n FROM filler'))?.n : undefined;
    const check = (await db.getAll<{ c: string }>('SELECT integrity_check AS c FROM pragma_integrity_check')).map((r) => r.c).join('\n');
    return { rows: ids.length - torn, ids, queued: (await db.getUploadQueueStats()).count, check, ...(filler !== undefined ? { filler } : {}) };
  },
  async write(filename: string, id: string): Promise<{ ok: boolean; code?: string; message?: string }> {
    try {
      await open.get(filename)?.execute('INSERT INTO todos (id, description) VALUES (?, ?)', [id, 'written']);
      return { ok: true };
    } catch (e) {
      return { ok: false, ...errorText(e) };
    }
  },
  /** Writes `n` rows of ~400 bytes (ids `prefix-0000`…) in one transaction. */
  async writeMany(filename: string, prefix: string, n: number): Promise<{ ok: boolean; code?: string; message?: string }> {
    try {
      await open.get(filename)?.writeTransaction(async (tx) => {
        for (let i = 0; i < n; i++) await tx.execute('INSERT INTO todos (id, description) VALUES (?, ?)', [`${prefix}-${String(i).padStart(4, '0')}`, `row ${i} `.padEnd(400, 'x')]);
      });
      return { ok: true };
    } catch (e) {
      return { ok: false, ...errorText(e) };
    }
  },
  async close(filename: string): Promise<void> {
    await open.get(filename)?.close();
    open.delete(filename);
  },
  /** Opens every file side by side (each in its own worker), reads each, closes them all. */
  async openSideBySide(filenames: string[]): Promise<({ vfs?: string; code?: string; message?: string } & Partial<Contents>)[]> {
    const opened = await Promise.all(filenames.map((f) => api.open(f)));
    const out = await Promise.all(opened.map(async (o, i) => (o.vfs ? { ...o, ...(await api.contents(filenames[i]!)) } : o)));
    for (const f of filenames) await api.close(f);
    return out;
  },
  /** What is on OPFS: the legacy shared pool's entries (null: gone) and the per-database pools. */
  async opfs(): Promise<{ legacy: string[] | null; pools: string[] | null; legacyFiles: number | null }> {
    const opaque = await listDir(['.syncline-sahpool', '.opaque']);
    return { legacy: await listDir(['.syncline-sahpool']), pools: await listDir(['.syncline-sahpool-db']), legacyFiles: opaque ? opaque.filter((n) => !n.startsWith('.')).length : null };
  },
  async estimate(): Promise<{ usage: number; quota: number }> {
    const e = await navigator.storage.estimate();
    return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
  },
};

(globalThis as unknown as { opfsTest: typeof api }).opfsTest = api;
