/**
 * Sync API benchmarks against a real sync-api child process (`node --import tsx src/main.ts`, so its
 * RSS is its own) on one Postgres:
 *   1. one client downloading 100k and 1M rows (~150 B): raw NDJSON parse, BSON parse, and into
 *      SQLite with @syncline/client (better-sqlite3);
 *   2. time until N concurrent streams (distinct users, small buckets) have their first
 *      checkpoint_complete;
 *   3. write → client latency across the N connected streams (COMMIT acknowledged → the stream
 *      received the checkpoint_complete that covers the row);
 *   4. server memory per idle stream: (RSS with N idle streams − RSS before) / N.
 * Every step is bounded in time; the child server and the databases are always cleaned up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize } from 'bson';
import pg from 'pg';
import { CHECKPOINT_CHANNEL } from '@syncline/engine';
import { createTestDatabase, freePort } from '@syncline/test-utils';
import { SynclineDatabase, Schema, Table, column } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';
import { mintDevToken } from '../src/auth.ts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SMALL_ROWS_PER_USER = 5;

const SCHEMA = `
  CREATE TABLE items (id bigint PRIMARY KEY, owner_id text NOT NULL, title text NOT NULL, body text, done boolean NOT NULL, score double precision, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE announcements (id bigint PRIMARY KEY, body text NOT NULL);
`;
// ~150 bytes of row JSON per item; one bucket per owner plus one global bucket every user holds.
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
  broadcast:
    data:
      - SELECT * FROM announcements
`;
const insertItems = (from: number, to: number, owner: string) =>
  `INSERT INTO items (id, owner_id, title, body, done, score)
   SELECT i, ${owner}, 'Item number ' || i, repeat('lorem ipsum ', 4), i % 2 = 0, i * 0.5
     FROM generate_series(${from}, ${to}) i`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
const log = (m: string) => process.stderr.write(`[sync bench] ${m}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Live heap + external bytes of the server after a forced GC (admin debug endpoint). */
async function liveHeap(url: string, adminToken: string): Promise<number> {
  const res = await fetch(`${url}/api/admin/v1/debug/memory`, { headers: { authorization: `Bearer ${adminToken}` } });
  const body = (await res.json()) as { data: { heap_used: number; external: number; gc: boolean } };
  if (!body.data.gc) throw new Error('server was not started with --expose-gc');
  return body.data.heap_used + body.data.external;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- the server under test ----------------------------------------------------------------------

export interface ChildServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', ...(process.env.SYNC_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'apps/sync-api/src/main.ts'], {
    cwd: REPO,
    env: { ...process.env, ...env, SYNC_API_PORT: String(port), SYNC_API_HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) throw new Error(`sync-api exited during startup:\n${output}`);
    const ok = await fetch(`${url}/probes/readiness`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sync-api not ready within 180 s:\n${output}`);
    }
    await sleep(250);
  }
  return { url, pid: child.pid!, stop };
}

// ---- a light NDJSON stream client (many at once) ------------------------------------------------

export interface LightStream {
  /** Resolves at the first checkpoint_complete (ms since open). */
  firstComplete: Promise<number>;
  close(): void;
}

/**
 * Opens /sync/stream with raw http and scans lines without parsing data: `onLine` gets each line's
 * text; checkpoint_complete lines are recognised by prefix.
 */
export function openLightStream(agent: http.Agent, url: string, token: string, onLine: (line: string) => void, request: Record<string, unknown> = {}): LightStream {
  const started = performance.now();
  let resolveFirst!: (ms: number) => void;
  let rejectFirst!: (e: Error) => void;
  const firstComplete = new Promise<number>((res, rej) => ((resolveFirst = res), (rejectFirst = rej)));
  firstComplete.catch(() => {});
  let done = false;
  const u = new URL('/sync/stream', url);
  const body = JSON.stringify({ raw_data: true, buckets: [], ...request });
  const req = http.request(
    { agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Token ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
    (res) => {
      if (res.statusCode !== 200) {
        rejectFirst(new Error(`status ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!done && line.startsWith('{"checkpoint_complete"')) {
            done = true;
            resolveFirst(performance.now() - started);
          }
          onLine(line);
        }
      });
      res.on('error', () => {});
      res.on('end', () => rejectFirst(new Error('stream ended')));
    },
  );
  req.on('error', (e) => rejectFirst(e));
  req.end(body);
  return { firstComplete, close: () => req.destroy() };
}

// ---- one-client downloads -----------------------------------------------------------------------

