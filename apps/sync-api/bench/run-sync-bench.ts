/**
 * Runs the sync API bench alone on a throwaway embedded Postgres (or TEST_DATABASE_URL):
 * `npx tsx apps/sync-api/bench/run-sync-bench.ts` (ROWS=… sizes the big download, STREAMS=… the fan-out).
 */
import { withBenchPostgres } from '@syncline/test-utils';
import { benchSync } from './sync.bench.ts';

await withBenchPostgres(async (url) => {
  const results = await benchSync(url, { rows1M: Number(process.env.ROWS ?? 1_000_000), streams: Number(process.env.STREAMS ?? 1000) });
  for (const r of results) process.stdout.write(`${r.name}: ${r.value} ${r.unit} ${r.note ?? ''}\n`);
});
