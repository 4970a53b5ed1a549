/**
 * The chaos workload: a todo schema, rules with a parameter bucket per list owner and a global
 * bucket, and a writer that keeps inserting, updating (also moving rows between buckets) and
 * deleting rows until stopped. Writer errors (the source restarting, say) are counted and retried.
 */
import type pg from 'pg';

export const SCHEMA = `
  CREATE TABLE lists (id int PRIMARY KEY, owner_id text NOT NULL, name text);
  CREATE TABLE todos (id int PRIMARY KEY, list_id int, description text, n bigint);
`;

export const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM lists WHERE id = bucket.list_id
      - SELECT * FROM todos WHERE list_id = bucket.list_id
  everything:
    data:
      - SELECT id, list_id FROM todos
`;

export const USERS = 7;
export const LISTS = 40;

export async function seed(source: pg.Pool, rows: number): Promise<void> {
  await source.query(`INSERT INTO lists SELECT i, 'u' || (i % ${USERS}), 'list ' || i FROM generate_series(1, ${LISTS}) i`);
  await source.query(`INSERT INTO todos SELECT i, 1 + i % ${LISTS}, repeat('d', 60) || i, i::bigint * 1000000007 FROM generate_series(1, $1) i`, [rows]);
}

export interface Writer {
  stop(): Promise<{ statements: number; errors: number }>;
}

/** `pauseEvery` statements the writer sleeps `pauseMs` (default every 20 statements, 10 ms). */
export function startWriter(source: pg.Pool, rows: number, opts: { pauseEvery?: number; pauseMs?: number } = {}): Writer {
  let writing = true;
  let statements = 0;
  let errors = 0;
  let nextId = 1_000_000;
  const done = (async () => {
    let step = 0;
    while (writing) {
      step++;
      const id = 1 + Math.floor(Math.random() * rows);
      const r = Math.random();
      try {
        if (r < 0.35) await source.query(`INSERT INTO todos VALUES ($1, $2, 'new', $3) ON CONFLICT (id) DO NOTHING`, [nextId, 1 + (step % LISTS), nextId++]);
        else if (r < 0.7) await source.query(`UPDATE todos SET description = 'u' || $2, list_id = $3 WHERE id = $1`, [id, step, 1 + (step % LISTS)]);
        else if (r < 0.85) await source.query(`DELETE FROM todos WHERE id = $1`, [id]);
        else if (r < 0.95) await source.query(`UPDATE lists SET owner_id = 'u' || ($2 % ${USERS}) WHERE id = $1`, [1 + (step % LISTS), step]);
        else await source.query(`UPDATE todos SET n = n + 1 WHERE id BETWEEN $1 AND $1 + 100`, [id]);
        statements++;
      } catch {
        errors++;
        await new Promise((res) => setTimeout(res, 200));
      }
      if (step % (opts.pauseEvery ?? 20) === 0) await new Promise((res) => setTimeout(res, opts.pauseMs ?? 10));
    }
  })();
  return {
    async stop() {
      writing = false;
      await done;
      return { statements, errors };
    },
  };
}
