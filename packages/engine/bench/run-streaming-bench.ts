/**
 * Streaming part of the replication bench alone: flush throughput (source commit → checkpoint) for
 * one large INSERT transaction (new rows: COPY into current_data) and one large UPDATE transaction
 * (stored state loaded and updated by key), ~150-byte rows, one bucket each. STREAM_ROWS sizes the
 * transactions (default 50,000), REPS repeats them. Run: npx tsx packages/engine/bench/run-streaming-bench.ts
 */
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase, withBenchPostgres } from '@syncline/test-utils';
import { deployVersion, getVersion, migrateStorage, normalizeLsn, Replicator } from '../src/index.ts';

const SCHEMA = `CREATE TABLE items (id bigint PRIMARY KEY, owner_id text NOT NULL, title text NOT NULL, body text, done boolean NOT NULL, score double precision, created_at timestamptz NOT NULL DEFAULT now());`;
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;
const insertSql = (from: number, to: number) =>
  `INSERT INTO items (id, owner_id, title, body, done, score)
   SELECT i, 'user-' || (i % 1000), 'Item number ' || i, repeat('lorem ipsum ', 4), i % 2 = 0, i * 0.5 FROM generate_series(${from}, ${to}) i`;

async function lsnOf(db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return normalizeLsn(rows[0]!.lsn);
}

async function waitFor(storage: pg.Pool, version: number, target: string): Promise<void> {
  for (;;) {
    const v = await getVersion(storage, version);
    if (v?.state === 'ACTIVE' && v.lastCheckpointLsn && v.lastCheckpointLsn >= target) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

await withBenchPostgres(async (adminUrl) => {
  const rows = Number(process.env.STREAM_ROWS ?? 50_000);
  const reps = Number(process.env.REPS ?? 3);
  await using db = await createTestDatabase(adminUrl, 'bench_stream');
  const storageUrl = await db.createSibling('storage');
  await migrateStorage(storageUrl);
  const source = db.pool();
  await source.query(SCHEMA);
  const publication = `pub_${db.name}`;
  await source.query(`CREATE PUBLICATION ${publication} FOR ALL TABLES`);
  await source.query(insertSql(1, 1000));
  const storage = new pg.Pool({ connectionString: storageUrl, max: 4 });
  const version = (await deployVersion(storage, RULES, 'bench')).id;
  const replicator = new Replicator({ sourceUrl: db.url, storageUrl, publication, logger: pino({ level: 'warn' }), pollMs: 50, heartbeatMs: 200 });
  replicator.start();
  try {
    await waitFor(storage, version, await lsnOf(source));
    let next = 1_000_000;
    for (let r = 0; r < reps; r++) {
      const from = next;
      next += rows;
      let t = performance.now();
      await source.query(insertSql(from, from + rows - 1));
      await waitFor(storage, version, await lsnOf(source));
      const ins = (rows / (performance.now() - t)) * 1000;
      t = performance.now();
      await source.query(`UPDATE items SET score = score + 1 WHERE id BETWEEN ${from} AND ${from + rows - 1}`);
      await waitFor(storage, version, await lsnOf(source));
      const upd = (rows / (performance.now() - t)) * 1000;
      process.stdout.write(`rep ${r + 1}: insert ${Math.round(ins)} row-ops/s, update ${Math.round(upd)} row-ops/s\n`);
    }
  } finally {
    await replicator.stop();
    await storage.end();
  }
});
