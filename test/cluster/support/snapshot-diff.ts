/**
 * The final comparison of the cluster test: a client's tables against the rows SQL on the source
 * selects for its user. Pure (runs in the client hosts, next to the clients' databases).
 */
import type { Snapshot } from './cluster-clients.ts';

/** null when equal; else what differs per table: missing, extra, different and duplicated rows. */
export function diffSnapshot(expected: Snapshot, actual: Snapshot): string | null {
  for (const table of ['lists', 'todos', 'todo_index'] as const) {
    const e = new Map(expected[table].map((r) => [r[0], JSON.stringify(r)]));
    const a = new Map(actual[table].map((r) => [r[0], JSON.stringify(r)]));
    const missing = [...e.keys()].filter((k) => !a.has(k));
    const extra = [...a.keys()].filter((k) => !e.has(k));
    const wrong = [...e.keys()].filter((k) => a.has(k) && a.get(k) !== e.get(k));
    if (missing.length || extra.length || wrong.length || actual[table].length !== a.size) {
      return `${table}: ${missing.length} missing (${missing.slice(0, 3).join(',')}), ${extra.length} extra (${extra.slice(0, 3).join(',')}), ${wrong.length} different (${wrong.slice(0, 2).map((k) => `${a.get(k)} ≠ ${e.get(k)}`).join('; ')}), ${actual[table].length - a.size} duplicates`;
    }
  }
  return null;
}
