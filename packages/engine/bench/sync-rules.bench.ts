/**
 * Sync-rules evaluation benchmark: 100,000 source rows (todo-app mix over 4 tables) through a
 * 5-definition rule set: `evaluateRow` + `evaluateParameterRow` per row, i.e. what the replicator
 * calls per change, including row JSON and bucket ids.
 * Target: ≥ 500,000 row evaluations/s (DESIGN.md §5, issue 3).
 *
 * Run alone: `npx tsx packages/engine/bench/sync-rules.bench.ts`.
 */
import { performance } from 'node:perf_hooks';
import { compileSyncRules } from '../src/sync-rules/compile.ts';
import type { SourceTableRef, SqliteRow } from '../src/sync-rules/types.ts';

const RULES = `
bucket_definitions:
  global_settings:
    data:
      - SELECT * FROM settings
  user_todos:
    parameters: SELECT request.user_id() AS user_id
    data:
      - SELECT id, description, completed, created_at, list_id FROM todos WHERE owner_id = bucket.user_id
  list_todos:
    parameters:
      - SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
      - SELECT * FROM lists WHERE id = bucket.list_id
  org_lists:
    parameters: SELECT request.jwt() ->> 'org_id' AS org_id
    data:
      - SELECT id, upper(name) AS title, created_at FROM lists WHERE org_id = bucket.org_id AND archived = 0
  tagged_comments:
    parameters: SELECT value AS tag FROM json_each(request.jwt() -> 'tags')
    data:
      - SELECT id, body, todo_id FROM comments WHERE bucket.tag IN tags
`;

const ROWS = 100_000;

/** A todo-app mix: 60% todos, 20% lists, 10% comments, 10% settings; ~150-byte rows. */
function makeRows(): Array<{ table: SourceTableRef; row: SqliteRow }> {
  const tables = {
    todos: { schema: 'public', name: 'todos' },
    lists: { schema: 'public', name: 'lists' },
    comments: { schema: 'public', name: 'comments' },
    settings: { schema: 'public', name: 'settings' },
  };
  const rows: Array<{ table: SourceTableRef; row: SqliteRow }> = [];
  for (let i = 0; i < ROWS; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const kind = i % 10;
    if (kind < 6) {
      rows.push({
        table: tables.todos,
        row: { id, description: `Todo number ${i}`, completed: BigInt(i % 2), created_at: '2024-01-01T00:00:00.000000Z', owner_id: `user-${i % 500}`, list_id: `list-${i % 1000}` },
      });
    } else if (kind < 8) {
      rows.push({
        table: tables.lists,
        row: { id: `list-${i % 1000}`, name: `List ${i}`, owner_id: `user-${i % 500}`, org_id: `org-${i % 20}`, archived: BigInt(i % 3 === 0 ? 1 : 0), created_at: '2024-01-01T00:00:00.000000Z' },
      });
    } else if (kind < 9) {
      rows.push({ table: tables.comments, row: { id, body: `Comment ${i} on a todo`, todo_id: `todo-${i}`, tags: i % 3 === 0 ? '["a","b"]' : '["c"]' } });
    } else {
      rows.push({ table: tables.settings, row: { id: `setting-${i}`, key: `k${i}`, value: `v${i}`, _internal: 1n } });
    }
  }
  return rows;
}

export async function benchSyncRules(): Promise<{ name: string; value: number; unit: string }[]> {
  const { rules, issues } = compileSyncRules(RULES, { versionId: 1 });
  if (!rules) throw new Error(`bench rules do not compile: ${JSON.stringify(issues)}`);
  const rows = makeRows();
  let outputs = 0;
  const run = () => {
    outputs = 0;
    for (const { table, row } of rows) {
      outputs += rules.evaluateRow(table, row).length;
      outputs += rules.evaluateParameterRow(table, row).length;
    }
  };
  // Warm up (JIT), then take the best of five runs (the machine may be shared).
  run();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    run();
    best = Math.min(best, performance.now() - start);
  }
  const seconds = best / 1000;
  return [
    { name: 'sync rules: row evaluations (5 definitions)', value: Math.round(ROWS / seconds), unit: 'rows/s' },
    { name: 'sync rules: bucket/parameter outputs', value: Math.round(outputs / seconds), unit: 'outputs/s' },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchSyncRules()) console.log(`${r.name}: ${r.value.toLocaleString('en-US')} ${r.unit}`);
}
