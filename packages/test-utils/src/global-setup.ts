/**
 * Vitest global setup for the `integration` project: one embedded Postgres per run (or the server
 * in TEST_DATABASE_URL), shared by every test file through `inject('pgAdminUrl')`.
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { freePort } from './free-port.ts';

import './provided-context.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.TEST_DATABASE_URL;
  if (existing) {
    project.provide('pgAdminUrl', existing);
    return async () => {};
  }
  const root = await mkdtemp(path.join(tmpdir(), 'syncline-test-pg-'));
  await chmod(root, 0o755);
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(root, 'data'),
    port: await freePort(),
    // Throwaway cluster: durability settings off for speed; replication semantics unchanged.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  project.provide('pgAdminUrl', pg.url('postgres'));
  return async () => {
    await pg.stop();
    await rm(root, { recursive: true, force: true });
  };
}
