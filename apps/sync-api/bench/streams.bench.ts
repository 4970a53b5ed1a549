/**
 * Sync Streams subscription latency against a real sync-api child process (issue 12 target:
 * subscribe → first rows p50 ≤ 50 ms for a 1,000-row subscription while 1,000 other streams are
 * connected). 1,000 background connections each subscribe to their own small list; then, one at a
 * time, a new connection subscribes to a different 1,000-row list and we time request → first
 * data line and request → checkpoint_complete (all 1,000 rows received and the checkpoint done).
 * A "subscribe" is a new request, as in PowerSync's protocol: the client reconnects with the new
 * subscription set (reference powersync-sync-streams.md §4.5).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type BenchResult } from '@syncline/test-utils';
import { mintDevToken } from '../src/auth.ts';
import { openLightStream, startChildServer, type ChildServer, type LightStream } from './sync.bench.ts';

const SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id bigint PRIMARY KEY, list_id text NOT NULL, description text NOT NULL, done boolean NOT NULL);
`;
const RULES = `
config:
  edition: 3
streams:
  my_lists:
    auto_subscribe: true
    query: SELECT * FROM lists WHERE owner_id = auth.user_id()
  list_todos:
    accept_potentially_dangerous_queries: true
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list')
`;

const log = (m: string) => process.stderr.write(`[streams bench] ${m}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const load = () => `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;

export async function benchStreams(adminUrl: string, opts: { background?: number; samples?: number; rowsPerList?: number } = {}): Promise<BenchResult[]> {
  const background = opts.background ?? 1000;
  const samples = opts.samples ?? 30;
  const rowsPerList = opts.rowsPerList ?? 1000;
  await using db = await createTestDatabase(adminUrl, 'bench_streams_sub');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  await source.query(SCHEMA);
  await source.query(`INSERT INTO lists SELECT 'small-' || g, 'u-' || g, 'small list ' || g FROM generate_series(0, ${background - 1}) g`);
  await source.query(`INSERT INTO lists SELECT 'big-' || g, 'owner', 'big list ' || g FROM generate_series(0, ${samples - 1}) g`);
  await source.query(`INSERT INTO todos SELECT g, 'small-' || (g % ${background}), 'small todo ' || g, false FROM generate_series(1, ${background * 5}) g`);
  await source.query(
    `INSERT INTO todos SELECT 1000000 + g, 'big-' || (g % ${samples}), 'a todo with a description of some length ' || g, g % 2 = 0 FROM generate_series(1, ${samples * rowsPerList}) g`,
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-streams-bench-'));
  const rulesPath = path.join(dir, 'rules.yaml');
  writeFileSync(rulesPath, RULES);
  const jwtSecret = randomBytes(32).toString('base64url');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const open: LightStream[] = [];
  let server: ChildServer | null = null;
  try {
    server = await startChildServer({
      SOURCE_DATABASE_URL: db.url,
      STORAGE_DATABASE_URL: storageUrl,
      ADMIN_TOKEN: randomBytes(24).toString('hex'),
      JWT_SECRET: jwtSecret,
      DEV_MODE: 'true',
      SYNC_RULES_PATH: rulesPath,
      PUBLICATION_NAME: `pub_${db.name}`,
    });
    const url = server.url;
    const token = async (user: string) => (await mintDevToken(jwtSecret, user, { ttlSeconds: 3600 })).token;
    const subscribe = (list: string) => ({ streams: { include_defaults: true, subscriptions: [{ stream: 'list_todos', parameters: { list } }] } });

    const t0 = performance.now();
    for (let i = 0; i < background; i++) open.push(openLightStream(agent, url, await token(`u-${i}`), () => {}, subscribe(`small-${i}`)));
    await Promise.all(open.map((s) => s.firstComplete));
    const connectMs = performance.now() - t0;
    log(`${background} background subscriptions complete after ${Math.round(connectMs)} ms`);

    const toFirstData: number[] = [];
    const toComplete: number[] = [];
    for (let i = 0; i < samples; i++) {
      const tok = await token(`sampler-${i}`);
      let firstData = 0;
      let rows = 0;
      const started = performance.now();
      const s = openLightStream(
        agent,
        url,
        tok,
        (line) => {
          if (line.startsWith('{"data"')) {
            if (!firstData) firstData = performance.now() - started;
            rows += line.split('"op":"PUT"').length - 1;
          }
        },
        subscribe(`big-${i}`),
      );
      const done = await s.firstComplete;
      s.close();
      if (rows < rowsPerList) throw new Error(`sample ${i}: ${rows} rows instead of ${rowsPerList}`);
      toFirstData.push(firstData);
      toComplete.push(done);
    }
    toFirstData.sort((a, b) => a - b);
    toComplete.sort((a, b) => a - b);
    const note = `${samples} samples, ${background} other subscribed streams connected; ${load()}`;
    return [
      { name: `${background} streams subscribe (one stream each) → all checkpoint_complete`, value: Math.round(connectMs), unit: 'ms' },
      { name: `subscribe → first rows of a ${rowsPerList.toLocaleString('en')}-row subscription, p50`, value: Math.round(toFirstData[Math.floor(samples / 2)]! * 10) / 10, unit: 'ms', note },
      { name: `subscribe → first rows, p99`, value: Math.round(pct(toFirstData, 99) * 10) / 10, unit: 'ms' },
      { name: `subscribe → all ${rowsPerList.toLocaleString('en')} rows + checkpoint_complete, p50`, value: Math.round(toComplete[Math.floor(samples / 2)]! * 10) / 10, unit: 'ms' },
      { name: `subscribe → all rows + checkpoint_complete, p99`, value: Math.round(pct(toComplete, 99) * 10) / 10, unit: 'ms' },
    ];
  } finally {
    for (const s of open) s.close();
    agent.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