async function downloadNdjson(url: string, token: string, expected: number): Promise<{ ms: number; ops: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json', 'accept-encoding': 'identity' },
    body: JSON.stringify({ raw_data: true }),
    signal: AbortSignal.timeout(120_000),
  });
  if (!res.ok || !res.body) throw new Error(`sync stream failed: ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let ops = 0;
  let bytes = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after ${ops} ops`);
      bytes += value.length;
      buf += decoder.decode(value, { stream: true });
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf('\n', start)) >= 0) {
        const line = JSON.parse(buf.slice(start, nl)) as { data?: { data: unknown[] }; checkpoint_complete?: unknown };
        start = nl + 1;
        if (line.data) ops += line.data.data.length;
        else if (line.checkpoint_complete) {
          if (ops < expected) throw new Error(`checkpoint_complete after ${ops} of ${expected} ops`);
          return { ms: performance.now() - started, ops, bytes };
        }
      }
      buf = buf.slice(start);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function downloadBson(url: string, token: string, expected: number): Promise<{ ms: number; ops: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/sync/stream`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'application/json', accept: 'application/vnd.powersync.bson-stream', 'accept-encoding': 'identity' },
    body: JSON.stringify({ raw_data: true }),
    signal: AbortSignal.timeout(120_000),
  });
  if (!res.ok || !res.body) throw new Error(`sync stream failed: ${res.status}`);
  const reader = res.body.getReader();
  let pending: Buffer = Buffer.alloc(0);
  let ops = 0;
  let bytes = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after ${ops} ops`);
      bytes += value.length;
      pending = pending.length ? Buffer.concat([pending, value]) : Buffer.from(value.buffer, value.byteOffset, value.length);
      let off = 0;
      while (pending.length - off >= 4) {
        const len = pending.readInt32LE(off);
        if (pending.length - off < len) break;
        const doc = deserialize(pending.subarray(off, off + len)) as { data?: { data: unknown[] }; checkpoint_complete?: unknown };
        off += len;
        if (doc.data) ops += doc.data.data.length;
        else if (doc.checkpoint_complete) {
          if (ops < expected) throw new Error(`checkpoint_complete after ${ops} of ${expected} ops`);
          return { ms: performance.now() - started, ops, bytes };
        }
      }
      pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

const CLIENT_SCHEMA = new Schema({
  items: new Table({ owner_id: column.text, title: column.text, body: column.text, done: column.integer, score: column.real, created_at: column.text }),
  announcements: new Table({ body: column.text }),
});

