/**
 * A throwaway embedded Postgres for benchmarks (default durability settings, unlike the test
 * cluster), or the server in TEST_DATABASE_URL. Always stopped and removed afterwards.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { freePort } from './free-port.ts';

export async function withBenchPostgres<T>(fn: (adminUrl: string) => Promise<T>): Promise<T> {
  if (process.env.TEST_DATABASE_URL) return fn(process.env.TEST_DATABASE_URL);
  const root = await mkdtemp(path.join(tmpdir(), 'syncline-bench-pg-'));
  await chmod(root, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'data'), port: await freePort(), settings: { shared_buffers: '512MB', max_wal_size: '4GB' } });
  try {
    return await fn(pg.url('postgres'));
  } finally {
    await pg.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** One benchmark measurement, as written to BENCHMARKS.md. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Context, e.g. the ratio to a ceiling. */
  note?: string;
}
