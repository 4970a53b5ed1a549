/**
 * Cluster scale with real processes of the compiled bundle (issue 13): one replicator process and
 * several API processes on one storage Postgres, driven by raw HTTP stream clients spread over
 * several child processes (apps/sync-api/bench/cluster-clients.ts), on loopback.
 *
 * (a) Idle streams: N streams (default 10,000; distinct users, two small rows each plus a global
 *     bucket) over 4 API processes, opened round-robin with a bounded number still connecting per
 *     client process; time until every stream has its first checkpoint_complete, errors, and
 *     memory per idle stream per API process: live JS heap + external after a forced GC
 *     (/api/admin/v1/debug/memory, the processes run with --expose-gc), before vs. with the
 *     streams idle for 5 s, divided by the streams that process holds; RSS deltas alongside.
 * (b) Write → client latency: M streams (default 1,000) over 3 API processes; one row inserted into
 *     the global bucket per round; COMMIT acknowledged → each stream's checkpoint_complete after
 *     the data line carrying the row. Breakdown: COMMIT → storage NOTIFY (replicator), → the first
 *     checkpoint line at any client (API watcher + one stream), fastest vs. slowest stream per
 *     insert (fan-out), per API process, and CPU per insert of each process.
 *
 * Run: `BENCH_ONLY=cluster-scale npm run bench` (CLUSTER_SCALE_STREAMS, CLUSTER_SCALE_LATENCY_STREAMS,
 * CLUSTER_SCALE_ROUNDS, CLUSTER_SCALE_CLIENT_PROCS size it down for a quick look;
 * CLUSTER_SCALE_PART=latency runs only (b), starting 3 API processes directly — a few minutes instead
 * of the 10,000-stream open; CLUSTER_SCALE_PART=idle runs only (a); CLUSTER_SCALE_CPU_PROF=<dir> has
 * every service process write a V8 CPU profile there on exit).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CHECKPOINT_CHANNEL } from '@syncline/engine';
import { buildSyncApi, createTestDatabase, startSyncApiProcess, type BenchResult, type SyncApiProcess } from '@syncline/test-utils';
import { mintDevToken } from '../src/auth.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
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

const log = (m: string) => process.stderr.write(`[cluster-scale bench] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const r1 = (n: number) => Math.round(n * 10) / 10;
const now = () => performance.timeOrigin + performance.now();
const envInt = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

/** CPU time (user + system) of a process in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

interface Memory {
  live: number;
  rss: number;
  connections: number;
}

async function memory(p: SyncApiProcess, adminToken: string): Promise<Memory> {
  const res = await fetch(`${p.url}/api/admin/v1/debug/memory`, { headers: { authorization: `Bearer ${adminToken}` } });
  const body = (await res.json()) as { data: { heap_used: number; external: number; gc: boolean; connections: number } };
  if (!body.data.gc) throw new Error(`${p.name} runs without --expose-gc: heap numbers would include garbage`);
  return { live: body.data.heap_used + body.data.external, rss: rssBytes(p.child.pid!), connections: body.data.connections };
}

/** One client child process (see cluster-clients.ts) with a promise per awaited reply type. */
class ClientProcess {
  readonly child: ChildProcess;
  /** Resolves once the process loaded its code (so CPU and timings measured after it are the clients'). */
  readonly ready: Promise<unknown>;
  private readonly waiting = new Map<string, Array<{ resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>>();

  constructor() {
    this.child = fork(path.join(HERE, 'cluster-clients.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: Record<string, unknown>) => this.waiting.get(m.type as string)?.shift()?.resolve(m));
    this.child.once('exit', (code) => {
      for (const list of this.waiting.values()) for (const w of list.splice(0)) w.reject(new Error(`client process exited (${code})`));
    });
    this.ready = this.reply('ready');
  }

  request<T extends Record<string, unknown>>(msg: Record<string, unknown>, reply: string): Promise<T> {
    const p = this.reply<T>(reply);
    this.child.send(msg);
    return p;
  }

  reply<T extends Record<string, unknown>>(type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error('client process exited'));
      const list = this.waiting.get(type) ?? [];
      list.push({ resolve: (m) => resolve(m as T), reject });
      this.waiting.set(type, list);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'close' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

interface Opened {
  firsts: number[];
  errors: number;
  firstErrors: string[];
  [k: string]: unknown;
}

/** Opens one stream per user over `urls` from `procs` client processes; resolves when all reported. */
async function openStreams(procs: ClientProcess[], urls: string[], tokens: string[], concurrency: number): Promise<{ ms: number; firsts: number[]; errors: number; firstErrors: string[] }> {
  const t0 = performance.now();
  const replies = await Promise.all(
    procs.map((p, w) => {
      // Client process w takes every w-th token; its streams go round-robin over the API processes.
      const mine = tokens.filter((_, i) => i % procs.length === w);
      return p.request<Opened>({ type: 'open', urls, tokens: mine, concurrency }, 'opened');
    }),
  );
  return {
    ms: performance.now() - t0,
    firsts: sorted(replies.flatMap((r) => r.firsts)),
    errors: replies.reduce((n, r) => n + r.errors, 0),
    firstErrors: replies.flatMap((r) => r.firstErrors),
  };
}

/** Open-files soft limit of this process (children inherit it), from /proc/self/limits. */
function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

export async function benchClusterScale(adminUrl: string): Promise<BenchResult[]> {
  const idleStreams = envInt('CLUSTER_SCALE_STREAMS', 10_000);
  const latencyStreams = envInt('CLUSTER_SCALE_LATENCY_STREAMS', 1_000);
  const rounds = envInt('CLUSTER_SCALE_ROUNDS', 20);
  const clientProcs = envInt('CLUSTER_SCALE_CLIENT_PROCS', 4);
  const concurrency = envInt('CLUSTER_SCALE_CONNECTING', 250);
  const part = process.env.CLUSTER_SCALE_PART ?? 'all';
  if (!['all', 'idle', 'latency'].includes(part)) throw new Error(`CLUSTER_SCALE_PART must be all, idle or latency (got ${part})`);
  const runIdle = part !== 'latency';
  const runLatency = part !== 'idle';
  const idleApis = 4;
  const latencyApis = 3;
  // Each API process holds its share of the sockets, each client process its share (plus slack).
  const needFiles = Math.ceil((runIdle ? idleStreams : latencyStreams) / Math.min(idleApis, clientProcs)) + 500;
  if (openFilesLimit() < needFiles) {
    throw new Error(`open-files limit ${openFilesLimit()} is below the ${needFiles} sockets one process holds here: run with \`ulimit -n ${needFiles * 2}\` (or fewer CLUSTER_SCALE_STREAMS)`);
  }
  const results: BenchResult[] = [];
  const push = (r: BenchResult) => {
    results.push(r);
    log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
  };

  await buildSyncApi();
  await using db = await createTestDatabase(adminUrl, 'bench_scale');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  const users = runIdle ? Math.max(idleStreams, latencyStreams) : latencyStreams;
  await source.query(`
    CREATE TABLE items (id bigint PRIMARY KEY, owner_id text NOT NULL, title text NOT NULL, body text);
    CREATE TABLE announcements (id bigint PRIMARY KEY, body text NOT NULL);
    INSERT INTO items SELECT i, 'u-' || (i % ${users}), 'Item ' || i, repeat('lorem ipsum ', 4) FROM generate_series(1, ${users * 2}) i;
    INSERT INTO announcements VALUES (1, 'welcome');`);
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-scale-bench-'));
  writeFileSync(path.join(dir, 'rules.yaml'), RULES);
  const jwtSecret = randomBytes(32).toString('base64url');
  const adminToken = randomBytes(24).toString('hex');
  const env = {
    SOURCE_DATABASE_URL: db.url,
    STORAGE_DATABASE_URL: storageUrl,
    ADMIN_TOKEN: adminToken,
    JWT_SECRET: jwtSecret,
    PUBLICATION_NAME: `pub_${db.name}`,
    SYNC_RULES_PATH: path.join(dir, 'rules.yaml'),
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: '--expose-gc',
  };
  // CLUSTER_SCALE_CPU_PROF=<dir>: every service process writes a V8 CPU profile there when it exits.
  const profDir = process.env.CLUSTER_SCALE_CPU_PROF;
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const procs: SyncApiProcess[] = [];
  let clients: ClientProcess[] = [];
  const listener = new pg.Client({ connectionString: storageUrl });
  listener.on('error', () => {});
  try {
    const replicator = await startSyncApiProcess({ env, runner: 'replicator', name: 'replicator', nodeArgs, waitFor: 'live', startTimeoutMs: 180_000 });
    procs.push(replicator);
    const apis = await Promise.all(
      Array.from({ length: runIdle ? idleApis : latencyApis }, (_, i) => startSyncApiProcess({ env, runner: 'api', name: `api-${i}`, nodeArgs, waitFor: 'ready', startTimeoutMs: 180_000 })),
    );
    procs.push(...apis);
    log(`replicator + ${apis.length} API processes ready`);
    const t0 = performance.now();
    const tokens = await Promise.all(Array.from({ length: users }, async (_, i) => (await mintDevToken(jwtSecret, `u-${i}`, { ttlSeconds: 7200 })).token));
    log(`${users} tokens minted in ${Math.round(performance.now() - t0)} ms`);

    if (runIdle) {
      // Warm-up: a few streams per process open, complete and close before the memory baseline.
      clients = Array.from({ length: clientProcs }, () => new ClientProcess());
      await openStreams(clients.slice(0, 1), apis.map((a) => a.url), tokens.slice(0, 20 * apis.length), 50);
      await Promise.all(clients.map((c) => c.close()));
      await sleep(3000);
      const before = await Promise.all(apis.map((a) => memory(a, adminToken)));

      // (a) N idle streams over 4 API processes.
      clients = Array.from({ length: clientProcs }, () => new ClientProcess());
      await Promise.all(clients.map((c) => c.ready)); // client processes load their code before the clock starts
      const cpu0 = apis.map((a) => cpuMs(a.child.pid!));
      const clientCpu0 = clients.map((c) => cpuMs(c.child.pid!));
      const loadOpen = load();
      const opened = await openStreams(clients, apis.map((a) => a.url), tokens.slice(0, idleStreams), concurrency);
      const serverCpu = apis.reduce((n, a, i) => n + cpuMs(a.child.pid!) - cpu0[i]!, 0);
      const clientCpu = clients.reduce((n, c, i) => n + cpuMs(c.child.pid!) - clientCpu0[i]!, 0);
      push({
        name: `${idleStreams.toLocaleString('en')} streams over ${idleApis} API processes: all have their first checkpoint_complete`,
        value: Math.round(opened.ms),
        unit: 'ms',
        note: `${opened.firsts.length} ok, ${opened.errors} errors${opened.firstErrors.length ? ` (${opened.firstErrors.join('; ')})` : ''}; per stream open → first complete p50 ${Math.round(pct(opened.firsts, 50))} ms, p99 ${Math.round(pct(opened.firsts, 99))} ms; ${clientProcs} client processes, ≤ ${concurrency} connecting each; CPU: API processes ${Math.round(serverCpu)} ms, clients ${Math.round(clientCpu)} ms; ${loadOpen}`,
      });
      await sleep(5000);
      const after = await Promise.all(apis.map((a) => memory(a, adminToken)));
      const perStream = apis.map((_, i) => (after[i]!.live - before[i]!.live) / Math.max(1, after[i]!.connections - before[i]!.connections));
      const rssPerStream = apis.map((_, i) => (after[i]!.rss - before[i]!.rss) / Math.max(1, after[i]!.connections - before[i]!.connections));
      push({
        name: 'memory per idle stream (live JS heap + external after GC, per API process)',
        value: r1(perStream.reduce((a, b) => a + b, 0) / perStream.length / 1024),
        unit: 'KB',
        note: `mean over ${idleApis} processes; per process ${perStream.map((b) => r1(b / 1024)).join(' / ')} KB with ${after.map((m) => m.connections).join(' / ')} streams; live heap+external ${before.map((m) => r1(m.live / 2 ** 20)).join(' / ')} → ${after.map((m) => r1(m.live / 2 ** 20)).join(' / ')} MB; RSS ${after.map((m) => r1(m.rss / 2 ** 20)).join(' / ')} MB (RSS delta per stream ${rssPerStream.map((b) => r1(b / 1024)).join(' / ')} KB); target ≤ 25 KB; ${load()}`,
      });
      await Promise.all(clients.map((c) => c.close()));
      clients = [];
    }
    if (!runLatency) return results;

    // (b) Write → client latency, M streams over 3 API processes.
    if (apis.length > latencyApis) {
      const gone = apis.pop()!;
      await gone.stop('SIGTERM', 30_000);
      await sleep(3000);
    }
    clients = Array.from({ length: Math.min(clientProcs, 2) }, () => new ClientProcess());
    await Promise.all(clients.map((c) => c.ready));
    const latOpen = await openStreams(clients, apis.map((a) => a.url), tokens.slice(0, latencyStreams), concurrency);
    if (latOpen.errors > 0) throw new Error(`latency streams: ${latOpen.errors} failed to open (${latOpen.firstErrors.join('; ')})`);
    await sleep(2000);
    await listener.connect();
    await listener.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    let notifiedAt = 0;
    listener.on('notification', () => {
      if (!notifiedAt) notifiedAt = now();
    });
    const lat: number[] = [];
    const byApi: number[][] = apis.map(() => []);
    const fastest: number[] = [];
    const slowest: number[] = [];
    const notify: number[] = [];
    const firstLine: number[] = [];
    let missed = 0;
    const apiCpu0 = apis.map((a) => cpuMs(a.child.pid!));
    const replicatorCpu0 = cpuMs(replicator.child.pid!);
    const clientsCpu0 = clients.reduce((n, c) => n + cpuMs(c.child.pid!), 0);
    const loadLat = load();
    for (let r = 0; r < rounds; r++) {
      const marker = `lat-${r}-${randomBytes(4).toString('hex')}`;
      await Promise.all(clients.map((c) => c.request({ type: 'watch', marker }, 'watching')));
      const seen = Promise.all(clients.map((c) => c.reply<{ at: number[]; urls: number[]; firstLineAt: number }>('seen')));
      notifiedAt = 0;
      await source.query('INSERT INTO announcements VALUES ($1, $2)', [1000 + r, marker]);
      const committedAt = now();
      const timer = setTimeout(() => clients.forEach((c) => c.child.send({ type: 'flush' })), 10_000);
      const replies = await seen;
      clearTimeout(timer);
      const round: number[] = [];
      for (const rep of replies) {
        rep.at.forEach((at, i) => {
          round.push(at - committedAt);
          byApi[rep.urls[i]!]!.push(at - committedAt);
        });
        if (rep.firstLineAt) firstLine.push(rep.firstLineAt - committedAt);
      }
      missed += latencyStreams - round.length;
      if (notifiedAt) notify.push(notifiedAt - committedAt);
      if (round.length) {
        fastest.push(Math.min(...round));
        slowest.push(Math.max(...round));
      }
      lat.push(...round);
      await sleep(200);
    }
    const apiCpu = apis.map((a, i) => (cpuMs(a.child.pid!) - apiCpu0[i]!) / rounds);
    const replicatorCpu = (cpuMs(replicator.child.pid!) - replicatorCpu0) / rounds;
    const clientsCpu = (clients.reduce((n, c) => n + cpuMs(c.child.pid!), 0) - clientsCpu0) / rounds;
    const s = sorted(lat);
    const note = `${rounds} inserts × ${latencyStreams} streams over ${latencyApis} API processes (${clients.length} client processes), ${s.length} samples${missed ? `, ${missed} missed within 10 s` : ''}; min ${r1(s[0] ?? NaN)} ms, max ${r1(s[s.length - 1] ?? NaN)} ms; ${loadLat}`;
    push({ name: `write → client latency p50 (${latencyStreams.toLocaleString('en')} streams, ${latencyApis} API processes)`, value: r1(pct(s, 50)), unit: 'ms', note });
    push({
      name: `write → client latency p99 (${latencyStreams.toLocaleString('en')} streams, ${latencyApis} API processes)`,
      value: r1(pct(s, 99)),
      unit: 'ms',
      note:
        `where the time goes (p50 per insert): COMMIT → storage NOTIFY ${r1(pct(sorted(notify), 50))} ms (replicator); → first checkpoint line at any client ${r1(pct(sorted(firstLine), 50))} ms; ` +
        `fastest stream ${r1(pct(sorted(fastest), 50))} ms, slowest ${r1(pct(sorted(slowest), 50))} ms (fan-out of ~${Math.round(latencyStreams / latencyApis)} streams per process); ` +
        `p50 per API process ${byApi.map((a) => r1(pct(sorted(a), 50))).join(' / ')} ms; CPU per insert: API processes ${apiCpu.map((c) => r1(c)).join(' / ')} ms, replicator ${r1(replicatorCpu)} ms, clients ${r1(clientsCpu)} ms (each incl. 200 ms idle gaps)`,
    });
    return results;
  } finally {
    await listener.end().catch(() => {});
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    // A profile is written only on a clean exit: SIGTERM (drain, then exit) instead of SIGKILL.
    if (profDir) await Promise.all(procs.map((p) => p.stop('SIGTERM', 30_000).catch(() => {})));
    for (const p of procs) await p[Symbol.asyncDispose]();
    rmSync(dir, { recursive: true, force: true });
  }
}
