/**
 * Compiler conformance (reference §1, §2; §8 checklist items 1–4).
 */
import { describe, expect, it } from 'vitest';
import { SyncRulesCode } from '../../../src/sync-rules/issue-codes.ts';
import { compileSyncRules } from '../../../src/sync-rules/compile.ts';
import { fatalMessages, issuesOf, streamsFrom } from './helpers.ts';

const ed3 = (streams: string) => `config: { edition: 3 }\nstreams:\n${streams}`;
const stream = (query: string, extra = '') => ed3(`  s:\n${extra}    query: ${query}\n`);
const warnings = (yaml: string) => issuesOf(yaml).filter((i) => i.level === 'warning');

describe('§8.1 editions', () => {
  it('edition 3 with bucket_definitions is fatal', () => {
    const issues = issuesOf('config: { edition: 3 }\nbucket_definitions:\n  b:\n    data: [SELECT * FROM t]\nstreams:\n  s:\n    query: SELECT * FROM t\n');
    const issue = issues.find((i) => i.level === 'fatal' && i.message.startsWith("'bucket_definitions' are not supported by the new compiler."));
    expect(issue).toMatchObject({ code: SyncRulesCode.EDITION_MISMATCH, location: { line: 2, column: 1 } });
  });

  it("edition 3 without streams gives 'streams' are required.", () => {
    expect(fatalMessages('config: { edition: 3 }\n')).toContain("'streams' are required.");
  });

  it('edition 2 with streams gives the alpha warning and still compiles', async () => {
    const yaml = "config: { edition: 2 }\nstreams:\n  s:\n    auto_subscribe: true\n    query: SELECT * FROM t WHERE id IN ifnull(subscription.parameter('ids'), '[\"default\"]')\n";
    const issues = issuesOf(yaml);
    expect(issues.filter((i) => i.level === 'fatal')).toEqual([]);
    expect(issues.find((i) => i.code === SyncRulesCode.STREAMS_ALPHA)).toMatchObject({ level: 'warning', location: { line: 2, column: 1 } });
    expect(issues[0]?.message).toMatch(/^This is using an alpha version of Sync Streams\./);
  });

  it('edition ≤ 2 rejects top-level with, stream with and queries', () => {
    expect(fatalMessages('with:\n  a: SELECT id FROM t\nstreams:\n  s:\n    query: SELECT * FROM t\n')).toContain('Common table expressions require edition 3.');
    expect(fatalMessages('streams:\n  s:\n    with: { a: SELECT id FROM t }\n    query: SELECT * FROM t\n')).toContain('Common table expressions require edition 3.');
    expect(fatalMessages('streams:\n  s:\n    queries: [SELECT * FROM t]\n').join()).toMatch(/`queries` require edition 3/);
  });

  it('stream names are unique across streams and bucket definitions', () => {
    const yaml = 'bucket_definitions:\n  s:\n    data: [SELECT * FROM t]\nstreams:\n  s:\n    query: SELECT * FROM t\n';
    const issue = issuesOf(yaml).find((i) => i.message === 'Duplicate stream or bucket definition.');
    expect(issue).toMatchObject({ level: 'fatal', code: SyncRulesCode.DUPLICATE_NAME, location: { line: 5, column: 3 } });
  });

  it('edition 2 mixes bucket definitions and alpha streams', () => {
    const rules = streamsFrom('config: { edition: 2 }\nbucket_definitions:\n  b:\n    data: [SELECT * FROM t]\nstreams:\n  s:\n    query: SELECT * FROM t\n');
    expect(rules.definitions.map((d) => d.name)).toEqual(['b']);
    expect(rules.streams.map((s) => s.name)).toEqual(['s']);
    expect(rules.evaluateRow({ schema: 'public', name: 't' }, { id: 'x' }).map((r) => r.bucket)).toEqual(['1#b[]', '1#s|0[]']);
  });
});

