/**
 * Equivalence of the Sync Streams migration: for the demo rules and a richer fixture, every
 * fixture user syncs exactly the same (table, id, data) rows, at the same priority, from the
 * original `bucket_definitions` and from the migrated edition-3 `streams:`.
 *
 * Both configs are compiled with `compileSyncRules`; a fixture dataset goes through
 * `evaluateRow` / `evaluateParameterRow` (as replication would), and each user's buckets are
 * resolved by `createQuerier(...).resolveBuckets(source)` against an in-memory parameter index.
 *
 * NOTE: this needs the edition-3 compiler (built in parallel on another branch); before it is
 * merged, `compileSyncRules` rejects `streams:` and these tests fail at "compiles the migrated
 * rules". The converter's text output is covered by migrate-to-streams-golden.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSyncRules } from '../../src/sync-rules/compile.ts';
import { migrateSyncRulesToStreams } from '../../src/sync-rules/migrate-to-streams.ts';
import type { SyncRules } from '../../src/sync-rules/sync-rules.ts';
import type { RequestParameters, SqliteRow } from '../../src/sync-rules/types.ts';

const fixture = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');
const DEMO = readFileSync(new URL('../../../../demo/sync-rules.yaml', import.meta.url), 'utf8');
const RICH = fixture('./fixtures/migrate-rich.yaml');

type Dataset = Record<string, SqliteRow[]>;

function compile(yaml: string, what: string): SyncRules {
  const { rules, issues } = compileSyncRules(yaml, { versionId: 7 });
  const fatal = issues.filter((i) => i.level === 'fatal');
  if (!rules || fatal.length > 0) throw new Error(`${what} do not compile:\n${yaml}\n${JSON.stringify(fatal, null, 2)}`);
  return rules;
}

/** Every row a user syncs, as `table|id|data` → the most urgent priority it arrives with. */
async function rowsOf(rules: SyncRules, dataset: Dataset, user: RequestParameters): Promise<Map<string, number>> {
  const byBucket = new Map<string, Set<string>>();
  const index = new Map<string, SqliteRow[]>();
  for (const [table, rows] of Object.entries(dataset)) {
    const ref = { schema: 'public', name: table };
    for (const row of rows) {
      for (const out of rules.evaluateRow(ref, row)) {
        let set = byBucket.get(out.bucket);
        if (!set) byBucket.set(out.bucket, (set = new Set()));
        set.add(`${out.table}|${out.id}|${out.data}`);
      }
      for (const p of rules.evaluateParameterRow(ref, row)) {
        const list = index.get(p.lookup.key) ?? [];
        list.push(...p.bucketParameters);
        index.set(p.lookup.key, list);
      }
    }
  }
  const querier = rules.createQuerier(user, { maxBuckets: 10_000, maxParameterResults: 10_000 });
  const buckets = await querier.resolveBuckets(async (lookups) => lookups.map((l) => index.get(l.key) ?? []));
  const rows = new Map<string, number>();
  for (const b of buckets) {
    for (const row of byBucket.get(b.bucket) ?? []) rows.set(row, Math.min(rows.get(row) ?? 3, b.priority));
  }
  return rows;
}

function user(userId: string, claims: Record<string, unknown> = {}, clientParameters: Record<string, unknown> = {}): RequestParameters {
  return { userId, jwtClaims: { sub: userId, ...claims }, clientParameters };
}

async function expectSameRows(original: string, dataset: Dataset, users: RequestParameters[]): Promise<void> {
  const migration = migrateSyncRulesToStreams(original);
  expect(migration.issues.filter((i) => i.level === 'fatal')).toEqual([]);
  const before = compile(original, 'the original rules');
  const after = compile(migration.yaml, 'the migrated rules');
  let total = 0;
  for (const u of users) {
    const expected = await rowsOf(before, dataset, u);
    const actual = await rowsOf(after, dataset, u);
    total += expected.size;
    expect(new Map([...actual].sort()), `rows (and priorities) of ${u.userId}`).toEqual(new Map([...expected].sort()));
  }
  // The fixture must exercise something: users do sync rows.
  expect(total).toBeGreaterThan(0);
}

