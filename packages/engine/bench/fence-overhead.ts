/**
 * Cost of replication fencing on the flush hot path: commit flushes (checkpoint advance, no rows —
 * where a fixed per-flush cost weighs most) and 100-row flushes, with and without the lease check.
 * Run: npx tsx packages/engine/bench/fence-overhead.ts (FLUSHES=… to size it).
 */
import pg from 'pg';
import pino from 'pino';
import { createTestDatabase, withBenchPostgres } from '@syncline/test-utils';
import { assertReplicationLease, compileSyncRules, deployVersion, getSubkeySalt, migrateStorage, setVersionState, takeReplicationLease } from '../src/index.ts';
import { PgReplicationWriter, type SourceChange } from '../src/storage/pg-replication-writer.ts';
import { createTableEvaluator } from '../src/replication/table-evaluator.ts';

const FLUSHES = Number(process.env.FLUSHES ?? 1500);
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;

await withBenchPostgres(async (adminUrl) => {
  await using db = await createTestDatabase(adminUrl, 'fence');
  await migrateStorage(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const v = await deployVersion(pool, RULES, 'bench');
  await pool.query(`UPDATE syncline.sync_rules_versions SET snapshot_done = true WHERE id = $1`, [v.id]);
  await setVersionState(pool, v.id, 'ACTIVE');
  const { rules } = compileSyncRules(RULES, { versionId: v.id });
  const evaluator = createTableEvaluator(rules!, { schema: 'public', name: 'items' }, [
    { name: 'id', typeOid: 25 },
    { name: 'owner_id', typeOid: 25 },
    { name: 'title', typeOid: 25 },
  ], false);
  const epoch = await takeReplicationLease(pool, v.id);
  let lsn = 0x1000000n;
  let id = 0;
  const nextLsn = () => `00000000/${(lsn += 0x100n).toString(16).toUpperCase().padStart(8, '0')}`;
  const rows = (n: number): SourceChange[] =>
    Array.from({ length: n }, () => {
      id++;
      return { sourceTable: 1, evaluator, key: JSON.stringify([String(id)]), row: { id: String(id), owner_id: `user-${id % 100}`, title: `Item ${id}` } };
    });
  const salt = await getSubkeySalt(pool, v.id);
  const run = async (fenced: boolean, perFlush: number): Promise<number> => {
    const w = new PgReplicationWriter(pool, v.id, pino({ level: 'silent' }), salt);
    if (fenced) w.fence = (c) => assertReplicationLease(c, v.id, epoch);
    const start = performance.now();
    for (let i = 0; i < FLUSHES; i++) await w.flush(rows(perFlush), { lsn: nextLsn(), transactions: 1 });
    return (performance.now() - start) / FLUSHES;
  };
  for (const perFlush of [0, 100]) {
    await run(false, perFlush); // warm-up
    const results: Record<string, number[]> = { unfenced: [], fenced: [] };
    for (let round = 0; round < 8; round++) {
      // Alternate the order: the tables grow, so whichever runs later is a little slower.
      for (const fenced of round % 2 === 0 ? [false, true] : [true, false]) results[fenced ? 'fenced' : 'unfenced']!.push(await run(fenced, perFlush));
    }
    const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return ((s[3]! + s[4]!) / 2).toFixed(3); };
    process.stdout.write(`commit flush with ${perFlush} rows: unfenced ${med(results.unfenced!)} ms, fenced ${med(results.fenced!)} ms (median of 8 runs × ${FLUSHES} flushes)\n`);
  }
  await pool.end();
});
