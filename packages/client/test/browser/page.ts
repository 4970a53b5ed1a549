/**
 * The page bundled for the browser test: exposes a small API on `window.synclineTest` that the
 * Playwright test drives with `page.evaluate`.
 */
import { Schema, SynclineDatabase, Table, column, type BackendConnector } from '../../src/index.ts';
import { openWasmSqlite } from '../../src/adapters/browser/index.ts';

const schema = new Schema({
  todos: new Table({ description: column.text, big: column.integer }),
});

let db: SynclineDatabase | undefined;
let vfs = '';

let credentials = { endpoint: location.origin, token: 'browser-token' };
const connector: BackendConnector = {
  fetchCredentials: async () => credentials,
  uploadData: async (d) => {
    const tx = await d.getNextCrudTransaction();
    if (!tx) return;
    await fetch('/upload', { method: 'POST', body: JSON.stringify(tx.crud.map((e) => ({ ...e.toJSON(), data: e.opData ? Object.fromEntries(Object.entries(e.opData).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v])) : undefined }))) });
    await tx.complete();
  },
};

const api = {
  async open(requestedVfs: 'auto' | 'opfs-sahpool' | 'indexeddb' | 'memory' = 'auto'): Promise<string> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename: 'browser-test.db', worker, vfs: requestedVfs });
    vfs = database.vfs;
    db = new SynclineDatabase({ schema, database });
    await db.ready;
    return vfs;
  },
  /**
   * Opens `n` databases (`many-0.db` …) side by side in this origin, each in its own worker, writes
   * a row into each and reads it back; returns each one's VFS or its error (code and message).
   */
  async openMany(n: number, requestedVfs: 'auto' | 'opfs-sahpool' = 'opfs-sahpool', multiTab = false): Promise<{ vfs?: string; rows?: number; error?: string }[]> {
    const out: { vfs?: string; rows?: number; error?: string }[] = [];
    const open: SynclineDatabase[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
        const database = await openWasmSqlite({ filename: `many-${i}.db`, worker, vfs: requestedVfs, multiTab });
        const d = new SynclineDatabase({ schema, database });
        await d.ready;
        open.push(d);
        await d.execute('INSERT INTO todos (id, description) VALUES (uuid(), ?)', [`db ${i}`]);
        const rows = (await d.get<{ n: number }>('SELECT count(*) AS n FROM todos'))?.n ?? -1;
        out.push({ vfs: database.vfs, rows });
      } catch (e) {
        out.push({ error: `${(e as { code?: string }).code ?? ''} ${e instanceof Error ? e.message : String(e)}` });
      }
    }
    for (const d of open) await d.close();
    return out;
  },
  /** Opens `many-0.db` … one after another (open, write one row, close); returns each one's VFS and row count. */
  async openOneByOne(n: number, requestedVfs: 'auto' | 'opfs-sahpool' = 'opfs-sahpool'): Promise<{ vfs?: string; rows?: number; error?: string }[]> {
    const out: { vfs?: string; rows?: number; error?: string }[] = [];
    for (let i = 0; i < n; i++) {
      try {
        const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
        const database = await openWasmSqlite({ filename: `many-${i}.db`, worker, vfs: requestedVfs, multiTab: false });
        const d = new SynclineDatabase({ schema, database });
        await d.ready;
        await d.execute('INSERT INTO todos (id, description) VALUES (uuid(), ?)', [`db ${i}`]);
        out.push({ vfs: database.vfs, rows: (await d.get<{ n: number }>('SELECT count(*) AS n FROM todos'))?.n ?? -1 });
        await d.close();
      } catch (e) {
        out.push({ error: `${(e as { code?: string }).code ?? ''} ${e instanceof Error ? e.message : String(e)}` });
      }
    }
    return out;
  },
  /** Creates the pool directory all databases shared up to 0.1 (as an origin that used it has). */
  async createLegacyPool(): Promise<void> {
    await (await navigator.storage.getDirectory()).getDirectoryHandle('.syncline-sahpool', { create: true });
  },
  /** Optionally against another sync service (e.g. the real one) and over WebSocket. */
  async connect(remote?: { endpoint: string; token: string; transport?: 'http' | 'websocket' }): Promise<void> {
    if (remote) credentials = { endpoint: remote.endpoint, token: remote.token };
    await db?.connect(connector, { retry: { baseMs: 50, maxMs: 200 }, crudUploadThrottleMs: 0, transport: remote?.transport ?? 'http' });
  },
  async waitForFirstSync(): Promise<void> {
    await db?.waitForFirstSync();
  },
  async insert(id: string, description: string): Promise<void> {
    await db?.execute('INSERT INTO todos (id, description) VALUES (?, ?)', [id, description]);
  },
  async rows(): Promise<{ id: string; description: string | null; big: string | null }[]> {
    return (await db?.getAll<{ id: string; description: string | null; big: string | null }>('SELECT id, description, CAST(big AS TEXT) AS big FROM todos ORDER BY id')) ?? [];
  },
  async count(): Promise<number> {
    return (await db?.get<{ n: number }>('SELECT count(*) AS n FROM todos'))?.n ?? -1;
  },
  async queued(): Promise<number> {
    return (await db?.getUploadQueueStats())?.count ?? -1;
  },
  async close(): Promise<void> {
    await db?.close();
    db = undefined;
  },
  status(): unknown {
    const s = db?.currentStatus;
    return s ? { connected: s.connected, hasSynced: s.hasSynced, transport: s.transport, transportFallback: s.transportFallback, downloadError: s.downloadError?.message, uploadError: s.uploadError?.message } : null;
  },
};

(globalThis as unknown as { synclineTest: typeof api }).synclineTest = api;