describe('migrating to Sync Streams keeps every user\u2019s rows', () => {
  it('the demo rules: owned lists and their todos', async () => {
    const dataset: Dataset = {
      lists: [
        { id: 'l1', name: 'Groceries', owner_id: 'u1' },
        { id: 'l2', name: 'Work', owner_id: 'u2' },
        { id: 'l3', name: 'Orphan', owner_id: null },
      ],
      todos: [
        { id: 't1', list_id: 'l1', description: 'Milk', completed: 0n },
        { id: 't2', list_id: 'l1', description: 'Eggs', completed: 1n },
        { id: 't3', list_id: 'l2', description: 'Report', completed: 0n },
        { id: 't4', list_id: 'l3', description: 'Nobody', completed: 0n },
        { id: 't5', list_id: null, description: 'No list', completed: 0n },
      ],
    };
    await expectSameRows(DEMO, dataset, [user('u1'), user('u2'), user('u3')]);
  });

  it('a richer fixture: global, per-user, table and json_each parameter queries, claims, IN arrays, priorities, client parameters', async () => {
    const dataset: Dataset = {
      categories: [
        { id: 'c1', name: 'Open', archived: 0n },
        { id: 'c2', name: 'Closed', archived: 1n },
      ],
      announcements: [{ id: 'a1', body: 'Welcome' }],
      profiles: [
        { id: 'u1', name: 'Una' },
        { id: 'u2', name: 'Dos' },
      ],
      notes: [
        { id: 'n1', owner_id: 'u1', title: 'hello', deleted: 0n },
        { id: 'n2', owner_id: 'u1', title: 'gone', deleted: 1n },
        { id: 'n3', owner_id: 'u2', title: 'kept', deleted: null },
      ],
      lists: [
        { id: 'l1', owner_id: 'u1', urgent: 1n },
        { id: 'l2', owner_id: 'u2', urgent: 0n },
        { id: 'l3', owner_id: 'u3', urgent: 1n },
        { id: 'l4', owner_id: 'u9', urgent: 0n },
      ],
      list_members: [
        { id: 'm1', list_id: 'l2', user_id: 'u1', role: 'editor' },
        { id: 'm2', list_id: 'l3', user_id: 'u1', role: 'banned' },
        { id: 'm3', list_id: 'l1', user_id: 'u2', role: 'viewer' },
      ],
      todos: [
        { id: 't1', list_id: 'l1', title: 'a', done: 0n, priority: 1n },
        { id: 't2', list_id: 'l2', title: 'b', done: 1n, priority: 2n },
        { id: 't3', list_id: 'l3', title: 'c', done: 0n, priority: 3n },
        { id: 't4', list_id: 'l4', title: 'd', done: 0n, priority: -1n },
        { id: 't5', list_id: 'l1', title: 'e', done: 1n, priority: 5n },
      ],
      projects: [
        { id: 'p1', org_id: 'o1', region: 'eu' },
        { id: 'p2', org_id: 'o1', region: 'us' },
        { id: 'p3', org_id: 'o2', region: 'eu' },
      ],
      tags: [{ id: 'red' }, { id: 'green' }, { id: 'blue' }],
      articles: [
        { id: 'ar1', tag_ids: '["red","blue"]' },
        { id: 'ar2', tag_ids: '["green"]' },
        { id: 'ar3', tag_ids: '[]' },
        { id: 'ar4', tag_ids: null },
      ],
      project_docs: [
        { id: 'd1', project_id: 'p1', board: 'b1' },
        { id: 'd2', project_id: 'p1', board: 'b2' },
        { id: 'd3', project_id: 'p2', board: 'b1' },
      ],
    };
    const users = [
      user('u1', { shared_lists: ['l4'], role: 'admin', org_id: 'o1', parameters: { region: 'eu' }, tags: ['red', 'purple'] }, { project: 'p1', board: 'b1' }),
      user('u2', { role: 'user', org_id: 'o1', parameters: { region: 'us' }, tags: ['green'] }, { project: 'p1' }),
      user('u3', { shared_lists: ['l2', 'l2'], role: 'admin', org_id: 'o2', parameters: { region: 'eu' } }, { project: 'p2', board: 'b1' }),
      user('u4'),
    ];
    await expectSameRows(RICH, dataset, users);
  });

  it('correlated parameter outputs and a parameter compared twice (joined CTE), an existence check (EXISTS gate)', async () => {
    const rules = `bucket_definitions:
  team_boards:
    parameters: SELECT org_id, team_id FROM memberships WHERE user_id = request.user_id()
    data:
      - SELECT * FROM boards WHERE org_id = bucket.org_id AND team_id = bucket.team_id
  self_links:
    parameters: SELECT org_id AS o FROM memberships WHERE user_id = request.user_id()
    data:
      - SELECT * FROM links WHERE from_org = bucket.o AND to_org = bucket.o
  admin_audit:
    parameters: SELECT request.user_id() AS u FROM memberships WHERE user_id = request.user_id() AND team_id = 't1'
    data:
      - SELECT * FROM audit WHERE actor = bucket.u
`;
    const dataset: Dataset = {
      memberships: [
        { id: 'm1', user_id: 'u1', org_id: 'o1', team_id: 't1' },
        { id: 'm2', user_id: 'u1', org_id: 'o2', team_id: 't2' },
        { id: 'm3', user_id: 'u2', org_id: 'o1', team_id: 't2' },
      ],
      boards: [
        { id: 'b1', org_id: 'o1', team_id: 't1' },
        { id: 'b2', org_id: 'o1', team_id: 't2' },
        { id: 'b3', org_id: 'o2', team_id: 't2' },
        { id: 'b4', org_id: 'o2', team_id: 't1' },
      ],
      links: [
        { id: 'k1', from_org: 'o1', to_org: 'o1' },
        { id: 'k2', from_org: 'o1', to_org: 'o2' },
        { id: 'k3', from_org: 'o2', to_org: 'o2' },
      ],
      audit: [
        { id: 'a1', actor: 'u1' },
        { id: 'a2', actor: 'u2' },
      ],
    };
    await expectSameRows(rules, dataset, [user('u1'), user('u2'), user('u3')]);
  });
});
