/**
 * The Syncline cluster of the cluster test, as it runs in production but on one machine: a source
 * Postgres (wal_level=logical) and a separate storage Postgres (two embedded clusters), replicator
 * processes (one active, the others standing by on the version's advisory lock), API processes
 * behind a round-robin balancer. Every process is a real OS process started by
 * `startServiceProcess`; faults are real signals and real backend terminations.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
// eslint-disable-next-line no-restricted-imports -- the cluster test mints dev tokens the way the service does
import { mintDevToken } from '../../../apps/sync-api/src/auth.ts';
import { chaosPool, startChaosCluster, type ChaosCluster } from '../../chaos/support/cluster.ts';
import { startBalancer, type Balancer } from './balancer.ts';
import { ownsLocalPort, startServiceProcess, type ClusterEnv, type Runner, type ServiceProcess } from './service-process.ts';

/** Advisory lock class of replication jobs (engine replicator.ts: 'SY'). */
const REPLICATION_LOCK_CLASS = 0x5359;

export interface Cluster extends AsyncDisposable {
  readonly sourcePg: ChaosCluster;
  readonly storagePg: ChaosCluster;
  readonly source: pg.Pool;
  readonly storage: pg.Pool;
  readonly env: ClusterEnv;
  readonly balancer: Balancer;
  /** Live and dead processes by name (a restarted process replaces its entry). */
  readonly processes: Map<string, ServiceProcess>;
  apis(): ServiceProcess[];
  replicators(): ServiceProcess[];
  /** Starts a process (replacing a stopped one of the same name) and updates the balancer. */
  start(name: string, runner: Runner): Promise<ServiceProcess>;
  /** The replicator process holding the lock of the ACTIVE version, and the lock's backend pid. */
  activeReplicator(): Promise<{ process: ServiceProcess; backendPid: number } | null>;
  token(userId: string): Promise<string>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  deploy(yaml: string): Promise<number>;
  /** The ACTIVE version's id and last checkpoint in storage. */
  activeCheckpoint(): Promise<{ id: number; checkpoint: bigint } | null>;
  /** application_name of every client connection to the storage and the source database. */
  connectionNames(): Promise<{ storage: string[]; source: string[] }>;
  /** Peak RSS per process name over the run (including replaced processes). */
  peakRss(): Record<string, number>;
}

export interface ClusterOptions {
  replicators: number;
  apis: number;
  /** SQL creating the source schema and data. */
  setup: (source: pg.Pool) => Promise<void>;
  extraEnv?: Record<string, string>;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const say = (m: string) => process.stderr.write(`[cluster] ${m}\n`);
  const sourcePg = await startChaosCluster('cluster-source');
  say('source Postgres up');
  const storagePg = await startChaosCluster('cluster-storage', { max_connections: 300 });
  const sourceUrl = await sourcePg.createDatabase('app');
  const storageUrl = await storagePg.createDatabase('syncline_storage');
  const source = chaosPool(sourceUrl);
  const storage = chaosPool(storageUrl);
  await o.setup(source);
  const env: ClusterEnv = {
    sourceUrl,
    storageUrl,
    publication: 'syncline_cluster',
    adminToken: randomBytes(24).toString('hex'),
    jwtSecret: randomBytes(32).toString('base64url'),
    extra: o.extraEnv ?? {},
  };
  const processes = new Map<string, ServiceProcess>();
  const peaks: Record<string, number> = {};
  const balancer = await startBalancer([]);
  const apis = () => [...processes.values()].filter((p) => p.runner === 'api');
  const syncBalancer = () => balancer.setBackends(apis().filter((p) => p.alive()).map((p) => ({ name: p.name, port: p.port })));
  const sampler = setInterval(() => {
    for (const p of processes.values()) {
      void p.sample().then(() => {
        peaks[p.name] = Math.max(peaks[p.name] ?? 0, p.peakRss());
      });
    }
  }, 1000);
  sampler.unref();

