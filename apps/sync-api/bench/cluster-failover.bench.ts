/**
 * Failover and drain times with real processes of the compiled bundle (issue 13):
 * - replicator failover: two replicator processes (active + standby, the standby blocked in
 *   `pg_advisory_lock`) and one API process; SIGKILL the active replicator, commit a row at once,
 *   time until the storage has a checkpoint past that commit (kill → first new storage
 *   checkpoint: the failover bound itself) and until the API's client stream delivers it
 *   (replication and fan-out latency included); a new standby is started between runs.
 * - API drain: an API process with N open HTTP sync streams (each past its first
 *   checkpoint_complete); SIGTERM → process exit, and the drain time the process logs.
 * p50 and max over the runs. Run: `BENCH_ONLY=cluster-failover npm run bench`.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSyncApi, createTestDatabase, startSyncApiProcess, type BenchResult, type SyncApiProcess } from '@syncline/test-utils';
import pg from 'pg';
import { getServingVersion, normalizeLsn } from '@syncline/engine';
import { mintDevToken } from '../src/auth.ts';

const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT id, owner, label FROM items WHERE owner = bucket.owner
`;
const log = (m: string) => process.stderr.write(`[cluster-failover bench] ${m}\n`);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

/** An NDJSON stream that resolves `has(text)` once the text appeared in the body. */
function openRawStream(url: string, token: string): { has(text: string, timeoutMs?: number): Promise<void>; ended: Promise<void>; close(): void } {
  let body = '';
  const waiters = new Set<() => void>();
  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => (resolveEnded = r));
  const req = http.request(`${url}/sync/stream`, { method: 'POST', agent: false, headers: { authorization: `Token ${token}`, 'content-type': 'application/json' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      body = (body + d).slice(-200_000);
      for (const w of waiters) w();
    });
    res.on('end', resolveEnded);
    res.on('error', resolveEnded);
    res.on('close', resolveEnded);
  });
  req.on('error', resolveEnded);
  req.end('{"raw_data":true}');
  return {
    ended,
    close: () => req.destroy(),
    has(text, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!body.includes(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`"${text}" not received within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

async function metric(p: SyncApiProcess, name: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

export async function benchClusterFailover(adminUrl: string, opts: { runs?: number; streams?: number } = {}): Promise<BenchResult[]> {
  const runs = opts.runs ?? 5;
  const streams = opts.streams ?? 200;
  await buildSyncApi();
  await using db = await createTestDatabase(adminUrl, 'bench_failover');
  const storageUrl = await db.createSibling('storage');
  const source = db.pool();
  const storage = new pg.Pool({ connectionString: storageUrl, max: 1 });
  storage.on('error', () => {});
  /** Resolves once the serving version has a checkpoint at or past `lsn` (polled every 10 ms). */
  const checkpointPast = async (lsn: string) => {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
      if (((await getServingVersion(storage))?.lastCheckpointLsn ?? '') >= lsn) return;
    }
    throw new Error(`no storage checkpoint past ${lsn} within 30 s`);
  };
  await source.query('CREATE TABLE items (id text PRIMARY KEY, owner text NOT NULL, label text)');
  await source.query(`INSERT INTO items SELECT 'seed-' || g, 'u' || (g % ${streams}), 'seed' FROM generate_series(1, ${streams * 10}) g`);
  const dir = mkdtempSync(path.join(tmpdir(), 'syncline-failover-bench-'));
  writeFileSync(path.join(dir, 'rules.yaml'), RULES);
  const jwtSecret = randomBytes(32).toString('base64url');
  const env = {
    SOURCE_DATABASE_URL: db.url,
    STORAGE_DATABASE_URL: storageUrl,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    JWT_SECRET: jwtSecret,
    PUBLICATION_NAME: `pub_${db.name}`,
    SYNC_RULES_PATH: path.join(dir, 'rules.yaml'),
    LOG_LEVEL: 'info',
  };
  const token = async (u: string) => (await mintDevToken(jwtSecret, u, { ttlSeconds: 3600 })).token;
  const procs: SyncApiProcess[] = [];
  const start = async (runner: 'replicator' | 'api', name: string) => {
    const p = await startSyncApiProcess({ env, runner, name, waitFor: runner === 'api' ? 'ready' : 'live', startTimeoutMs: 180_000 });
    procs.push(p);
    return p;
  };
  try {
    // Replicator failover.
    let active = await start('replicator', 'replicator-0');
    await active.waitForLog((l) => l.msg === 'replication job starting', 60_000);
    let standby = await start('replicator', 'replicator-1');
    const api = await start('api', 'api-failover');
    const stream = openRawStream(api.url, await token('u0'));
    await stream.has('checkpoint_complete');
    const failover: number[] = [];
    const toCheckpoint: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `failover-${i}`;
      const t0 = performance.now();
      active.child.kill('SIGKILL');
      await source.query(`INSERT INTO items VALUES ($1, 'u0', 'x')`, [id]);
      const { rows } = await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const checkpointed = checkpointPast(normalizeLsn(rows[0]!.lsn)).then(() => toCheckpoint.push(performance.now() - t0));
      await stream.has(`"${id}"`, 30_000);
      failover.push(performance.now() - t0);
      await checkpointed;
      await active.exited;
      log(`failover run ${i + 1}: first new storage checkpoint ${toCheckpoint[i]!.toFixed(0)} ms, change at the API client ${failover[i]!.toFixed(0)} ms`);
      active = standby;
      standby = await start('replicator', `replicator-${i + 2}`);
    }
    stream.close();

    // API drain with N open streams.
    const drainExit: number[] = [];
    const drainLogged: number[] = [];
    for (let i = 0; i < runs; i++) {
      const p = await start('api', `api-drain-${i}`);
      const open = await Promise.all(Array.from({ length: streams }, async (_, k) => openRawStream(p.url, await token(`u${k}`))));
      await Promise.all(open.map((s) => s.has('checkpoint_complete', 60_000)));
      const connected = await metric(p, 'syncline_connections');
      const exit = await p.stop('SIGTERM', 60_000);
      if (exit.code !== 0) throw new Error(`api-drain-${i} exited with ${exit.code ?? exit.signal}`);
      await Promise.all(open.map((s) => s.ended));
      const drained = p.logs().find((l) => l.msg === 'drain finished: all streams ended' || (typeof l.msg === 'string' && l.msg.startsWith('drain timed out')));
      const closedAt = p.logs().find((l) => l.msg === 'stopped');
      const phases = p.logs().filter((l) => ['shutting down', 'drain started: readiness 503, new streams refused, open streams ending', 'stopped'].includes(l.msg as string) || l.msg === drained?.msg);
      drainExit.push(exit.afterMs);
      drainLogged.push(Number(drained?.durationMs ?? NaN));
      log(`drain run ${i + 1}: ${connected} streams, drain ${drained?.durationMs} ms, SIGTERM → exit ${exit.afterMs} ms (stopped after ${closedAt?.durationMs} ms; ${phases.map((l) => `${String(l.msg).slice(0, 14)}@${(l.time as number) - (phases[0]!.time as number)}`).join(', ')})`);
    }
    const s = (a: number[]) => [...a].sort((x, y) => x - y);
    const f = s(failover);
    const c = s(toCheckpoint);
    const de = s(drainExit);
    const dl = s(drainLogged);
    return [
      { name: 'replicator failover, SIGKILL → first new storage checkpoint, p50', value: Math.round(pct(c, 50)), unit: 'ms', note: `${runs} runs; standby blocked in pg_advisory_lock` },
      { name: 'replicator failover, SIGKILL → first new storage checkpoint, max', value: Math.round(c[c.length - 1]!), unit: 'ms', note: 'target ≤ 5,000 ms' },
      { name: 'replicator failover, SIGKILL → change at API client, p50', value: Math.round(pct(f, 50)), unit: 'ms', note: `${runs} runs` },
      { name: 'replicator failover, SIGKILL → change at API client, max', value: Math.round(f[f.length - 1]!), unit: 'ms', note: 'target ≤ 5,000 ms' },
      { name: `API drain with ${streams} open streams, SIGTERM → exit, p50`, value: Math.round(pct(de, 50)), unit: 'ms', note: `${runs} runs; includes stopping services and pools` },
      { name: `API drain with ${streams} open streams, SIGTERM → exit, max`, value: Math.round(de[de.length - 1]!), unit: 'ms' },
      { name: `API drain with ${streams} open streams, all streams ended (logged), p50`, value: Math.round(pct(dl, 50)), unit: 'ms', note: `max ${Math.round(dl[dl.length - 1]!)} ms` },
    ];
  } finally {
    for (const p of procs) await p[Symbol.asyncDispose]();
    await storage.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
