/**
 * Checksum read at a checkpoint (the sync fan-out hot path behind ChecksumCache misses and the
 * per-download `fresh()` check): PgBucketReader.getChecksums against the two-statement read it
 * replaced (issue 11 §1.4), interleaved so machine load hits both alike.
 *
 *   npx tsx packages/engine/bench/checksum-read.bench.ts   (BUCKETS=…, OPS_PER_BUCKET=…, AHEAD=…, RUNS=…)
 *
 * Storage is filled synthetically: BUCKETS buckets of OPS_PER_BUCKET ops (all at or below the
 * checkpoint), plus one global bucket with AHEAD ops past it (a large transaction flushed in parts).
 */
import pg from 'pg';
import { migrateStorage, PgBucketReader } from '@syncline/engine';
import { createTestDatabase, withBenchPostgres } from '@syncline/test-utils';

const BUCKETS = Number(process.env.BUCKETS ?? 10_000);
const OPS = Number(process.env.OPS_PER_BUCKET ?? 20);
const AHEAD = Number(process.env.AHEAD ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 15);
const U32 = 4294967296;

/** The previous implementation: bucket_state, then a second statement for the ops past the checkpoint. */
async function twoStatements(pool: pg.Pool, versionId: number, buckets: string[], checkpoint: bigint): Promise<Map<string, { checksum: number; count: number }>> {
  const out = new Map<string, { checksum: number; count: number }>();
  const { rows } = await pool.query<{ bucket: string; checksum: string; op_count: string; last_op: string }>(
    'SELECT bucket, checksum, op_count, last_op FROM syncline.bucket_state WHERE version_id = $1 AND bucket = ANY($2)',
    [versionId, buckets],
  );
  const ahead: string[] = [];
  for (const r of rows) {
    out.set(r.bucket, { checksum: Number(r.checksum), count: Number(r.op_count) });
    if (BigInt(r.last_op) > checkpoint) ahead.push(r.bucket);
  }
  if (ahead.length > 0) {
    const extra = await pool.query<{ bucket: string; s: string; c: string }>(
      `SELECT bucket, sum(checksum)::text AS s, count(*)::text AS c FROM syncline.bucket_data
        WHERE version_id = $1 AND bucket = ANY($2) AND op_id > $3 GROUP BY bucket`,
      [versionId, ahead, checkpoint.toString()],
    );
    for (const r of extra.rows) {
      const cur = out.get(r.bucket)!;
      cur.checksum = (((cur.checksum - Number(BigInt(r.s) % BigInt(U32))) % U32) + U32) % U32;
      cur.count -= Number(r.c);
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await withBenchPostgres(async (adminUrl) => {
  await using db = await createTestDatabase(adminUrl, 'bench_cks');
  await migrateStorage(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  try {
    const v = 1;
    const checkpoint = BigInt(BUCKETS * OPS);
    await pool.query(
      `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
       SELECT $1, 'b' || (i % $2), i, 1, 1, i::text, 't', i::text, (i * 2654435761) % 4294967296, '{"x":1}'
         FROM generate_series(1, $3::bigint) i`,
      [v, BUCKETS, checkpoint.toString()],
    );
    await pool.query(
      `INSERT INTO syncline.bucket_data (version_id, bucket, op_id, op, source_table, source_key, table_name, row_id, checksum, data)
       SELECT $1, 'global', i, 1, 2, i::text, 't', i::text, (i * 2654435761) % 4294967296, '{"x":1}'
         FROM generate_series($2::bigint + 1, $2::bigint + $3) i`,
      [v, checkpoint.toString(), AHEAD],
    );
    await pool.query(
      `INSERT INTO syncline.bucket_state (version_id, bucket, last_op, checksum, op_count, bytes, live_rows)
       SELECT $1, bucket, max(op_id), sum(checksum) % 4294967296, count(*), 0, count(*) FROM syncline.bucket_data WHERE version_id = $1 GROUP BY bucket`,
      [v],
    );
    await pool.query('VACUUM ANALYZE syncline.bucket_data');
    await pool.query('ANALYZE syncline.bucket_state');
    const reader = new PgBucketReader(pool);
    const all = Array.from({ length: BUCKETS }, (_, i) => `b${i}`);
    const cases: Array<[string, string[]]> = [
      [`${BUCKETS} buckets, none past the checkpoint (first checkpoint line)`, all],
      ['1 bucket, none past the checkpoint (cache miss after a change)', ['b1']],
      [`global bucket with ${AHEAD} ops past the checkpoint (fresh() during a large transaction)`, ['global']],
    ];
    for (const [name, buckets] of cases) {
      const a = await twoStatements(pool, v, buckets, checkpoint);
      const b = await reader.getChecksums(v, buckets, checkpoint);
      for (const bucket of buckets) {
        if (a.get(bucket)?.checksum !== b.get(bucket)?.checksum || a.get(bucket)?.count !== b.get(bucket)?.count) throw new Error(`results differ for ${bucket}`);
      }
      const before: number[] = [];
      const after: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        let t = performance.now();
        await twoStatements(pool, v, buckets, checkpoint);
        before.push(performance.now() - t);
        t = performance.now();
        await reader.getChecksums(v, buckets, checkpoint);
        after.push(performance.now() - t);
      }
      process.stdout.write(`${name}: two statements ${median(before).toFixed(2)} ms, one statement ${median(after).toFixed(2)} ms (median of ${RUNS})\n`);
    }
    const plan = await pool.query(
      `EXPLAIN ANALYZE SELECT s.bucket, s.checksum::text, s.op_count::text,
              CASE WHEN s.last_op > $3 THEN (
                SELECT ARRAY[coalesce(sum(d.checksum), 0), count(*)]::text[] FROM syncline.bucket_data d
                 WHERE d.version_id = s.version_id AND d.bucket = s.bucket AND d.op_id > $3 AND d.op_id <= s.last_op)
              END AS ahead
         FROM syncline.bucket_state s
        WHERE s.version_id = $1 AND s.bucket = ANY($2)`,
      [v, ['b1', 'global'], checkpoint.toString()],
    );
    process.stdout.write(`plan:\n${plan.rows.map((r: Record<string, string>) => `  ${r['QUERY PLAN']}`).join('\n')}\n`);
  } finally {
    await pool.end();
  }
});
