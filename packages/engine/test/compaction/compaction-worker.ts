/**
 * Compaction in its own process, for kill tests: compacts every bucket of the serving version with
 * tiny batches and prints "batch" after each committed one, pausing briefly so a SIGKILL lands
 * between (or inside) batches. Env: STORAGE_URL.
 */
import pg from 'pg';
import { runCompaction } from '@syncline/engine';

const pool = new pg.Pool({ connectionString: process.env.STORAGE_URL!, max: 3 });
await runCompaction(pool, {
  minOps: 0,
  minRatio: 0,
  scanBatch: 50,
  moveBatch: 20,
  clearBatch: 20,
  onBatch: async () => {
    process.stdout.write('batch\n');
    await new Promise((r) => setTimeout(r, 5));
  },
});
process.stdout.write('done\n');
await pool.end();
