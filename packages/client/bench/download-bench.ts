/**
 * Local download benchmark: N rows (~150 B each) streamed from an in-process fake `fetch` into a
 * file database with this client. Run: `npx tsx packages/client/bench/download-bench.ts [N]`.
 * (The real comparison against the Syncline server and @powersync/node lives in `npm run bench`.)
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Schema, SynclineDatabase, Table, column } from '../src/index.ts';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const PER_LINE = 1000;
const dir = mkdtempSync(join(tmpdir(), 'syncline-bench-'));
const schema = new Schema({ todos: new Table({ list_id: column.text, description: column.text, done: column.integer }) });
const log = (m: string, d?: Record<string, unknown>): void => {
  if (process.env['BENCH_DEBUG']) process.stdout.write(`${m} ${JSON.stringify(d ?? {})}\n`);
};
const db = new SynclineDatabase({
  schema,
  database: openBetterSqlite3({ path: join(dir, 'bench.db') }),
  logger: { debug: log, info: log, warn: log, error: log },
});
await db.ready;

const encoder = new TextEncoder();
const pad = 'x'.repeat(70);
let next = 0;
let total = 0;
for (let i = 1; i <= N; i++) total = (total + i) >>> 0;
const body = new ReadableStream<Uint8Array>({
  pull(controller) {
    if (next === 0) {
      next = 1;
      const checkpoint = { checkpoint: { last_op_id: String(N), buckets: [{ bucket: 'b', checksum: total | 0, count: N, priority: 3 }] } };
      controller.enqueue(encoder.encode(JSON.stringify(checkpoint) + '\n'));
      return;
    }
    if (next > N) {
      controller.enqueue(encoder.encode(JSON.stringify({ checkpoint_complete: { last_op_id: String(N) } }) + '\n'));
      controller.close();
      return;
    }
    const ops: unknown[] = [];
    for (let i = 0; i < PER_LINE && next <= N; i++, next++) {
      const id = `row-${next}`;
      const data = JSON.stringify({ id, list_id: 'list-1', description: `todo ${next} ${pad}`, done: 0 });
      ops.push({ op_id: String(next), op: 'PUT', object_type: 'todos', object_id: id, subkey: `1/${id}`, data, checksum: next });
    }
    controller.enqueue(encoder.encode(JSON.stringify({ data: { bucket: 'b', after: '0', has_more: true, data: ops } }) + '\n'));
  },
});

const started = performance.now();
const cpu0 = process.cpuUsage();
await db.connect(
  { fetchCredentials: async () => ({ endpoint: 'http://bench.invalid', token: 't' }), uploadData: async () => {} },
  { fetch: async () => new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } }) },
);
await db.waitForFirstSync();
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpu0);
const { n } = await db.get<{ n: number }>('SELECT count(*) AS n FROM todos');
process.stdout.write(`syncline client: ${n} rows in ${(ms / 1000).toFixed(2)} s (${Math.round(n / (ms / 1000))} rows/s); CPU user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
await db.close();
rmSync(dir, { recursive: true, force: true });