  const start = async (name: string, runner: Runner) => {
    const old = processes.get(name);
    if (old?.alive()) throw new Error(`${name} is still running`);
    const p = await startServiceProcess(name, runner, env);
    processes.set(name, p);
    void p.exited.then(syncBalancer);
    syncBalancer();
    return p;
  };
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(balancer.url + path, { ...init, headers: { authorization: `Bearer ${env.adminToken}`, ...(init.headers ?? {}) } });

  const cluster: Cluster = {
    sourcePg,
    storagePg,
    source,
    storage,
    env,
    balancer,
    processes,
    apis,
    replicators: () => [...processes.values()].filter((p) => p.runner === 'replicator'),
    start,
    async activeReplicator() {
      const { rows } = await storage.query<{ pid: number; port: number | null }>(
        `SELECT l.pid, a.client_port AS port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objsubid = 2 AND l.granted
            AND l.objid = (SELECT id FROM syncline.sync_rules_versions WHERE state = 'ACTIVE' ORDER BY id DESC LIMIT 1)`,
        [REPLICATION_LOCK_CLASS],
      );
      const row = rows[0];
      if (!row?.port) return null;
      for (const p of cluster.replicators()) if (p.alive() && (await ownsLocalPort(p.pid, row.port))) return { process: p, backendPid: row.pid };
      return null;
    },
    token: async (userId) => (await mintDevToken(env.jwtSecret, userId)).token,
    admin,
    async deploy(yaml) {
      const res = await admin('/api/sync-rules/v1/deploy', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
      const body = (await res.json()) as { data?: { id: number } };
      if (!res.ok || !body.data) throw new Error(`deploy failed: ${res.status} ${JSON.stringify(body)}`);
      return body.data.id;
    },
    async activeCheckpoint() {
      const { rows } = await storage.query<{ id: number; last_checkpoint: string | null }>(
        `SELECT id, last_checkpoint FROM syncline.sync_rules_versions WHERE state = 'ACTIVE' ORDER BY id DESC LIMIT 1`,
      );
      const r = rows[0];
      return r ? { id: r.id, checkpoint: BigInt(r.last_checkpoint ?? 0) } : null;
    },
    async connectionNames() {
      const q = `SELECT application_name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> ''`;
      const names = async (pool: pg.Pool) => (await pool.query<{ application_name: string }>(q)).rows.map((r) => r.application_name).sort();
      return { storage: await names(storage), source: await names(source) };
    },
    peakRss() {
      for (const p of processes.values()) peaks[p.name] = Math.max(peaks[p.name] ?? 0, p.peakRss());
      return { ...peaks };
    },
    async [Symbol.asyncDispose]() {
      // Idempotent: the test's `await using` and its afterAll (which runs after a test timeout,
      // when the test body never reaches its disposal) may both call it.
      if (disposed) return disposed;
      disposed = disposeAll();
      return disposed;
    },
  };
  let disposed: Promise<void> | null = null;
  const disposeAll = async () => {
    clearInterval(sampler);
    await Promise.allSettled([...processes.values()].map((p) => p.stop('SIGTERM', 5_000)));
    await balancer[Symbol.asyncDispose]();
    await Promise.allSettled([source.end(), storage.end()]);
    await storagePg[Symbol.asyncDispose]();
    await sourcePg[Symbol.asyncDispose]();
  };
  try {
    // The first replicator takes the lock; the others wait on it as standbys.
    for (let i = 1; i <= o.replicators; i++) await start(`replicator-${i}`, 'replicator');
    say('replicators up');
    await Promise.all(Array.from({ length: o.apis }, (_, i) => start(`api-${i + 1}`, 'api')));
  } catch (e) {
    await cluster[Symbol.asyncDispose]();
    throw e;
  }
  return cluster;
}

/** Waits for `predicate` (polled), failing with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, predicate: () => Promise<T | null | false | undefined> | T | null | false | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
