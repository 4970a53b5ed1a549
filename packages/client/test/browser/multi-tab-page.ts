/**
 * The page bundled for the multi-tab browser test (two pages of one context share one database):
 * exposes `window.multiTab`, driven by the Playwright test with `page.evaluate`. Records when this
 * tab became the leader and when it was first connected as the leader (Date.now(), ms).
 */
import { Schema, SynclineDatabase, Table, column, type BackendConnector, type SyncStatus, type SyncStreamSubscription, type Logger } from '../../src/index.ts';
import { openWasmSqlite, type WasmSqliteAdapter } from '../../src/adapters/browser/index.ts';

const schema = new Schema({ todos: new Table({ owner_id: column.text, description: column.text }) });

let db: SynclineDatabase | undefined;
let live: { id: string; description: string | null }[] = [];
let promotedAt: number | undefined;
let pending: Promise<string> | undefined;
let leaderConnectedAt: number | undefined;
let churning = false;
const churnedIds: number[] = [];
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

/**
 * Fault hooks for the handover tests (test page only): drop this tab's reply to a follower's
 * COMMIT (the leader committed, the follower never hears it), or drop this tab's own COMMIT call
 * (the leader never sees it). A spy channel, created before the database's, sees the calls.
 */
const faults = { dropCommitReply: false, dropCommitCall: false, dropped: 0 };
const commitCalls = new Set<string>();
new BroadcastChannel('syncline-tabs:multi-tab.db').onmessage = (e: MessageEvent<{ t: string; lease: string; seq: number; op?: { kind: string } }>) => {
  if (e.data.t === 'call' && e.data.op?.kind === 'commit') commitCalls.add(`${e.data.lease}:${e.data.seq}`);
};
const post = BroadcastChannel.prototype.postMessage;
BroadcastChannel.prototype.postMessage = function (this: BroadcastChannel, m: { t: string; lease: string; seq: number; op?: { kind: string } }) {
  const drop = (faults.dropCommitReply && m.t === 'reply' && commitCalls.has(`${m.lease}:${m.seq}`)) || (faults.dropCommitCall && m.t === 'call' && m.op?.kind === 'commit');
  if (drop) {
    faults.dropped++;
    return;
  }
  post.call(this, m);
};

let adapter: WasmSqliteAdapter | undefined;
/** Stream subscription handles this tab holds, by `name:params-json` (streams test). */
const subscriptions = new Map<string, SyncStreamSubscription>();

function role(): string | undefined {
  return db ? (adapter?.multiTab?.role ?? 'single') : undefined;
}

