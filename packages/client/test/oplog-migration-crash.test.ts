/**
 * Crash safety of the op-log migration to the subkey column (internal schema 5): a process
 * SIGKILLed while it migrates a version-4 database leaves either the untouched version-4 op log or
 * the complete version-5 one — never renamed but uncut keys — and the next open finishes the job.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb } from './helpers.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'support/open-database-process.ts');
const ROWS = 200_000;
/** Kill delays after the child starts opening: from before the migration to after it committed. */
const DELAYS_MS = [0, 20, 40, 60, 80, 120, 160, 240, 400];

let dir: string;
let pristine: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'syncline-oplog-crash-'));
  pristine = join(dir, 'v4.db');
  // A version-4 database with a large op log (so the migration takes a while to kill into).
  const db = await openTestDb(pristine);
  await db.execute(`ALTER TABLE sl_oplog RENAME COLUMN subkey TO key`);
  await db.execute(`DELETE FROM sl_migrations WHERE version > 4`);
  await db.execute(`INSERT INTO sl_buckets (id, name) VALUES (1, 'b')`);
  await db.execute(
    `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) ` +
      `INSERT INTO sl_oplog (bucket, op_id, row_type, row_id, key, data, hash) SELECT 1, i, 'todos', 'row-' || i, 'todos/row-' || i || '/s' || i, '{}', i FROM n`,
    [ROWS],
  );
  await db.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the child on `path`; resolves once it has begun opening, with a function that SIGKILLs it after `delayMs`. */
function openInChild(path: string): Promise<{ killAfter(delayMs: number): Promise<'killed' | 'finished'> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
      if (output.includes('opening\n') && output.length === 'opening\n'.length) {
        resolve({
          killAfter: async (delayMs) => {
            await new Promise((r) => setTimeout(r, delayMs));
            const finished = output.includes('ready\n');
            child.kill('SIGKILL');
            await exited;
            return finished ? 'finished' : 'killed';
          },
        });
      }
    });
    child.once('exit', (code) => {
      if (!output.includes('opening\n')) reject(new Error(`child exited before opening the database (${code})`));
    });
  });
}

/** What the op log looks like without running any migration (read-only connection). */
function opLogState(path: string): { version: number; column: string; keys: number } {
  const raw = new Database(path, { readonly: true });
  try {
    const version = Number((raw.prepare(`SELECT max(version) AS v FROM sl_migrations`).get() as { v: number }).v);
    const columns = (raw.prepare(`SELECT name FROM pragma_table_info('sl_oplog')`).all() as { name: string }[]).map((c) => c.name);
    const column = columns.includes('subkey') ? 'subkey' : 'key';
    // Rows whose stored value is what this layout expects: the whole key (v4) or the subkey (v5).
    const expected = column === 'key' ? `'todos/row-' || op_id || '/s' || op_id` : `'s' || op_id`;
    const keys = Number((raw.prepare(`SELECT count(*) AS n FROM sl_oplog WHERE ${column} = ${expected}`).get() as { n: number }).n);
    return { version, column, keys };
  } finally {
    raw.close();
  }
}

describe('op log migration 5 under SIGKILL', () => {
  it('leaves the whole version-4 or the whole version-5 op log, and the next open completes it', { timeout: 240_000 }, async () => {
    const outcomes: string[] = [];
    for (const [round, delay] of DELAYS_MS.entries()) {
      const path = join(dir, `round-${round}.db`);
      copyFileSync(pristine, path);
      const child = await openInChild(path);
      const outcome = await child.killAfter(delay);
      const state = opLogState(path);
      outcomes.push(`${outcome}@v${state.version}`);
      if (state.version === 4) expect(state).toEqual({ version: 4, column: 'key', keys: ROWS });
      else expect(state).toEqual({ version: 5, column: 'subkey', keys: ROWS });

      const reopened = await openTestDb(path);
      expect(await reopened.get(`SELECT max(version) AS v FROM sl_migrations`)).toEqual({ v: 5 });
      expect(await reopened.get(`SELECT count(*) AS n FROM sl_oplog WHERE subkey = 's' || op_id`)).toEqual({ n: ROWS });
      await reopened.close();
    }
    process.stdout.write(`[oplog migration crash] outcomes: ${outcomes.join(" ")}\n`);
    // At least one kill landed before the migration committed, or the test proved nothing.
    expect(outcomes.some((o) => o.endsWith('@v4'))).toBe(true);
  });
});
