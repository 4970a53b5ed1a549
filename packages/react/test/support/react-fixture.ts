/** Schema, rules, seed data and helpers shared by the React and pack-and-install browser tests. */
export { CHROMIUM, CHROMIUM_FLAGS } from '@syncline/test-utils';

export const REACT_SCHEMA = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text);
`;

/** user-1 owns lists l*; todos of other lists sync only through the `list_todos` stream. */
export const REACT_RULES = `
config:
  edition: 3
streams:
  owned:
    auto_subscribe: true
    with:
      mine: SELECT id AS list_id FROM lists WHERE owner_id = auth.user_id()
    queries:
      - SELECT * FROM lists WHERE id IN mine
      - SELECT * FROM todos WHERE list_id IN mine
  list_todos:
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list')
`;

export function seedSql(o: { lists: string[]; todosPerList: number; owner?: string }): string {
  const owner = o.owner ?? 'user-1';
  return o.lists
    .map(
      (l) =>
        `INSERT INTO lists (id, owner_id, name) VALUES ('${l}', '${owner}', 'List ${l}');
         INSERT INTO todos (id, list_id, description) SELECT '${l}-' || g, '${l}', 'todo ' || lpad(g::text, 5, '0') FROM generate_series(1, ${o.todosPerList}) g;`,
    )
    .join('\n');
}

export async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
