/**
 * The page bundled for the multi-tab browser test (two pages of one context share one database):
 * exposes `window.multiTab`, driven by the Playwright test with `page.evaluate`. Records when this
 * tab became the leader and when it was first connected as the leader (Date.now(), ms).
 */
import { Schema, SynclineDatabase, Table, column, type BackendConnector, type SyncStatus, type Logger } from '../../src/index.ts';
import { openWasmSqlite } from '../../src/adapters/browser/index.ts';

const schema = new Schema({ todos: new Table({ owner_id: column.text, description: column.text }) });

let db: SynclineDatabase | undefined;
let live: { id: string; description: string | null }[] = [];
let promotedAt: number | undefined;
let leaderConnectedAt: number | undefined;
const errors: string[] = [];
const log: string[] = [];
const logger = Object.fromEntries(
  (['debug', 'info', 'warn', 'error'] as const).map((level) => [level, (message: string, details?: Record<string, unknown>) => void log.push(`${Date.now()} ${level} ${message} ${JSON.stringify(details ?? {})}`)]),
) as unknown as Logger;

let credentials = { endpoint: '', token: '' };
const connector: BackendConnector = {
  fetchCredentials: async () => credentials,
  uploadData: async (d) => {
    const tx = await d.getNextCrudTransaction();
    if (!tx) return;
    const res = await fetch('/upload', { method: 'POST', body: JSON.stringify(tx.crud.map((e) => e.toJSON())) });
    if (!res.ok) throw new Error(`upload failed: HTTP ${res.status}`);
    await tx.complete();
  },
};

function role(): string | undefined {
  return db ? ((db as unknown as { adapter: { multiTab?: { role: string } } }).adapter.multiTab?.role ?? 'single') : undefined;
}

const api = {
  async open(): Promise<string | undefined> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const database = await openWasmSqlite({ filename: 'multi-tab.db', worker, vfs: 'opfs-sahpool', multiTab: true, logger });
    database.multiTab?.subscribe({ changes: () => undefined, status: () => undefined, promoted: () => (promotedAt = Date.now()) });
    db = new SynclineDatabase({ schema, database, logger });
    let last = '';
    db.onStatusChanged((s: SyncStatus) => {
      const flags = `connected=${s.connected} connecting=${s.connecting} downloading=${s.downloading} role=${role()}`;
      if (flags !== last) log.push(`${Date.now()} status ${(last = flags)}`);
      if (s.connected && role() === 'leader' && promotedAt !== undefined) leaderConnectedAt ??= Date.now();
    });
    await db.ready;
    db.watch<{ id: string; description: string | null }>(`SELECT id, description FROM todos WHERE id LIKE 'tab-%' ORDER BY id`, [], {
      onResult: (rows) => (live = rows),
      onError: (e) => errors.push(String(e)),
    });
    return role();
  },
  async connect(endpoint: string, token: string): Promise<void> {
    credentials = { endpoint, token };
    await db?.connect(connector, { retry: { baseMs: 50, maxMs: 200 }, crudUploadThrottleMs: 0 });
  },
  role,
  async insert(id: string, description: string): Promise<void> {
    await db?.execute('INSERT INTO todos (id, owner_id, description) VALUES (?, ?, ?)', [id, 'tabs', description]);
  },
  async count(): Promise<number> {
    return (await db?.get<{ n: number }>('SELECT count(*) AS n FROM todos'))?.n ?? -1;
  },
  /** Every row as `id=description`, sorted (compared with Postgres). */
  async rows(): Promise<string[]> {
    return ((await db?.getAll<{ r: string }>(`SELECT id || '=' || coalesce(description, '') AS r FROM todos ORDER BY id`)) ?? []).map((x) => x.r);
  },
  async queued(): Promise<number> {
    return (await db?.getUploadQueueStats())?.count ?? -1;
  },
  live: () => live,
  log: () => log.slice(-50),
  status(): unknown {
    const s = db?.currentStatus;
    if (!s) return null;
    return {
      role: role(),
      connected: s.connected,
      hasSynced: s.hasSynced,
      downloading: s.downloading,
      downloaded: s.downloadProgress?.downloadedOperations ?? null,
      total: s.downloadProgress?.totalOperations ?? null,
      lastSyncedAt: s.lastSyncedAt?.getTime() ?? null,
      downloadError: s.downloadError?.message,
      uploadError: s.uploadError?.message,
      promotedAt,
      leaderConnectedAt,
      errors,
    };
  },
  async close(): Promise<void> {
    await db?.close();
    db = undefined;
  },
};

(globalThis as unknown as { multiTab: typeof api }).multiTab = api;
