/**
 * Sync Streams vs bucket definitions on the replication hot path: `evaluateRow` +
 * `evaluateParameterRow` per source row, for equivalent configs, interleaved so machine load
 * hits both alike. Reports rows/s (median of RUNS).
 *
 *   npx tsx packages/engine/bench/streams-evaluate.bench.ts   (ROWS=…, RUNS=…)
 */
import { performance } from 'node:perf_hooks';
import { compileSyncRules } from '../src/sync-rules/compile.ts';
import type { SyncRules } from '../src/sync-rules/sync-rules.ts';
import type { SourceTableRef, SqliteRow } from '../src/sync-rules/types.ts';

const ROWS = Number(process.env.ROWS ?? 100_000);
const RUNS = Number(process.env.RUNS ?? 9);

const CASES: Array<{ name: string; legacy: string; streams: string }> = [
  {
    name: 'simple (owner = user)',
    legacy: `bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS u
    data:
      - SELECT * FROM todos WHERE owner_id = bucket.u
`,
    streams: `config: { edition: 3 }
streams:
  by_owner:
    auto_subscribe: true
    query: SELECT * FROM todos WHERE owner_id = auth.user_id()
`,
  },
  {
    name: 'lookup (todos of my lists)',
    legacy: `bucket_definitions:
  list_todos:
    parameters: SELECT id AS list_id FROM lists WHERE owner_id = request.user_id()
    data:
      - SELECT * FROM todos WHERE list_id = bucket.list_id
`,
    streams: `config: { edition: 3 }
streams:
  list_todos:
    auto_subscribe: true
    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE owner_id = auth.user_id())
`,
  },
];

const todos: SourceTableRef = { schema: 'public', name: 'todos' };
const lists: SourceTableRef = { schema: 'public', name: 'lists' };

function rows(): Array<[SourceTableRef, SqliteRow]> {
  const out: Array<[SourceTableRef, SqliteRow]> = [];
  for (let i = 0; i < ROWS; i++) {
    if (i % 5 === 0) out.push([lists, { id: `l${i}`, owner_id: `u${i % 97}`, name: `List ${i}`, created_at: '2024-01-01T00:00:00Z' }]);
    else out.push([todos, { id: `t${i}`, owner_id: `u${i % 97}`, list_id: `l${i - (i % 5)}`, description: `Todo number ${i}`, completed: BigInt(i % 2), created_at: '2024-01-01T00:00:00Z' }]);
  }
  return out;
}

function compile(yaml: string): SyncRules {
  const { rules, issues } = compileSyncRules(yaml, { versionId: 1 });
  if (!rules) throw new Error(JSON.stringify(issues));
  return rules;
}

function run(rules: SyncRules, data: Array<[SourceTableRef, SqliteRow]>): number {
  let outputs = 0;
  const start = performance.now();
  for (const [t, r] of data) {
    outputs += rules.evaluateRow(t, r).length;
    outputs += rules.evaluateParameterRow(t, r).length;
  }
  const ms = performance.now() - start;
  if (outputs === 0) throw new Error('no outputs');
  return (data.length / ms) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const data = rows();
for (const c of CASES) {
  const legacy = compile(c.legacy);
  const streams = compile(c.streams);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(run(legacy, data));
    b.push(run(streams, data));
  }
  const fmt = (n: number) => `${Math.round(n).toLocaleString('en-US')} rows/s`;
  process.stdout.write(`${c.name}: bucket_definitions ${fmt(median(a))}, streams ${fmt(median(b))}\n`);
}
