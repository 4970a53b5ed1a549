/**
 * One client downloads N rows (default 1,000,000, ~150 B each; `CLIENT_DOWNLOAD_ROWS`) from a real
 * sync-api child process into a fresh SQLite file with @syncline/client (better-sqlite3), twice —
 * the `sync` bench's "1M rows into SQLite" row on its own, without the 1,000-stream parts, for
 * iterating on the client's download path: `BENCH_ONLY=client-download npm run bench`.
 * Reports wall time, the client's CPU (this process, and its main thread alone — the event loop the
 * download runs on; the rest is the WAL checkpoint worker, GC and libuv threads; the server and
 * Postgres are other processes),
 * the server's CPU and the load average with every number. The client reads the stream with the
 * Node adapter's HTTP client unless `CLIENT_DOWNLOAD_FETCH=global` (Node's fetch) is set.
 * `CLIENT_DOWNLOAD_RUNS` (default 2): downloads per replicated data set.
 * `CLIENT_DOWNLOAD_REPLAY_RUNS` (default 2, 0 skips): afterwards, the stream of one download is
 * recorded and replayed to fresh clients by a process that only sends the file
 * (`stream-replay-server.ts`): the client's own time when the sync API and Postgres do not share
 * its cores, as in production. Reported as separate rows; the runs above are the target's measure.
 * `CLIENT_DOWNLOAD_RECORDING=<file>`: keep the recording there; when that file exists already, only
 * its replay runs (no Postgres, no sync API: seconds per iteration on the client's download path).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance as nodePerformance } from 'node:perf_hooks';
import { createTestDatabase } from '@syncline/test-utils';
import { SynclineDatabase, Schema, Table, column, composeFetch, withHeaders } from '@syncline/client';
import { openBetterSqlite3 } from '@syncline/client/node';
import { mintDevToken } from '../src/auth.ts';
import { startChildServer, type BenchResult } from './sync.bench.ts';
import { recordStream, startReplayServer } from './stream-replay.ts';

const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;
const CLIENT_SCHEMA = new Schema({
  items: new Table({ owner_id: column.text, title: column.text, body: column.text, done: column.integer, score: column.real, created_at: column.text }),
});

const load = (): string => `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
const log = (m: string): void => void process.stderr.write(`[client-download bench] ${m}\n`);

/**
 * CPU time (user + system) of a process in ms, from /proc/<pid>/stat — or of one of its threads:
 * `cpuMs(process.pid, process.pid)` is this process's main thread (the event loop) alone.
 */
