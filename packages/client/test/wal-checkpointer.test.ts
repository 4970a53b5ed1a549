/**
 * Background WAL checkpoints (adapters/node/wal-checkpointer.ts): the worker starts only when the
 * WAL needs a checkpoint, keeps the WAL bounded while transactions keep coming, stops with the
 * database, and a process SIGKILLed at any moment — also in the middle of a checkpoint — loses no
 * committed transaction and leaves an intact database.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBetterSqlite3 } from '../src/adapters/node/index.ts';
import type { SqliteAdapter } from '../src/db/sqlite-adapter.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'support/commit-loop-process.ts');
const PAGE = 4096;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncline-wal-checkpointer-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Checkpointed {
  checkpointer?: { running: boolean; counts: { worker: number; here: number } };
}
const checkpointerOf = (a: SqliteAdapter) => (a as unknown as Checkpointed).checkpointer;

/** A database at `name` in the test directory with table `t` for {@link commitBlobs}. */
async function openBlobs(name: string, pages: number, backgroundCheckpoints: boolean): Promise<{ a: SqliteAdapter; path: string }> {
  const path = join(dir, name);
  const a = openBetterSqlite3({ path, walAutocheckpointPages: pages, backgroundCheckpoints });
  await a.execute(`CREATE TABLE t (n INTEGER NOT NULL, i INTEGER NOT NULL, v BLOB NOT NULL)`);
  return { a, path };
}

async function commitBlobs(a: SqliteAdapter, n: number, kb: number): Promise<void> {
  await a.execute('BEGIN IMMEDIATE');
  await a.execute(`WITH RECURSIVE c (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) INSERT INTO t SELECT ?, i, randomblob(1000) FROM c`, [kb, n]);
  await a.execute('COMMIT');
}

describe('background WAL checkpoints (Node adapter)', () => {
  it('start with the first checkpoint needed, keep the WAL bounded under a stream of commits, and stop with the database', async () => {
    const pages = 100;
    const { a, path } = await openBlobs('bounded.db', pages, true);
    await commitBlobs(a, 0, 50);
    // Below the threshold: no worker.
    expect(checkpointerOf(a)?.running).toBe(false);
    let maxWal = 0;
    for (let n = 1; n <= 200; n++) {
      await commitBlobs(a, n, 50);
      maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
      // Give the worker a moment now and then, as a network download's reads do.
      if (n % 20 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    const cp = checkpointerOf(a)!;
    expect(cp.running).toBe(true);
    expect(cp.counts.worker).toBeGreaterThan(0);
    // ~10 MB committed; the WAL never held more than 4 × the threshold plus two transactions.
    expect(maxWal).toBeLessThan((4 * pages + 60) * (PAGE + 24));
    expect((await a.execute(`SELECT count(*) AS n FROM t`)).rows[0]).toEqual({ n: 201 * 50 });
    await a.close();
    expect(cp.running).toBe(false);
    // Closed cleanly: the last connection checkpointed and removed the WAL; everything is there.
    const check = new Database(path, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(check.prepare(`SELECT count(*) AS n FROM t`).get()).toEqual({ n: 201 * 50 });
    check.close();
  });

  it('leaves a WAL that one commit took past the bound to the worker, and copies it itself only if it is still past at the next commit', async () => {
    const pages = 100;
    const { a, path } = await openBlobs('one-large-commit.db', pages, true);
    // ~2.4 MB in one transaction: 6 × the threshold, as the apply at the end of a large download.
    await commitBlobs(a, 1, 2400);
    const cp = checkpointerOf(a)!;
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(4 * pages * (PAGE + 24));
    expect(cp.counts.here).toBe(0);
    const deadline = Date.now() + 20_000;
    while (cp.counts.worker === 0) {
      if (Date.now() > deadline) throw new Error('the worker never checkpointed');
      await new Promise((r) => setTimeout(r, 10));
    }
    // The worker copied everything: the next transaction starts the WAL over.
    await commitBlobs(a, 2, 5);
    expect(statSync(`${path}-wal`).size).toBeLessThan(pages * (PAGE + 24));
    expect(cp.counts.here).toBe(0);
    // Two large commits in a row: the second finds the WAL past the bound again and copies it here.
    await commitBlobs(a, 3, 2400);
    await commitBlobs(a, 4, 2400);
    expect(cp.counts.here).toBe(1);
    expect((await a.execute(`SELECT count(*) AS n FROM t`)).rows[0]).toEqual({ n: 3 * 2400 + 5 });
    await a.close();
  });

  it('can be turned off: SQLite checkpoints on the connection itself', async () => {
    const { a } = await openBlobs('off.db', 100, false);
    for (let n = 1; n <= 20; n++) await commitBlobs(a, n, 50);
    expect(checkpointerOf(a)).toBeUndefined();
    expect((await a.execute(`PRAGMA wal_autocheckpoint`)).rows[0]).toEqual({ wal_autocheckpoint: 100 });
    await a.close();
  });

  it('loses no committed transaction when the process is SIGKILLed at any moment, checkpoints included', async () => {
    const path = join(dir, 'crash.db');
    let committed = 0;
    for (const delayMs of [150, 300, 450, 600, 800, 1000]) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Wait until its worker has checkpointed, then kill it a while later.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no checkpoint in the child:\n${output}`)), 60_000);
        child.stdout.on('data', () => {
          if (!/ [1-9]\d*\n/.test(output)) return;
          clearTimeout(timer);
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, delayMs));
      child.kill('SIGKILL');
      await exited;
      const printed = output.trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
      committed = Math.max(committed, ...printed.map(([n]) => n));
      const db = new Database(path);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const { max, rows } = db.prepare(`SELECT max(n) AS max, count(*) AS rows FROM t`).get() as { max: number; rows: number };
      // Every transaction the child reported committed is there, each whole (256 rows).
      expect(max).toBeGreaterThanOrEqual(committed);
      expect(rows).toBe(max * 256);
      committed = max;
      db.close();
    }
  }, 120_000);
});
