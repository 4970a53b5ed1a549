/**
 * Replication flush throughput alone (no source, no decoding): PgReplicationWriter.flush of
 * ~150-byte rows with one bucket each, in batches of BATCH (default 5,000) rows, each flush ending
 * at a commit (checkpoint). Phases: insert new rows (state appended), update them (state loaded
 * and updated by key), delete them. Prints rows/s per phase and round; ROUNDS (default 5) rounds.
 * Run: npx tsx packages/engine/bench/run-flush-bench.ts
 */
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase, withBenchPostgres } from '@syncline/test-utils';
import { compileSyncRules, deployVersion, getSubkeySalt, migrateStorage } from '../src/index.ts';
import { PgReplicationWriter, type SourceChange } from '../src/storage/pg-replication-writer.ts';
import { createTableEvaluator } from '../src/replication/table-evaluator.ts';

const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;
const COLUMNS = [
  { name: 'id', typeOid: 20 },
  { name: 'owner_id', typeOid: 25 },
  { name: 'title', typeOid: 25 },
  { name: 'body', typeOid: 25 },
  { name: 'done', typeOid: 16 },
  { name: 'score', typeOid: 701 },
];

await withBenchPostgres(async (adminUrl) => {
  const batch = Number(process.env.BATCH ?? 5_000);
  const rounds = Number(process.env.ROUNDS ?? 5);
  const flushesPerPhase = Number(process.env.FLUSHES ?? 4);
  await using db = await createTestDatabase(adminUrl, 'bench_flush');
  await migrateStorage(db.url);
  const storage = new pg.Pool({ connectionString: db.url, max: 4 });
  const version = (await deployVersion(storage, RULES, 'bench')).id;
  await storage.query(`UPDATE syncline.sync_rules_versions SET snapshot_done = true, no_checkpoint_before = '0/0' WHERE id = $1`, [version]);
  const { rules } = compileSyncRules(RULES, { versionId: version });
  const evaluator = createTableEvaluator(rules!, { schema: 'public', name: 'items' }, COLUMNS, false);
  const writer = new PgReplicationWriter(storage, version, pino({ level: 'warn' }), await getSubkeySalt(storage, version));
  let lsn = 0x1000000n;
  const commit = () => ({ lsn: `${(lsn >> 32n).toString(16).toUpperCase().padStart(8, '0')}/${(lsn++ & 0xffffffffn).toString(16).toUpperCase().padStart(8, '0')}`, transactions: 1 });
  const row = (i: number, score: number) => ({ id: String(i), owner_id: `user-${i % 1000}`, title: `Item number ${i}`, body: 'lorem ipsum '.repeat(4), done: i % 2 === 0 ? 't' : 'f', score: String(score) });
  const phase = async (make: (i: number) => SourceChange, base: number): Promise<number> => {
    const t = performance.now();
    for (let f = 0; f < flushesPerPhase; f++) {
      const changes: SourceChange[] = [];
      for (let i = 0; i < batch; i++) changes.push(make(base + f * batch + i));
      await writer.flush(changes, commit());
    }
    return ((batch * flushesPerPhase) / (performance.now() - t)) * 1000;
  };
  try {
    let base = 1;
    for (let r = 0; r < rounds; r++) {
      const key = (i: number) => JSON.stringify([String(i)]);
      const ins = await phase((i) => ({ sourceTable: 1, evaluator, key: key(i), row: row(i, i) }), base);
      const upd = await phase((i) => ({ sourceTable: 1, evaluator, key: key(i), row: row(i, i + 0.5) }), base);
      const del = await phase((i) => ({ sourceTable: 1, evaluator, key: key(i), row: null }), base);
      // Keep a growing table: re-insert what was deleted, under new keys.
      base += batch * flushesPerPhase;
      await phase((i) => ({ sourceTable: 1, evaluator, key: key(i), row: row(i, i) }), base);
      base += batch * flushesPerPhase;
      process.stdout.write(`round ${r + 1}: insert ${Math.round(ins)}  update ${Math.round(upd)}  delete ${Math.round(del)} rows/s\n`);
    }
  } finally {
    await storage.end();
  }
});
