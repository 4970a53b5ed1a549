/**
 * Local download benchmark: N rows (~150 B each) streamed from an in-process fake `fetch` into a
 * file database with this client. Run: `npx tsx packages/client/bench/download-bench.ts [N] [seq|uuid]`
 * (`UUID_SUBKEYS=1`: random subkeys with sequential ids, like the server's opaque subkeys;
 * `BENCH_STATEMENT_TIMES=1`: prints the synchronous time spent in each SQL statement text;
 * `BENCH_OPS_PER_LINE`: ops per data line, default 350 — ~96 KB lines, as the server cuts them;
 * `BENCH_CACHE_KB`, `BENCH_WAL_PAGES`: the adapter's page cache and WAL autocheckpoint;
 * `BENCH_BG=1|0`: background WAL checkpoints on/off, default by core count).
 * (The real comparison against the Syncline server and @powersync/node lives in `npm run bench`.)
 */
import { existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Schema, SynclineDatabase, Table, column } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import type { SqliteAdapter } from '../src/db/sqlite-adapter.ts';

const N = Number(process.argv[2] ?? 1_000_000);
/** Ops per data line: ~96 KB lines of these ~270 B ops, as the server sends (`DATA_LINE_BYTES`). */
const PER_LINE = Number(process.env['BENCH_OPS_PER_LINE'] ?? 350);
const IDS = process.argv[3] === 'uuid' ? 'uuid' : 'seq';
const dir = mkdtempSync(join(tmpdir(), 'syncline-bench-'));
const schema = new Schema({ todos: new Table({ list_id: column.text, description: column.text, done: column.integer }) });
const log = (m: string, d?: Record<string, unknown>): void => {
  if (process.env['BENCH_DEBUG']) process.stdout.write(`${m} ${JSON.stringify(d ?? {})}\n`);
};
// Statement timing: better-sqlite3 runs each statement synchronously inside `execute`, so the time
// until the call returns is the statement's own time. Statements are grouped by their text with the
// VALUES lists folded.
const statementTimes = new Map<string, { calls: number; ms: number }>();
function timed(adapter: SqliteAdapter): SqliteAdapter {
  const record = (sql: string, ms: number): void => {
    const key = sql.replace(/(\(\?(, \?)*\)(, )?)+/g, '(…)').slice(0, 160);
    const t = statementTimes.get(key) ?? { calls: 0, ms: 0 };
    t.calls++;
    t.ms += ms;
    statementTimes.set(key, t);
  };
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if ((prop !== 'execute' && prop !== 'executeBatch') || typeof v !== 'function') return v;
      return (sql: string, params: unknown) => {
        const t0 = performance.now();
        const result: unknown = v.call(target, sql, params);
        record(sql, performance.now() - t0);
        return result;
      };
    },
  });
}
const envNumber = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);
const adapter = openBetterSqlite3({ path: join(dir, 'bench.db'), cacheSizeKb: envNumber('BENCH_CACHE_KB'), walAutocheckpointPages: envNumber('BENCH_WAL_PAGES'), backgroundCheckpoints: process.env['BENCH_BG'] ? process.env['BENCH_BG'] === '1' : undefined });
const db = new SynclineDatabase({
  schema,
  database: process.env['BENCH_STATEMENT_TIMES'] ? timed(adapter) : adapter,
  logger: { debug: log, info: log, warn: log, error: log },
});
await db.ready;

const encoder = new TextEncoder();
const pad = 'x'.repeat(70);
// The whole response is encoded before the clock starts, so the bench measures the client only.
const chunks: Uint8Array[] = [];
let total = 0;
for (let i = 1; i <= N; i++) total = (total + i) >>> 0;
const checkpoint = { checkpoint: { last_op_id: String(N), buckets: [{ bucket: 'b', checksum: total | 0, count: N, priority: 3 }] } };
chunks.push(encoder.encode(JSON.stringify(checkpoint) + '\n'));
for (let next = 1; next <= N; ) {
  const ops: unknown[] = [];
  for (let i = 0; i < PER_LINE && next <= N; i++, next++) {
    // uuid: random ids and subkeys (what most apps and the server's opaque subkeys look like);
    // seq: `row-<n>` ids, nearly in key order.
    const id = IDS === 'uuid' ? randomUUID() : `row-${next}`;
    const data = JSON.stringify({ id, list_id: 'list-1', description: `todo ${next} ${pad}`, done: 0 });
    ops.push({ op_id: String(next), op: 'PUT', object_type: 'todos', object_id: id, subkey: IDS === 'uuid' || process.env['UUID_SUBKEYS'] ? randomUUID() : `1/${id}`, data, checksum: next });
  }
  const line = encoder.encode(JSON.stringify({ data: { bucket: 'b', after: '0', has_more: true, data: ops } }) + '\n');
  // in 64 KiB pieces, as a socket delivers them
  for (let at = 0; at < line.length; at += 65536) chunks.push(line.subarray(at, at + 65536));
}
chunks.push(encoder.encode(JSON.stringify({ checkpoint_complete: { last_op_id: String(N) } }) + '\n'));
let nextChunk = 0;
const body = new ReadableStream<Uint8Array>({
  pull(controller) {
    const chunk = chunks[nextChunk];
    if (chunk) {
      chunks[nextChunk++] = new Uint8Array(0);
      controller.enqueue(chunk);
    } else controller.close();
  },
});

/**
 * Bytes this process passed to write() and read() (Linux `/proc/self/io` wchar/rchar; 0 elsewhere):
 * unlike time, they do not depend on the machine's load, so layout changes compare in one run.
 */
function ioBytes(): { written: number; read: number } {
  if (!existsSync('/proc/self/io')) return { written: 0, read: 0 };
  const io = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
  return { written: field('wchar'), read: field('rchar') };
}

const io0 = ioBytes();
const started = performance.now();
const cpu0 = process.cpuUsage();
await db.connect(
  { fetchCredentials: async () => ({ endpoint: 'http://bench.invalid', token: 't' }), uploadData: async () => {} },
  { fetch: async () => new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } }) },
);
await db.waitForFirstSync();
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpu0);
const io = ioBytes();
const { n } = await db.get<{ n: number }>('SELECT count(*) AS n FROM todos');
const { size } = await db.get<{ size: number }>('SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()');
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
process.stdout.write(
  `syncline client (${IDS} ids): ${n} rows in ${(ms / 1000).toFixed(2)} s (${Math.round(n / (ms / 1000))} rows/s); CPU user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s; ` +
    `written ${mb(io.written - io0.written)}, read ${mb(io.read - io0.read)}, database ${mb(size)}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
);
if (statementTimes.size > 0) {
  for (const [sql, t] of [...statementTimes].sort((x, y) => y[1].ms - x[1].ms).slice(0, 15)) {
    process.stdout.write(`${(t.ms / 1000).toFixed(2).padStart(7)} s ${String(t.calls).padStart(7)}× ${sql}\n`);
  }
}
await db.close();
rmSync(dir, { recursive: true, force: true });