describe('§8.2 stream keys', () => {
  it('an unknown key', () => {
    const issues = issuesOf(stream('SELECT * FROM t', '    color: red\n'));
    expect(issues.find((i) => i.message === "Unknown key 'color'.")).toMatchObject({ level: 'fatal', location: { line: 4, column: 5 } });
  });

  it('both or neither of query / queries', () => {
    expect(fatalMessages(ed3('  s:\n    auto_subscribe: true\n'))).toContain('One of `queries` or `query` must be given.');
    expect(fatalMessages(ed3('  s:\n    query: SELECT * FROM t\n    queries: [SELECT * FROM u]\n'))).toContain('One of `queries` or `query` must be given.');
    expect(fatalMessages(ed3('  s:\n    query: [SELECT * FROM t]\n'))).toContain('Expected a scalar here.');
    expect(fatalMessages(ed3('  s:\n    queries: SELECT * FROM t\n'))).toContain('Expected a sequence here.');
  });

  it('priority: 4', () => {
    const issue = issuesOf(stream('SELECT * FROM t', '    priority: 4\n')).find((i) => i.level === 'fatal');
    expect(issue).toMatchObject({ message: 'Invalid priority, expected a number between 0 and 3 (inclusive).', location: { line: 4, column: 15 } });
  });

  it('auto_subscribe: yes is a string under YAML 1.2 core, not a boolean', () => {
    expect(fatalMessages(stream('SELECT * FROM t', '    auto_subscribe: yes\n'))).toContain('`auto_subscribe` must be a boolean');
  });

  it('exposes stream info for the dashboard', () => {
    const rules = streamsFrom(
      "streams:\n  s:\n    auto_subscribe: true\n    priority: 1\n    query: SELECT * FROM todos WHERE list_id IN (SELECT id FROM lists WHERE owner = auth.user_id()) OR id = subscription.parameter('id')\n",
    );
    expect(rules.streams).toEqual([{ name: 's', autoSubscribe: true, priority: 1, variantCount: 2, tablesRead: ['public.todos', 'public.lists'] }]);
    expect(rules.sourceTables().map((t) => t.tablePattern).sort()).toEqual(['lists', 'todos']);
    expect(rules.tableMatches({ schema: 'public', name: 'lists' })).toEqual({ data: false, parameters: true });
  });
});

describe('§8.3 rejected SQL', () => {
  const cases: Array<[string, string, string]> = [
    ['SELECT a.*, b.*', 'SELECT a.*, b.* FROM a, b WHERE a.id = b.id', "Sync streams can only select from a single table, and this one already selects from 'a'."],
    ['LEFT JOIN', 'SELECT a.* FROM a LEFT JOIN b ON a.id = b.id', 'FULL JOIN is not supported'],
    ['USING', 'SELECT a.* FROM a JOIN b USING (id)', 'USING is not supported'],
    ['LIMIT', 'SELECT * FROM t LIMIT 1', 'LIMIT is not supported'],
    ['ORDER BY', 'SELECT * FROM t ORDER BY id', 'ORDER BY is not supported'],
    ['GROUP BY', 'SELECT id FROM t GROUP BY id', 'GROUP BY is not supported'],
    ['LIKE', "SELECT * FROM t WHERE name LIKE 'a%'", 'LIKE expressions are not currently supported.'],
    ['random()', 'SELECT * FROM t WHERE random() > 0.5', 'Forbidden call: Sync definitions must be deterministic.'],
    ['request.user_id()', 'SELECT * FROM t WHERE owner = request.user_id()', 'Invalid schema in function name'],
    ['subscription.user_id()', 'SELECT * FROM t WHERE owner = subscription.user_id()', '.user_id() is only available on auth schema'],
    ['$1', 'SELECT * FROM t WHERE id = $1', 'SQL parameters are not allowed.'],
    ['NOT IN (SELECT…)', 'SELECT * FROM t WHERE id NOT IN (SELECT tid FROM m WHERE u = auth.user_id())', 'NOT IN with a subquery is not supported'],
    ['NOT IN <parameter>', "SELECT * FROM t WHERE id NOT IN subscription.parameter('ids')", "This expression already references 't'"],
    ['json_valid()', 'SELECT * FROM t WHERE json_valid(data)', "Unknown function 'json_valid'"],
    ['a 2-column subquery', 'SELECT * FROM t WHERE id IN (SELECT a, b FROM m)', 'Must return a single expression column'],
    ['a * subquery', 'SELECT * FROM t WHERE id IN (SELECT * FROM m)', 'Must return a single expression column'],
    ['an UPDATE', 'UPDATE t SET a = 1', 'Expected a SELECT statement'],
    ['a table function', 'SELECT * FROM generate_series(1, 3)', 'Sync streams can only select from actual tables'],
    ['unary minus on an expression', 'SELECT * FROM t WHERE -a > 1', 'Unary minus is not currently supported'],
    ['row data mixed with request data without =', 'SELECT * FROM t WHERE a > auth.parameter(\'x\')', "This expression already references 't'"],
    ['a request value in a result column', "SELECT id, auth.user_id() AS u FROM t", 'This attempts to sync a connection parameter.'],
    ['an unrelated table', 'SELECT a.* FROM a, b WHERE b.u = auth.user_id()', 'This filter is unrelated to the request or the table being synced, and not supported.'],
    ['an ambiguous unqualified column', 'SELECT a.* FROM a, b WHERE x = 1 AND a.id = b.id', 'Invalid unqualified reference since multiple tables are in scope'],
    ['a subquery in a result column', 'SELECT (SELECT 1) AS x, * FROM t', 'Invalid position for subqueries.'],
  ];
  for (const [name, sql, message] of cases) {
    it(`rejects ${name}`, () => {
      const messages = fatalMessages(stream(JSON.stringify(sql)));
      expect(messages.some((m) => m.startsWith(message)), JSON.stringify(messages)).toBe(true);
    });
  }

  it('rejects IN cte on a 2-column CTE', () => {
    const yaml = ed3('  s:\n    with:\n      c: SELECT a, b FROM m\n    query: SELECT * FROM t WHERE id IN c\n');
    expect(fatalMessages(yaml)).toContain('Common-table expression must return a single column');
  });

  it('rejects a CTE that references another CTE', () => {
    const yaml = 'config: { edition: 3 }\nwith:\n  a: SELECT id FROM lists\nstreams:\n  s:\n    with:\n      b: SELECT id FROM a\n    query: SELECT * FROM t WHERE id IN b\n';
    expect(fatalMessages(yaml)).toContain("A common table expression cannot reference another common table expression ('a')");
  });

  it('warns when an unquoted alias renames the synced table in a join; AS "x" silences it', () => {
    const join = (alias: string) => stream(JSON.stringify(`SELECT u.* FROM users AS ${alias} JOIN m ON u.id = m.uid WHERE m.owner = auth.user_id()`));
    expect(warnings(join('u')).some((w) => w.message.startsWith("Rows of 'users' sync to clients as table 'u'"))).toBe(true);
    expect(warnings(join('"u"')).some((w) => w.message.startsWith('Rows of'))).toBe(false);
  });

  it('rejects * in a CTE', () => {
    const yaml = ed3('  s:\n    with:\n      c: SELECT * FROM m\n    query: SELECT * FROM t WHERE id IN c\n');
    expect(fatalMessages(yaml)).toContain('* columns are not allowed in subqueries or common table expressions');
  });

  it('maps SQL errors into the YAML scalar (line/column of the offending token)', () => {
    const yaml = ed3("  s:\n    query: |\n      SELECT * FROM t\n        WHERE name LIKE 'a%'\n");
    const issue = issuesOf(yaml).find((i) => i.message === 'LIKE expressions are not currently supported.');
    expect(issue?.location).toMatchObject({ line: 6, column: 15 });
  });
});