function cpuMs(pid: number, thread?: number): number {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU time of every `postgres` process on the machine by pid, in ms (the bench's storage and
 * source database; nothing else runs Postgres during a bench). See {@link cpuSince}.
 */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') out.set(Number(pid), cpuMs(Number(pid)));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU used since `before` by the processes alive at `after` (those that exited in between are missed). */
function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/**
 * Counts the stream's lines by kind (first JSON key) and their sizes, scanning bytes only (no
 * decoding or parsing), so the client's own work is what the CPU numbers measure.
 */
function countingFetch(counts: Map<string, { lines: number; bytes: number }>): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (!url.endsWith('/sync/stream') || !response.body) return response;
    let head = '';
    let lineBytes = 0;
    const count = (): void => {
      const kind = /^\{"(\w+)"/.exec(head)?.[1] ?? head.slice(0, 16);
      const c = counts.get(kind) ?? { lines: 0, bytes: 0 };
      c.lines++;
      c.bytes += lineBytes;
      counts.set(kind, c);
      head = '';
      lineBytes = 0;
    };
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          let start = 0;
          for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
            if (head.length < 24) head += Buffer.from(chunk.subarray(start, Math.min(nl, start + 24))).toString('latin1');
            lineBytes += nl + 1 - start;
            count();
            start = nl + 1;
          }
          if (head.length < 24) head += Buffer.from(chunk.subarray(start, Math.min(chunk.length, start + 24))).toString('latin1');
          lineBytes += chunk.length - start;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

const eventLoopUtilization = nodePerformance.eventLoopUtilization.bind(nodePerformance);

/** Where a download's wall time went, from the client's side (ms from the start). */
interface Phases {
  /** First ops stored (the first data batch committed). */
  firstStored: number;
  /** Every op stored; what follows is the checksum check and the apply of the checkpoint. */
  allStored: number;
  /** Event-loop idle time (waiting for bytes, or for the server to produce them), whole download. */
  idleMs: number;
}

async function download(url: string, token: string, expected: number, serverPid: number, backgroundCheckpoints: boolean | undefined): Promise<{ ms: number; clientCpuMs: number; mainThreadCpuMs: number; serverCpuMs: number; postgresCpuMs: number; phases: Phases }> {
  const counts = new Map<string, { lines: number; bytes: number }>();
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-client-download-'));
  const messages = new Map<string, number>();
  const note = (m: string): void => void messages.set(m, (messages.get(m) ?? 0) + 1);
  const db = new SynclineDatabase({ schema: CLIENT_SCHEMA, database: openBetterSqlite3({ path: path.join(dir, 'bench.db'), backgroundCheckpoints }), logger: { debug: note, info: note, warn: note, error: note } });
  try {
    await db.ready;
    const cpu0 = process.cpuUsage();
    const main0 = cpuMs(process.pid, process.pid);
    const server0 = cpuMs(serverPid);
    const postgres0 = postgresCpu();
    const started = performance.now();
    const elu0 = eventLoopUtilization();
    const phases: Phases = { firstStored: 0, allStored: 0, idleMs: 0 };
    const offStatus = db.onStatusChanged((s) => {
      const p = s.downloadProgress;
      if (!p || p.downloadedOperations === 0) return;
      if (!phases.firstStored) phases.firstStored = performance.now() - started;
      if (!phases.allStored && p.downloadedOperations >= expected) phases.allStored = performance.now() - started;
    });
    // Default: the Node adapter's own HTTP client (node:http; identity encoding on loopback).
    // CLIENT_DOWNLOAD_FETCH=global: Node's global fetch (undici, gzip) as before; counting lines or
    // CLIENT_DOWNLOAD_IDENTITY=1 (ask for an uncompressed stream) wrap the global fetch too.
    const viaGlobal = process.env['CLIENT_DOWNLOAD_FETCH'] === 'global' || process.env['CLIENT_DOWNLOAD_COUNT_LINES'] || process.env['CLIENT_DOWNLOAD_IDENTITY'];
    await db.connect(
      { fetchCredentials: async () => ({ endpoint: url, token }), uploadData: async () => {} },
      viaGlobal
        ? {
            fetch: composeFetch(
              process.env['CLIENT_DOWNLOAD_COUNT_LINES'] ? countingFetch(counts) : (u, init) => fetch(u, init),
              ...(process.env['CLIENT_DOWNLOAD_IDENTITY'] ? [withHeaders({ 'accept-encoding': 'identity' })] : []),
            ),
          }
        : {},
    );
    await db.waitForFirstSync({ signal: AbortSignal.timeout(300_000) });
    const ms = performance.now() - started;
    phases.idleMs = eventLoopUtilization(elu0).idle;
    offStatus();
    const cpu = process.cpuUsage(cpu0);
    const mainThreadCpuMs = cpuMs(process.pid, process.pid) - main0;
    const serverCpuMs = cpuMs(serverPid) - server0;
    const postgresCpuMs = cpuSince(postgres0, postgresCpu());
    if (counts.size > 0) log(`client log messages: ${[...messages].map(([m, n]) => `${m} ×${n}`).join('; ')}`);
    if (counts.size > 0) log(`lines received: ${[...counts].map(([k, c]) => `${k} ${c.lines} (${(c.bytes / c.lines / 1024).toFixed(1)} KiB avg)`).join(', ')}`);
    await db.disconnect();
    const { n } = await db.get<{ n: number }>('SELECT count(*) AS n FROM items');
    if (n !== expected) throw new Error(`the client synced ${n} of ${expected} rows`);
    return { ms, clientCpuMs: (cpu.user + cpu.system) / 1000, mainThreadCpuMs, serverCpuMs, postgresCpuMs, phases };
  } finally {
    await db.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls the first line (the checkpoint) of a sync stream until the user's buckets hold `rows` ops. */
async function waitForCount(url: string, token: string, rows: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const controller = new AbortController();
    const res = await fetch(`${url}/sync/stream`, {
      method: 'POST',
      headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ raw_data: true, buckets: [] }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('\n')) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    const first = JSON.parse(text.slice(0, text.indexOf('\n'))) as { checkpoint?: { buckets: { count?: number }[] } };
    const count = first.checkpoint?.buckets.reduce((n, b) => n + (b.count ?? 0), 0) ?? 0;
    if (count >= rows) return;
    if (Date.now() > deadline) throw new Error(`only ${count} of ${rows} rows replicated in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Downloads the recorded stream `recording` (`rows` rows) CLIENT_DOWNLOAD_REPLAY_RUNS times from a replay server. */
async function replayRuns(recording: string, rows: number): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const replay = await startReplayServer(recording);
  try {
    for (let run = 1; run <= Number(process.env['CLIENT_DOWNLOAD_REPLAY_RUNS'] ?? 2); run++) {
      const loadBefore = load();
      const r = await download(replay.url, 'replayed', rows, replay.pid, undefined);
      const result: BenchResult = {
        name: `download ${rows.toLocaleString('en')} rows into SQLite, @syncline/client (better-sqlite3), recorded stream replayed by a file server, run ${run}`,
        value: Math.round((rows / r.ms) * 1000),
        unit: 'rows/s',
        note:
          `${(r.ms / 1000).toFixed(2)} s; client CPU ${(r.clientCpuMs / 1000).toFixed(1)} s (main thread ${(r.mainThreadCpuMs / 1000).toFixed(1)} s), replay server CPU ${(r.serverCpuMs / 1000).toFixed(1)} s; ` +
          `all ops stored at ${(r.phases.allStored / 1000).toFixed(2)} s, client event loop idle ${(r.phases.idleMs / 1000).toFixed(1)} s; ${loadBefore} → ${load()}`,
      };
      log(`${result.name}: ${result.value} ${result.unit} (${result.note})`);
      results.push(result);
    }
  } finally {
    await replay.stop();
  }
  return results;
}

export async function benchClientDownload(adminUrl: string, rows = Number(process.env['CLIENT_DOWNLOAD_ROWS'] ?? 1_000_000)): Promise<BenchResult[]> {
  const kept = process.env['CLIENT_DOWNLOAD_RECORDING'];
  if (kept && existsSync(kept)) {
    log(`replaying ${kept} only (CLIENT_DOWNLOAD_RECORDING exists)`);
    return replayRuns(kept, rows);
  }
  await using db = await createTestDatabase(adminUrl, 'bench_client_dl');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  await source.query(
    `CREATE TABLE items (id bigint PRIMARY KEY, owner_id text NOT NULL, title text NOT NULL, body text, done boolean NOT NULL, score double precision, created_at timestamptz NOT NULL DEFAULT now())`,
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-client-download-rules-'));
  const rulesPath = path.join(dir, 'rules.yaml');
  writeFileSync(rulesPath, RULES);
  const jwtSecret = randomBytes(32).toString('base64url');
  const server = await startChildServer({
    SOURCE_DATABASE_URL: db.url,
    STORAGE_DATABASE_URL: storageUrl,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    JWT_SECRET: jwtSecret,
    DEV_MODE: 'true',
    SYNC_RULES_PATH: rulesPath,
    PUBLICATION_NAME: `pub_${db.name}`,
  });
  const results: BenchResult[] = [];
  try {
    const token = (await mintDevToken(jwtSecret, 'dl', { ttlSeconds: 3600 })).token;
    // The rows are inserted once the service is up (and replicated as one transaction): a snapshot
    // of 1M rows can outlast the service's readiness wait on a loaded machine.
    let t = performance.now();
    await source.query(
      `INSERT INTO items (id, owner_id, title, body, done, score) SELECT i, 'dl', 'Item number ' || i, repeat('lorem ipsum ', 4), i % 2 = 0, i * 0.5 FROM generate_series(1, ${rows}) i`,
    );
    log(`${rows} rows inserted in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    await waitForCount(server.url, token, rows, 1_200_000);
    log(`replicated in ${((performance.now() - t) / 1000).toFixed(1)} s; ${load()}`);
    const label = rows.toLocaleString('en');
    const runs = Number(process.env['CLIENT_DOWNLOAD_RUNS'] ?? 2);
    // CLIENT_DOWNLOAD_CHECKPOINTS=alternate: odd runs with SQLite's own WAL checkpoints, even runs
    // with the adapter's background checkpoints, to compare them on one server (else the
    // adapter's default, by core count).
    const alternate = process.env['CLIENT_DOWNLOAD_CHECKPOINTS'] === 'alternate';
    for (let run = 1; run <= runs; run++) {
      const loadBefore = load();
      const background = alternate ? run % 2 === 0 : undefined;
      const r = await download(server.url, token, rows, server.pid, background);
      const result: BenchResult = {
        name: `download ${label} rows into SQLite, @syncline/client (better-sqlite3), run ${run}${alternate ? (background ? ', background checkpoints' : ', SQLite checkpoints') : ''}`,
        value: Math.round((rows / r.ms) * 1000),
        unit: 'rows/s',
        note:
          `${(r.ms / 1000).toFixed(2)} s (target for 1M: ≤ 15 s); client CPU ${(r.clientCpuMs / 1000).toFixed(1)} s (main thread ${(r.mainThreadCpuMs / 1000).toFixed(1)} s), server CPU ${(r.serverCpuMs / 1000).toFixed(1)} s, Postgres CPU ${(r.postgresCpuMs / 1000).toFixed(1)} s; ` +
          `first ops stored at ${(r.phases.firstStored / 1000).toFixed(2)} s, all at ${(r.phases.allStored / 1000).toFixed(2)} s, client event loop idle ${(r.phases.idleMs / 1000).toFixed(1)} s; ${loadBefore} → ${load()}`,
      };
      log(`${result.name}: ${result.value} ${result.unit} (${result.note})`);
      results.push(result);
    }
    if (Number(process.env['CLIENT_DOWNLOAD_REPLAY_RUNS'] ?? 2) > 0) {
      const recording = kept ?? path.join(dir, 'stream.ndjson');
      const bytes = await recordStream(server.url, token, recording);
      log(`recorded ${(bytes / 1048576).toFixed(0)} MiB of stream for the replay runs`);
      results.push(...(await replayRuns(recording, rows)));
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