/** Downloads into a fresh SQLite file with @syncline/client; bounded by `timeoutMs`. */
async function downloadSdk(url: string, token: string, expected: number, timeoutMs: number): Promise<{ ms: number; rows: number; timedOut: boolean; downloadedOps: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-sync-bench-'));
  const noop = () => {};
  const db = new SynclineDatabase({ schema: CLIENT_SCHEMA, database: openBetterSqlite3({ path: path.join(dir, 'bench.db') }), logger: { debug: noop, info: noop, warn: noop, error: noop } });
  try {
    await db.ready;
    const started = performance.now();
    await db.connect({ fetchCredentials: async () => ({ endpoint: url, token }), uploadData: async () => {} });
    let timedOut = false;
    await db.waitForFirstSync({ signal: AbortSignal.timeout(timeoutMs) }).catch(() => (timedOut = true));
    const ms = performance.now() - started;
    const downloadedOps = db.currentStatus.downloadProgress?.downloadedOperations ?? 0;
    await db.disconnect();
    const { n } = await db.get<{ n: number }>('SELECT count(*) AS n FROM items');
    if (!timedOut && n < expected) throw new Error(`SDK synced ${n} of ${expected} rows`);
    return { ms, rows: n, timedOut, downloadedOps };
  } finally {
    await db.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the bench ----------------------------------------------------------------------------------

export async function benchSync(adminUrl: string, opts: { rows1M?: number; streams?: number } = {}): Promise<BenchResult[]> {
  const rowsBig = opts.rows1M ?? 1_000_000;
  const rowsMid = Math.min(100_000, rowsBig);
  const streams = opts.streams ?? 1000;
  const results: BenchResult[] = [];
  const push = (r: BenchResult) => {
    results.push(r);
    log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
  };

  await using db = await createTestDatabase(adminUrl, 'bench_sync');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  await source.query(SCHEMA);
  let t = performance.now();
  // Big owners first (ids 1..), then N small users with 5 rows each, then one announcement.
  await source.query(insertItems(1, rowsMid, `'dl-mid'`));
  await source.query(insertItems(rowsMid + 1, rowsMid + rowsBig, `'dl-big'`));
  const smallStart = rowsMid + rowsBig + 1;
  await source.query(insertItems(smallStart, smallStart + streams * SMALL_ROWS_PER_USER - 1, `'u-' || (i % ${streams})`));
  await source.query(`INSERT INTO announcements VALUES (1, 'welcome')`);
  log(`source rows inserted in ${round((performance.now() - t) / 1000, 1)} s`);

  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-sync-bench-rules-'));
  const rulesPath = path.join(dir, 'rules.yaml');
  writeFileSync(rulesPath, RULES);
  const jwtSecret = randomBytes(32).toString('base64url');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const open: LightStream[] = [];
  let server: ChildServer | null = null;
  const adminToken = randomBytes(24).toString('hex');
  try {
    t = performance.now();
    server = await startChildServer({
      SOURCE_DATABASE_URL: db.url,
      STORAGE_DATABASE_URL: storageUrl,
      ADMIN_TOKEN: adminToken,
      JWT_SECRET: jwtSecret,
      DEV_MODE: 'true',
      SYNC_RULES_PATH: rulesPath,
      PUBLICATION_NAME: `pub_${db.name}`,
    });
    const totalRows = rowsMid + rowsBig + streams * SMALL_ROWS_PER_USER;
    const startMs = performance.now() - t;
    log(`sync-api (pid ${server.pid}) ready after ${round(startMs / 1000, 1)} s (snapshot of ${totalRows.toLocaleString('en')} rows, ~${Math.round(totalRows / (startMs / 1000))} rows/s incl. startup)`);
    const url = server.url;
    const token = async (user: string) => (await mintDevToken(jwtSecret, user, { ttlSeconds: 3600 })).token;

    // Warm-up: a few streams open, complete and close, so code paths and pools are warm before RSS_0.
    const warm = await Promise.all(Array.from({ length: 20 }, async (_, i) => openLightStream(agent, url, await token(`u-${i}`), () => {})));
    await Promise.all(warm.map((s) => s.firstComplete));
    for (const s of warm) s.close();
    await sleep(3000);
    const rss0 = rssKb(server.pid);
    const heap0 = await liveHeap(url, adminToken);

    // 2. N concurrent streams → first checkpoint_complete.
    const tokens = await Promise.all(Array.from({ length: streams }, (_, i) => token(`u-${i}`)));
    let current: { marker: string; seen: Set<number>; at: number; lat: number[]; firstDiff: number } | null = null;
    const loadBefore = load();
    t = performance.now();
    for (let i = 0; i < streams; i++) {
      const idx = i;
      open.push(
        openLightStream(agent, url, tokens[i]!, (line) => {
          const c = current;
          if (!c) return;
          if (!c.firstDiff && c.at && line.startsWith('{"checkpoint_diff"')) c.firstDiff = performance.now() - c.at;
          if (line.startsWith('{"data"') && line.includes(c.marker)) c.seen.add(idx);
          else if (line.startsWith('{"checkpoint_complete"') && c.seen.has(idx) && c.lat.length < streams) {
            c.seen.delete(idx);
            c.lat.push(performance.now() - c.at);
          }
        }),
      );
    }
    const firsts = await Promise.allSettled(open.map((s) => Promise.race([s.firstComplete, sleep(120_000).then(() => Promise.reject(new Error('timeout')))])));
    const allMs = performance.now() - t;
    const okTimes = firsts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])).sort((a, b) => a - b);
    const failed = firsts.find((r) => r.status === 'rejected');
    push({
      name: `${streams} concurrent streams: all have their first checkpoint_complete`,
      value: round(allMs),
      unit: 'ms',
      note: `${okTimes.length}/${streams} ok; per stream p50 ${round(pct(okTimes, 50))} ms, p99 ${round(pct(okTimes, 99))} ms${failed?.status === 'rejected' ? `; first failure: ${(failed.reason as Error).message}` : ''}; ${loadBefore}`,
    });

    // 4. Memory per idle stream.
    await sleep(5000);
    const rssN = rssKb(server.pid);
    const heapN = await liveHeap(url, adminToken);
    const connected = okTimes.length;
    push({
      name: 'server memory per idle stream (live JS heap + external after GC, (N − 0) / N)',
      value: round((heapN - heap0) / 1024 / Math.max(1, connected), 1),
      unit: 'KB',
      note: `heap+external ${round(heap0 / 2 ** 20, 1)} → ${round(heapN / 2 ** 20, 1)} MB with ${connected} idle streams; RSS ${round(rss0 / 1024, 1)} → ${round(rssN / 1024, 1)} MB (RSS is dominated by allocator state, not live data); ${load()}`,
    });

    // 3. Write → client latency across the connected streams.
    const rounds = 20;
    const lat: number[] = [];
    const perRoundMax: number[] = [];
    const perRoundMin: number[] = [];
    let incomplete = 0;
    const loadLat = load();
    // Replication share of the latency: COMMIT → the storage NOTIFY of the new checkpoint.
    const listener = new pg.Client({ connectionString: storageUrl });
    listener.on('error', () => {});
    await listener.connect();
    await listener.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    let notifiedAt = 0;
    listener.on('notification', () => {
      if (!notifiedAt) notifiedAt = performance.now();
    });
    const replication: number[] = [];
    const serverCpu0 = cpuMs(server.pid);
    const clientCpu0 = process.cpuUsage();
    const firstDiffs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const marker = `lat-${r}-${randomBytes(4).toString('hex')}`;
      const m = { marker, seen: new Set<number>(), at: 0, lat: [] as number[], firstDiff: 0 };
      current = m;
      notifiedAt = 0;
      await source.query(`INSERT INTO announcements VALUES ($1, $2)`, [1000 + r, marker]);
      m.at = performance.now(); // COMMIT acknowledged
      const until = Date.now() + 10_000;
      while (m.lat.length < connected && Date.now() < until) await sleep(5);
      if (notifiedAt) replication.push(notifiedAt - m.at);
      if (m.firstDiff) firstDiffs.push(m.firstDiff);
      if (m.lat.length < connected) incomplete += connected - m.lat.length;
      lat.push(...m.lat);
      perRoundMax.push(Math.max(...m.lat));
      perRoundMin.push(Math.min(...m.lat));
      current = null;
      await sleep(200);
    }
    const serverCpu = (cpuMs(server.pid) - serverCpu0) / rounds;
    const clientCpuUsage = process.cpuUsage(clientCpu0);
    const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / 1000 / rounds;
    await listener.end().catch(() => {});
    lat.sort((a, b) => a - b);
    replication.sort((a, b) => a - b);
    firstDiffs.sort((a, b) => a - b);
    const note = `${rounds} inserts × ${connected} streams, ${lat.length} samples${incomplete ? `, ${incomplete} missed in 10 s` : ''}; min ${round(lat[0] ?? NaN, 1)} ms, max ${round(lat[lat.length - 1] ?? NaN, 1)} ms; ${loadLat}`;
    push({ name: `write → client latency p50 (${connected} streams)`, value: round(pct(lat, 50), 1), unit: 'ms', note });
    push({ name: `write → client latency p99 (${connected} streams)`, value: round(pct(lat, 99), 1), unit: 'ms', note: `COMMIT → storage NOTIFY p50 ${round(pct(replication, 50), 1)} ms, → first checkpoint_diff line p50 ${round(pct(firstDiffs, 50), 1)} ms; per insert, p50 of the fastest stream ${round(pct(perRoundMin.sort((a, b) => a - b), 50), 1)} ms (≈ replication + watcher) and of the slowest ${round(pct(perRoundMax.sort((a, b) => a - b), 50), 1)} ms (+ fan-out); CPU per insert: server ${round(serverCpu, 1)} ms, bench clients ${round(clientCpu, 1)} ms (incl. 200 ms idle gaps)` });
    const rssAfter = rssKb(server.pid);
    for (const s of open.splice(0)) s.close();
    log(`RSS after latency rounds: ${round(rssAfter / 1024, 1)} MB`);
    await sleep(1000);

    // 1. One client downloads.
    for (const [user, rows] of [
      ['dl-mid', rowsMid],
      ['dl-big', rowsBig],
    ] as const) {
      const label = rows.toLocaleString('en');
      const n = await downloadNdjson(url, await token(user), rows);
      push({ name: `download ${label} rows, one client, NDJSON parse`, value: Math.round((n.ops / n.ms) * 1000), unit: 'rows/s', note: `${round(n.ms / 1000, 2)} s, ${round(n.bytes / n.ops)} B/op on the wire; ${load()}` });
    }
    {
      const b = await downloadBson(url, await token('dl-big'), rowsBig);
      push({ name: `download ${rowsBig.toLocaleString('en')} rows, one client, BSON parse`, value: Math.round((b.ops / b.ms) * 1000), unit: 'rows/s', note: `${round(b.ms / 1000, 2)} s; ${load()}` });
    }
    for (const [user, rows] of [
      ['dl-mid', rowsMid],
      ['dl-big', rowsBig],
    ] as const) {
      const label = rows.toLocaleString('en');
      const s = await downloadSdk(url, await token(user), rows, 120_000);
      push({
        name: `download ${label} rows into SQLite, @syncline/client (better-sqlite3)`,
        value: s.timedOut ? Math.round((s.downloadedOps / s.ms) * 1000) : Math.round((s.rows / s.ms) * 1000),
        unit: 'rows/s',
        note: s.timedOut
          ? `NOT finished in ${round(s.ms / 1000)} s: ${s.downloadedOps} ops downloaded, ${s.rows} rows applied; ${load()}`
          : `${round(s.ms / 1000, 2)} s (target for 1M: ≤ 15 s); ${load()}`,
      });
    }
    log(`RSS after downloads: ${round(rssKb(server.pid) / 1024, 1)} MB`);
  } finally {
    for (const s of open) s.close();
    agent.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