describe('§8.4 warnings and limits', () => {
  const dangerous = /^Clients can send any value for this unauthenticated parameter/;
  const isDangerous = (query: string, extra = '') => warnings(stream(JSON.stringify(query), extra)).some((w) => dangerous.test(w.message));

  it('safe queries do not warn', () => {
    expect(isDangerous('SELECT * FROM t WHERE user_id = auth.user_id()')).toBe(false);
    expect(isDangerous("SELECT * FROM t WHERE org = auth.parameter('org') AND project = subscription.parameter('project')")).toBe(false);
    expect(isDangerous("SELECT * FROM t WHERE org = auth.parameter('org') AND project = connection.parameter('project')")).toBe(false);
    expect(isDangerous('SELECT * FROM users')).toBe(false);
    expect(isDangerous('SELECT * FROM t WHERE is_public OR owner = auth.user_id()')).toBe(false);
  });

  it('dangerous queries warn, and accept_potentially_dangerous_queries silences them', () => {
    expect(isDangerous("SELECT * FROM t WHERE id = subscription.parameter('project')")).toBe(true);
    expect(isDangerous("SELECT * FROM t WHERE id = subscription.parameter('project') AND auth.parameter('role') = 'authenticated'")).toBe(true);
    expect(isDangerous("SELECT * FROM t WHERE connection.parameter('include_categories')")).toBe(true);
    expect(isDangerous("SELECT * FROM t WHERE id = subscription.parameter('id') OR owner = auth.user_id()")).toBe(true);
    expect(isDangerous("SELECT * FROM t WHERE id = subscription.parameter('project')", '    accept_potentially_dangerous_queries: true\n')).toBe(false);
  });

  it('a lookup fed by auth data authenticates the parameter', () => {
    expect(isDangerous('SELECT * FROM t WHERE list_id IN (SELECT id FROM lists WHERE owner = auth.user_id())')).toBe(false);
    expect(isDangerous("SELECT * FROM t WHERE list_id IN (SELECT id FROM lists WHERE name = subscription.parameter('n'))")).toBe(true);
  });

  it('unused CTEs and unaliased expressions warn', () => {
    const w = warnings('config: { edition: 3 }\nwith:\n  unused: SELECT id FROM x\nstreams:\n  s:\n    query: SELECT id, upper(name) FROM t\n');
    expect(w.find((i) => i.message === "This common table expression isn't referenced.")).toMatchObject({ location: { line: 3, column: 3 } });
    expect(w.some((i) => i.message.startsWith("This expression has no alias, so it is synced as the column 'upper(name)'"))).toBe(true);
    const rules = streamsFrom('streams:\n  s:\n    query: SELECT id, upper(name) FROM t\n');
    expect(rules.evaluateRow({ schema: 'public', name: 't' }, { id: 'x', name: 'n' })[0]?.data).toBe('{"id":"x","upper(name)":"N"}');
  });

  it('a DNF over 100 terms fails', () => {
    const ors = (col: string) => `(${Array.from({ length: 11 }, (_, i) => `${col} = ${i}`).join(' OR ')})`;
    const messages = fatalMessages(stream(JSON.stringify(`SELECT * FROM t WHERE ${ors('a')} AND ${ors('b')}`)));
    expect(messages.some((m) => m.startsWith('For Sync Streams, inner OR operators need to be moved up to be top-level filters.'))).toBe(true);
  });

  it('more than 100 variants fails', () => {
    const queries = Array.from({ length: 101 }, (_, i) => `      - SELECT * FROM t WHERE c = auth.parameter('p${i}')`).join('\n');
    const messages = fatalMessages(ed3(`  s:\n    queries:\n${queries}\n`));
    expect(messages.some((m) => m.startsWith('This stream defines too many buckets (101, at most 100 are allowed).'))).toBe(true);
  });

  it('IN ARRAY[…] is a literal set; NOT IN a literal list works', () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT * FROM t WHERE kind IN ARRAY['a', 'b'] AND state NOT IN ('x', 'y')\n");
    const t = { schema: 'public', name: 't' };
    expect(rules.evaluateRow(t, { id: '1', kind: 'a', state: 'z' })).toHaveLength(1);
    expect(rules.evaluateRow(t, { id: '1', kind: 'c', state: 'z' })).toHaveLength(0);
    expect(rules.evaluateRow(t, { id: '1', kind: 'b', state: 'x' })).toHaveLength(0);
  });

  it('warns when * follows an aliased column (the later column wins)', () => {
    expect(warnings(stream('SELECT user_id AS id, * FROM users')).some((w) => w.message.startsWith('This * comes after an aliased column'))).toBe(true);
    expect(warnings(stream('SELECT *, user_id AS id FROM users')).some((w) => w.message.startsWith('This * comes after'))).toBe(false);
  });

  it('edition-3 bitwise operators and instr', () => {
    const rules = streamsFrom("streams:\n  s:\n    query: SELECT id, flags & 6 AS a, flags | 1 AS o, flags << 2 AS l, flags >> 1 AS r, instr(name, 'b') AS i FROM t\n");
    expect(rules.evaluateRow({ schema: 'public', name: 't' }, { id: 'x', flags: 5n, name: 'abc' })[0]?.data).toBe('{"id":"x","a":4,"o":5,"l":20,"r":2,"i":2}');
  });

  it('edition-3 operators: BETWEEN, CASE, %, IS TRUE', () => {
    const rules = streamsFrom(
      "streams:\n  s:\n    query: SELECT id, CASE WHEN n % 2 = 0 THEN 'even' ELSE 'odd' END AS parity FROM t WHERE n BETWEEN 1 AND 10 AND flag IS TRUE\n",
    );
    const t = { schema: 'public', name: 't' };
    expect(rules.evaluateRow(t, { id: 'x', n: 4n, flag: 1n })[0]?.data).toBe('{"id":"x","parity":"even"}');
    expect(rules.evaluateRow(t, { id: 'x', n: 11n, flag: 1n })).toEqual([]);
    expect(rules.evaluateRow(t, { id: 'x', n: 3n, flag: 0n })).toEqual([]);
  });
});

