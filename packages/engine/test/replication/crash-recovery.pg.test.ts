/**
 * Crash safety: a replicator process is SIGKILLed at random points during snapshot, streaming and
 * activation of a second version while a writer keeps changing the source, then inside inline
 * snapshots of a table created while streaming and re-snapshots after its replica identity changes
 * (while the old rows are removed, or while the new mapping is copied). After every kill the
 * slot must not have been acknowledged past what storage holds; at the end the op-log, reduced
 * per bucket, must equal the rules evaluated over the source rows, with matching checksums.
 * Short version here (10 + 2 kills); `npm run test:crash` runs the long one (40 kills, more rows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, inject } from 'vitest';
import { lsnToBigInt } from '@syncline/engine';
import { createReplicationHarness, type ReplicationHarness } from '../support/replication-harness.ts';
import { checkBucketConsistency } from '../support/bucket-consistency.ts';

const KILLS = Number(process.env.CRASH_KILLS ?? 10);
/** Further kills inside inline re-snapshots (after replica-identity changes) of the final version. */
const INLINE_KILLS = Number(process.env.CRASH_INLINE_KILLS ?? 2);
const ROWS = Number(process.env.CRASH_ROWS ?? 10_000);
const HERE = path.dirname(fileURLToPath(import.meta.url));

const SCHEMA = `
  CREATE TABLE lists (id int PRIMARY KEY, owner_id text NOT NULL, name text);
  CREATE TABLE todos (id int PRIMARY KEY, list_id int, description text, n bigint);
`;
/**
 * Rows of \`notes\`, created while streaming and then given other replica identities, to force
 * inline (re-)snapshots of more than one chunk.
 */
const NOTE_ROWS = 15_000;
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
  everything:
    data:
      - SELECT id, list_id FROM todos
  notes:
    data:
      - SELECT * FROM notes
`;

function startChild(h: ReplicationHarness): Promise<ChildProcess> {
  // One process (node with the tsx loader), so SIGKILL really kills the replicator.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, '../support/replicator-process.ts')], {
    env: { ...process.env, SOURCE_URL: h.db.url, STORAGE_URL: h.storageUrl, PUBLICATION: h.publication },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`replicator process exited early (${code})`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function assertNothingAckedBeyondStorage(h: ReplicationHarness): Promise<void> {
  const { rows: slots } = await h.source.query<{ slot_name: string; confirmed: string | null }>(
    `SELECT slot_name, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE database = current_database()`,
  );
  for (const s of slots) {
    if (!s.confirmed) continue;
    const { rows } = await h.storage.query<{ replicated_lsn: string | null }>('SELECT replicated_lsn FROM syncline.sync_rules_versions WHERE slot_name = $1', [s.slot_name]);
    const stored = rows[0]?.replicated_lsn;
    // Acknowledging lsn L makes confirmed_flush = L + 1; the slot starts at its creation point.
    if (stored) expect(lsnToBigInt(s.confirmed)).toBeLessThanOrEqual(lsnToBigInt(stored) + 1n);
  }
}

/** Polls storage until `sql` returns ok = true. */
async function waitForStorage(h: ReplicationHarness, sql: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await h.storage.query<{ ok: boolean | null }>(sql);
    if (rows[0]?.ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${sql}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** 'removal': a retired mapping of the version still has rows; 'snapshot': a mapping is partly copied. */
function inlineWorkQuery(version: number, phase: 'removal' | 'snapshot'): string {
  const condition =
    phase === 'removal'
      ? 'dropped AND EXISTS (SELECT 1 FROM syncline.current_data c WHERE c.version_id = t.version_id AND c.source_table = t.id)'
      : 'NOT snapshot_done AND NOT dropped AND snapshot_count > 0';
  return `SELECT bool_or(${condition}) AS ok FROM syncline.source_tables t WHERE version_id = ${version}`;
}

describe('crash recovery', () => {
  it(`survives ${KILLS} SIGKILLs of the replicator during snapshot, streaming, inline re-snapshots and activation`, { timeout: 600_000 }, async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO lists SELECT i, 'u' || (i % 7), 'list ' || i FROM generate_series(1, 40) i`);
    await h.source.query(`INSERT INTO todos SELECT i, 1 + i % 40, repeat('d', 100) || i, i::bigint * 1000000007 FROM generate_series(1, $1) i`, [ROWS]);
    const v1 = await h.deploy(RULES);

    let writing = true;
    let nextId = 100_000;
    const writer = (async () => {
      let step = 0;
      while (writing) {
        step++;
        const id = 1 + Math.floor(Math.random() * ROWS);
        const r = Math.random();
        if (r < 0.35) await h.source.query(`INSERT INTO todos VALUES ($1, $2, 'new', $3)`, [nextId, 1 + (step % 40), nextId++]);
        else if (r < 0.7) await h.source.query(`UPDATE todos SET description = 'u' || $2, list_id = $3 WHERE id = $1`, [id, step, 1 + (step % 40)]);
        else if (r < 0.85) await h.source.query(`DELETE FROM todos WHERE id = $1`, [id]);
        else if (r < 0.95) await h.source.query(`UPDATE lists SET owner_id = 'u' || ($2 % 7) WHERE id = $1`, [1 + (step % 40), step]);
        else await h.source.query(`BEGIN; UPDATE todos SET n = n + 1 WHERE id BETWEEN $1 AND $1 + 200; COMMIT;`.replaceAll('$1', String(id)));
        if (step % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();

    let v2: number | null = null;
    for (let k = 0; k < KILLS; k++) {
      const child = await startChild(h);
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1200));
      await kill(child);
      await assertNothingAckedBeyondStorage(h);
      // Halfway through, deploy a second version so kills also hit its snapshot and activation.
      if (k === Math.floor(KILLS / 2)) v2 = await h.deploy(RULES.replace('everything', 'all_todos'));
    }
    const final = v2 ?? v1;

    // Kills inside inline snapshots of the final version, once it streams: first of notes, created
    // while streaming; then after changes of its replica identity (notes is written by nothing
    // else, so no replayed Relation message of an old identity re-snapshots it by chance). Each
    // kill waits until the work is under way — old rows being removed, or the new mapping being
    // copied (possibly work resumed after the previous kill) — and lands at a random point after.
    let identityFull = false;
    for (let k = 0; k < INLINE_KILLS; k++) {
      const child = await startChild(h);
      await waitForStorage(h, `SELECT snapshot_done AS ok FROM syncline.sync_rules_versions WHERE id = ${final}`, 180_000);
      if (k === 0) {
        await h.source.query(`CREATE TABLE notes (id int PRIMARY KEY, body text)`);
        await h.source.query(`INSERT INTO notes SELECT i, 'note ' || i FROM generate_series(1, $1) i`, [NOTE_ROWS]);
      } else {
        identityFull = !identityFull;
        await h.source.query(`ALTER TABLE notes REPLICA IDENTITY ${identityFull ? 'FULL' : 'DEFAULT'}`);
        await h.source.query(`UPDATE notes SET body = body || '.' WHERE id = $1`, [k]);
      }
      await waitForStorage(h, inlineWorkQuery(final, k % 2 === 0 ? 'snapshot' : 'removal'), 180_000);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      await kill(child);
      await assertNothingAckedBeyondStorage(h);
    }
    writing = false;
    await writer;

    h.startReplicator();
    await h.waitCaughtUp(final, 180_000);
    const report = await checkBucketConsistency(h.source, h.storage, final);
    expect(report.problems.slice(0, 20)).toEqual([]);
    expect(report.actual.size).toBeGreaterThan(1);
    await assertNothingAckedBeyondStorage(h);
  });
});
