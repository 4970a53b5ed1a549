/**
 * A dedicated embedded Postgres cluster for faults that would disturb the shared test cluster
 * (restarts, a small `max_slot_wal_keep_size`). Stopped and removed on dispose.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, startEmbeddedPostgres, type RunningPostgres } from '@syncline/test-utils';

const STOP_TIMEOUT_MS = 60_000;

/**
 * A pool for the test's own queries. Faults end its idle connections (restarts, cut networks,
 * cluster shutdown at teardown); those errors are expected, so they must not become uncaught.
 */
export function chaosPool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 4 });
  p.on('error', () => {});
  return p;
}

export interface ChaosCluster extends AsyncDisposable {
  readonly port: number;
  url(database?: string): string;
  /** Stops the server (fast shutdown), waits `downMs`, starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
}

export async function startChaosCluster(name: string, settings: Record<string, string | number> = {}): Promise<ChaosCluster> {
  const root = await mkdtemp(path.join(tmpdir(), `syncline-chaos-${name}-`));
  await chmod(root, 0o755);
  const port = await freePort();
  const opts = {
    dataDir: path.join(root, 'data'),
    port,
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', shared_buffers: '32MB', max_connections: 200, ...settings },
  };
  let running: RunningPostgres | null = await startEmbeddedPostgres(opts);
  const first = running;
  const c: ChaosCluster = {
    port,
    url: (db = 'postgres') => first.url(db),
    async stop() {
      if (!running) return;
      // A fast shutdown waits for every walsender to have its sent WAL confirmed: a client that
      // never confirms an idle position makes it hang forever. Fail loudly instead.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        running.stop(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Postgres ${name} did not shut down within ${STOP_TIMEOUT_MS} ms (a walsender waiting for its client to confirm?)`)), STOP_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      running = null;
    },
    async start() {
      if (!running) running = await startEmbeddedPostgres(opts);
    },
    async restart(downMs = 0) {
      await c.stop();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await c.start();
    },
    async createDatabase(db) {
      const client = new pg.Client({ connectionString: first.url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${db}"`);
      } finally {
        await client.end();
      }
      return first.url(db);
    },
    async [Symbol.asyncDispose]() {
      await c.stop().catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };
  return c;
}