describe('schema-aware warnings', () => {
  it('warns about unknown tables and columns and about CTEs shadowing a table', () => {
    const schema = { tables: [{ schema: 'public', name: 'todos', columns: [{ name: 'id', pgType: 'text' }, { name: 'list_id', pgType: 'text' }] }] };
    const yaml = 'config: { edition: 3 }\nwith:\n  todos: SELECT id FROM lists\nstreams:\n  s:\n    query: SELECT * FROM todos WHERE nope = 1 AND list_id IN (SELECT id FROM lists)\n';
    const { issues } = compileSyncRules(yaml, { versionId: 1, schema });
    const messages = issues.filter((i) => i.level === 'warning').map((i) => i.message);
    expect(messages).toContain('This common table expression shadows the name of a table in the source schema.');
    expect(messages).toContain('Table public.lists not found');
  });

  it('warns about an unknown column of a known table', () => {
    const schema = { tables: [{ schema: 'public', name: 't', columns: [{ name: 'id', pgType: 'text' }] }] };
    const { issues } = compileSyncRules('config: { edition: 3 }\nstreams:\n  s:\n    query: SELECT * FROM t WHERE nope = 1\n', { versionId: 1, schema });
    expect(issues.map((i) => i.message)).toContain('Column nope not found in table public.t');
  });
});

