/**
 * Compaction benchmark (issue 8): one bucket holding `updates` PUT ops over `rows` rows (default
 * 1M updates to 10k rows, written storage-side so the bench measures compaction, not replication).
 * Records op-log rows before/after compaction, compaction throughput (ops of the bucket processed
 * per second, MOVE + CLEAR passes), and the time a fresh client needs to download the bucket
 * before and after: the server side of a download (the sync stream's paged reads of 1000 ops and
 * the wire JSON of every data line), without network or client SQLite.
 *
 * Run alone: `npx tsx packages/engine/bench/compaction.bench.ts` (UPDATES=200000 for a quicker run).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createTestDatabase } from '@syncline/test-utils';
import { migrateStorage, PgBucketReader, runCompaction } from '@syncline/engine';

import type { BenchResult } from '@syncline/test-utils';
export type { BenchResult };

export async function benchCompaction(adminUrl: string, opts: { updates?: number; rows?: number } = {}): Promise<BenchResult[]> {
  const updates = opts.updates ?? 1_000_000;
  const rows = opts.rows ?? 10_000;
  await using db = await createTestDatabase(adminUrl, 'bench_compact');
  await migrateStorage(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  try {
    const bucket = '1#bench[]';
    await pool.query(
      `INSERT INTO syncline.sync_rules_versions (id, state, content, slot_name, snapshot_done, last_checkpoint, last_checkpoint_lsn)
       VALUES (1, 'ACTIVE', 'bucket_definitions: {}', 'bench', true, $1, '0/1')`,
      [updates],
    );
    // Op g updates row g % rows; checksums are arbitrary u32 values (compaction only sums them).
    await pool.query(
      `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
       SELECT 1, $1, g, 1, 1, 'r' || (g % $3), 'todos', 'r' || (g % $3), (hashint8(g)::bigint & 4294967295),
              '{"id":"r' || (g % $3) || '","description":"todo item number ' || g || '","done":0,"list_id":"l1"}'
         FROM generate_series(1, $2::bigint) g`,
      [bucket, updates, rows],
    );
    await pool.query(
      `INSERT INTO syncline.bucket_state (version_id, bucket, last_op, checksum, op_count, bytes, live_rows)
       SELECT 1, bucket, max(op_id), sum(checksum) % 4294967296, count(*), sum(length(data)), $1 FROM syncline.bucket_data GROUP BY bucket`,
      [rows],
    );
    await pool.query(`UPDATE syncline.op_id_counter SET last = $1 WHERE id = 1`, [updates]);
    await pool.query('VACUUM ANALYZE syncline.bucket_data');
    const count = async () => Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM syncline.bucket_data WHERE version_id = 1')).rows[0]!.n);

    const reader = new PgBucketReader(pool);
    const download = async (): Promise<{ seconds: number; bytes: number }> => {
      const start = performance.now();
      let after = 0n;
      let bytes = 0;
      for (;;) {
        const { results } = await reader.getOps(1, [{ bucket, after }], BigInt(updates), 1000);
        const ops = results[0]?.ops ?? [];
        if (ops.length === 0) break;
        const last = ops[ops.length - 1]!.opId;
        bytes += JSON.stringify({
          data: { bucket, after: after.toString(), next_after: last.toString(), has_more: true, data: ops.map((o) => ({ ...o, opId: o.opId.toString(), targetOp: null })) },
        }).length;
        after = last;
        if (!results[0]!.hasMore) break;
      }
      return { seconds: (performance.now() - start) / 1000, bytes };
    };

    const before = await count();
    const downloadBefore = await download();
    const start = performance.now();
    const report = await runCompaction(pool, { buckets: [bucket], parameterHorizon: null });
    const seconds = (performance.now() - start) / 1000;
    const after = await count();
    const downloadAfter = await download();
    // Deleted ops stay as dead index entries until (auto)vacuum; measure once more after it.
    await pool.query('VACUUM syncline.bucket_data');
    const downloadVacuumed = await download();
    const stats = report.buckets[0]!;
    return [
      { name: 'compaction: op-log rows before', value: before, unit: 'ops', note: `${updates.toLocaleString('en-US')} updates to ${rows.toLocaleString('en-US')} rows` },
      { name: 'compaction: op-log rows after', value: after, unit: 'ops' },
      { name: 'compaction: throughput', value: Math.round(before / seconds), unit: 'ops/s', note: `${seconds.toFixed(1)} s; ${stats.moved} MOVE rewrites, ${stats.removed} ops merged into a CLEAR` },
      { name: 'compaction: fresh download before (server read + encode)', value: Number(downloadBefore.seconds.toFixed(2)), unit: 's', note: `${(downloadBefore.bytes / 1e6).toFixed(0)} MB of data lines` },
      { name: 'compaction: fresh download after (server read + encode)', value: Number(downloadAfter.seconds.toFixed(3)), unit: 's', note: `${(downloadAfter.bytes / 1e6).toFixed(1)} MB of data lines; first read, dead tuples not yet vacuumed` },
      { name: 'compaction: fresh download after vacuum (server read + encode)', value: Number(downloadVacuumed.seconds.toFixed(3)), unit: 's' },
    ];
  } finally {
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { withBenchPostgres } = await import('@syncline/test-utils');
  await withBenchPostgres(async (url: string) => {
    for (const r of await benchCompaction(url, { updates: Number(process.env.UPDATES ?? 1_000_000) })) {
      process.stdout.write(`${r.name}: ${r.value.toLocaleString('en-US')} ${r.unit}${r.note ? ` (${r.note})` : ''}\n`);
    }
  });
}
