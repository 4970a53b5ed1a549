/**
 * Child process for the background-checkpoint crash test: opens `argv[2]` with the Node adapter
 * (background checkpoints on, a small WAL threshold so checkpoints run all the time) and commits
 * numbered transactions of ~256 KB until it is killed, printing each number after its COMMIT,
 * with the number of checkpoints the worker has done so far.
 */
import { openBetterSqlite3 } from '../../src/adapters/node/index.ts';

const path = process.argv[2]!;
const db = openBetterSqlite3({ path, walAutocheckpointPages: 64, backgroundCheckpoints: true });
await db.execute(`CREATE TABLE IF NOT EXISTS t (n INTEGER NOT NULL, i INTEGER NOT NULL, v BLOB NOT NULL, PRIMARY KEY (n, i))`);
const { rows } = await db.execute(`SELECT coalesce(max(n), 0) AS n FROM t`);
for (let n = Number(rows[0]!['n']) + 1; ; n++) {
  await db.execute('BEGIN IMMEDIATE');
  await db.execute(`WITH RECURSIVE c (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 256) INSERT INTO t SELECT ?, i, randomblob(1000) FROM c`, [n]);
  await db.execute('COMMIT');
  process.stdout.write(`${n} ${(db as unknown as { checkpointer: { counts: { worker: number } } }).checkpointer.counts.worker}\n`);
}
