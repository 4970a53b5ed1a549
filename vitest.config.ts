import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure, fast, no database) and `integration` (`*.pg.test.ts`, one embedded
 * Postgres per run started by the global setup, a fresh database per test file).
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/sync-api/test/**/*.test.ts', 'apps/dashboard/test/**/*.test.ts', 'scripts/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/cluster/*.test.ts'],
          exclude: ['**/*.pg.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
          // Unit tests run first, then the integration group with its own worker limit.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.pg.test.ts', 'apps/sync-api/test/**/*.pg.test.ts', 'scripts/test/**/*.pg.test.ts', 'test/chaos/**/*.pg.test.ts', 'test/cluster/**/*.pg.test.ts', 'examples/*/test/**/*.pg.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['packages/test-utils/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores here: more workers only fight over CPU with Postgres.
          maxWorkers: 2,
          // Timing-sensitive suites on a 2-core machine (compaction schedule, checksums under load)
          // fail now and then under load; one retry, so a failure that repeats still fails the run.
          retry: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