const api = {
  async open(): Promise<string | undefined> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const database = (adapter = await openWasmSqlite({ filename: 'multi-tab.db', worker, vfs: 'opfs-sahpool', multiTab: true, logger }));
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
    // Logs when each sync request starts and its response arrives (handover timing breakdown).
    const timedFetch: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const path = new URL(url).pathname;
      log.push(`${Date.now()} fetch ${path} start`);
      const res = await fetch(input, init);
      log.push(`${Date.now()} fetch ${path} ${res.status}`);
      return res;
    };
    await db?.connect(connector, { retry: { baseMs: 50, maxMs: 200 }, crudUploadThrottleMs: 0, fetch: timedFetch });
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
  arm(fault: 'dropCommitReply' | 'dropCommitCall'): void {
    faults[fault] = true;
  },
  dropped: () => faults.dropped,
  /** Starts an insert (a plain `execute`, or inside `writeTransaction`); `settled()` reports how it ended. */
  startInsert(id: string, mode: 'execute' | 'transaction'): void {
    const write = mode === 'execute' ? db!.execute('INSERT INTO todos (id, owner_id, description) VALUES (?, ?, ?)', [id, 'tabs', mode]) : db!.writeTransaction((tx) => tx.execute('INSERT INTO todos (id, owner_id, description) VALUES (?, ?, ?)', [id, 'tabs', mode]));
    pending = write.then(
      () => 'ok',
      (e: unknown) => `error ${(e as { code?: string }).code ?? String(e)}`,
    );
  },
  settled: () => pending,
  /** Queued upload entries for one row id (exactly one means the write applied once). */
  async crudFor(id: string): Promise<number> {
    return (await db!.get<{ n: number }>(`SELECT count(*) AS n FROM sl_crud WHERE json_extract(data, '$.id') = ?`, [id])).n;
  },
  /**
   * Stress hooks (handover test): `churn(tag)` runs large write transactions back to back in this
   * tab — a todo `tag-n` (queued for upload) plus ~1 MiB in a local table, replacing the previous
   * round's — so that a tab closed or crashed at a random moment is likely in the middle of a
   * commit; `churned()` lists the `n` whose transaction resolved.
   */
  churn(tag: string): void {
    churning = true;
    void (async () => {
      await db!.execute(`CREATE TABLE IF NOT EXISTS bulk (id INTEGER PRIMARY KEY, tag TEXT, v BLOB)`);
      for (let n = 0; churning; n++) {
        await db!.writeTransaction(async (tx) => {
          await tx.execute(`DELETE FROM bulk`);
          await tx.execute(`WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 1000) INSERT INTO bulk (tag, v) SELECT ?, randomblob(1000) FROM g`, [`${tag}-${n}`]);
          await tx.execute('INSERT INTO todos (id, owner_id, description) VALUES (?, ?, ?)', [`${tag}-${String(n).padStart(4, '0')}`, 'tabs', 'churn']);
        });
        churnedIds.push(n);
      }
    })().catch((e: unknown) => errors.push(`churn: ${String(e)}`));
  },
  stopChurn(): void {
    churning = false;
  },
  churned: () => churnedIds,
  /** `PRAGMA quick_check` of the database (['ok'] when sound) and the churned todo ids present. */
  async check(prefix: string): Promise<{ quick: string[]; ids: string[]; crud: number }> {
    const quick = (await db!.getAll<Record<string, string>>('PRAGMA quick_check')).map((r) => String(Object.values(r)[0]));
    const ids = (await db!.getAll<{ id: string }>(`SELECT id FROM todos WHERE id LIKE ? ORDER BY id`, [`${prefix}%`])).map((r) => r.id);
    const crud = (await db!.get<{ n: number }>(`SELECT count(*) AS n FROM sl_crud WHERE json_extract(data, '$.id') LIKE ?`, [`${prefix}%`])).n;
    return { quick, ids, crud };
  },
  errors: () => errors,
  /**
   * Takeover racing the old worker's exit (no coordinator): worker A owns the pool and a marker
   * row more; worker B starts opening (waiting for the pool) and A is terminated after `delayMs`.
   * Returns what B found: the marker count, or the error B's open or query failed with.
   */
  async raceOpen(filename: string, delayMs: number): Promise<string> {
    const ask = (w: Worker, request: Record<string, unknown>): Promise<{ ok: boolean; result?: { rows?: { n: number }[] }; error?: { message: string } }> =>
      new Promise((resolve) => {
        const id = Math.floor(Math.random() * 1e9);
        const listener = (e: MessageEvent<{ id: number }>): void => {
          if (e.data.id !== id) return;
          w.removeEventListener('message', listener as never);
          resolve(e.data as never);
        };
        w.addEventListener('message', listener as never);
        w.postMessage({ ...request, id });
      });
    const a = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const opened = await ask(a, { type: 'open', filename, vfs: 'opfs-sahpool', opfsWaitMs: 5_000 });
    if (!opened.ok) {
      a.terminate();
      return `A: ${opened.error?.message}`;
    }
    await ask(a, { type: 'execute', sql: 'CREATE TABLE IF NOT EXISTS marker (n INTEGER)', params: [] });
    await ask(a, { type: 'execute', sql: 'INSERT INTO marker VALUES (1)', params: [] });
    const b = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    await ask(b, { type: 'init' });
    const bOpen = ask(b, { type: 'open', filename, vfs: 'opfs-sahpool', opfsWaitMs: 5_000 });
    await new Promise((r) => setTimeout(r, delayMs));
    a.terminate();
    const bOpened = await bOpen;
    try {
      if (!bOpened.ok) return `B open: ${bOpened.error?.message}`;
      const count = await ask(b, { type: 'execute', sql: 'SELECT count(*) AS n FROM marker', params: [] });
      return count.ok ? `markers=${count.result?.rows?.[0]?.n}` : `B query: ${count.error?.message}`;
    } finally {
      await ask(b, { type: 'close' });
      b.terminate();
    }
  },
  /** Subscribes this tab to a stream (`ttl` in seconds) and keeps the handle. */
  async subscribe(name: string, params: Record<string, unknown>, ttl: number): Promise<void> {
    subscriptions.set(`${name}:${JSON.stringify(params)}`, await db!.syncStream(name, params).subscribe({ ttl }));
  },
  /** Resolves once a checkpoint covering the held subscription was applied (as this tab sees it). */
  async waitForStream(name: string, params: Record<string, unknown>, timeoutMs: number): Promise<void> {
    await subscriptions.get(`${name}:${JSON.stringify(params)}`)!.waitForFirstSync(AbortSignal.timeout(timeoutMs));
  },
  async unsubscribe(name: string, params: Record<string, unknown>): Promise<void> {
    const key = `${name}:${JSON.stringify(params)}`;
    await subscriptions.get(key)?.unsubscribe();
    subscriptions.delete(key);
  },
  async disconnectAndClear(): Promise<void> {
    await db!.disconnectAndClear();
  },
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
