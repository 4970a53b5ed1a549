/** Runs the replication bench alone (ROWS=… to size the snapshot) on a throwaway embedded Postgres. */
import { withBenchPostgres } from '@syncline/test-utils';
import { benchReplication } from './replication.bench.ts';

await withBenchPostgres(async (url) => {
  for (const r of await benchReplication(url, { snapshotRows: Number(process.env.ROWS ?? 200_000) })) {
    process.stdout.write(`${r.name}: ${r.value} ${r.unit} ${r.note ?? ''}\n`);
  }
});
