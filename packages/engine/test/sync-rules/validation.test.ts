import { describe, expect, it } from 'vitest';
import { compileSyncRules } from '../../src/sync-rules/compile.ts';
import { toApiIssue } from '../../src/sync-rules/sql-issues.ts';
import type { SyncRulesIssue } from '../../src/sync-rules/types.ts';
import { issuesOf } from './helpers.ts';

/** 1-based line/column of the first occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string, occurrence = 1): { line: number; column: number } {
  let offset = -1;
  for (let i = 0; i < occurrence; i++) offset = text.indexOf(needle, offset + 1);
  if (offset < 0) throw new Error(`'${needle}' not in text`);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1) as string).length + 1 };
}

function only(issues: SyncRulesIssue[], level: SyncRulesIssue['level'] = 'fatal'): SyncRulesIssue[] {
  return issues.filter((i) => i.level === level);
}

function expectIssue(yaml: string, message: string | RegExp, at: string, occurrence = 1, level: SyncRulesIssue['level'] = 'fatal') {
  const issues = issuesOf(yaml);
  const match = issues.find((i) => i.level === level && (typeof message === 'string' ? i.message === message : message.test(i.message)));
  expect(match, `no ${level} issue ${String(message)} in ${JSON.stringify(issues, null, 1)}`).toBeDefined();
  expect({ line: match?.location?.line, column: match?.location?.column }).toEqual(positionOf(yaml, at, occurrence));
  return match as SyncRulesIssue;
}

const def = (data: string, extra = '') => `bucket_definitions:\n  b:\n${extra}    data:\n      - ${data}\n`;

describe('YAML and shape errors', () => {
  it('reports YAML syntax errors with their position', () => {
    const yaml = 'bucket_definitions:\n  b:\n    data: [SELECT 1\n  c: x\n';
    const issue = only(issuesOf(yaml))[0];
    expect(issue?.code).toBe('SYNC_RULES_YAML_SYNTAX');
    expect(issue?.message).toMatch(/^YAML error: /);
    expect(issue?.location?.line).toBeGreaterThan(1);
  });

  it('reports duplicate definition names', () => {
    const yaml = 'bucket_definitions:\n  b:\n    data: [SELECT * FROM t]\n  b:\n    data: [SELECT * FROM u]\n';
    const issue = only(issuesOf(yaml))[0];
    expect(issue?.message).toMatch(/Map keys must be unique/);
    expect(issue?.location?.line).toBe(4);
  });

  it('requires bucket_definitions and rejects unknown keys everywhere', () => {
    expect(only(issuesOf('config:\n  edition: 2\n'))[0]?.message).toMatch(/Missing `bucket_definitions`/);
    expectIssue('foo: 1\n' + def('SELECT * FROM t'), "Unknown top-level key 'foo'; allowed: config, bucket_definitions, streams, event_definitions, with", 'foo');
    expectIssue(def('SELECT * FROM t', '    colour: red\n'), /^Unknown key 'colour' in bucket definition 'b'/, 'colour');
    expectIssue('config:\n  nope: 1\n' + def('SELECT * FROM t'), "Unknown config key 'nope'", 'nope');
    expectIssue('bucket_definitions:\n  b:\n    parameters: SELECT 1 AS x\n', "Bucket definition 'b' must have `data`: a list of SELECT queries", 'b:');
    expectIssue('bucket_definitions:\n  b:\n    data: 5\n', '`data` must be a SQL string or a list of SQL strings', '5');
    expectIssue('bucket_definitions:\n  b:\n    data:\n      - 5\n', 'Each data query must be a string', '5');
    expectIssue('- a\n', 'Sync rules must be a YAML mapping with a `bucket_definitions` or `streams` key', '- a');
  });

  it('validates priorities', () => {
    for (const p of ['4', '-1', '1.5', 'high']) {
      expectIssue(def('SELECT * FROM t', `    priority: ${p}\n`), 'Invalid priority, expected a number between 0 and 3 (inclusive).', p);
    }
    const yaml = 'bucket_definitions:\n  b:\n    parameters: SELECT request.user_id() AS u, 7 AS _priority\n    data:\n      - SELECT * FROM t WHERE u = bucket.u\n';
    expectIssue(yaml, 'Invalid priority, expected a number between 0 and 3 (inclusive).', '7 AS');
  });

  it('validates config values', () => {
    expectIssue('config:\n  edition: 7\n' + def('SELECT * FROM t'), 'Invalid edition 7; expected 1, 2 or 3', '7');
    expectIssue('config:\n  edition: 3\n' + def('SELECT * FROM t'), /^'bucket_definitions' are not supported by the new compiler/, 'bucket_definitions');
    expectIssue('config:\n  storage_version: 3\n' + def('SELECT * FROM t'), 'Storage version 3 is not supported', '3');
    expectIssue('config:\n  fixed_json_extract: yes please\n' + def('SELECT * FROM t'), '`fixed_json_extract` must be true or false', 'yes please');
    expectIssue('config:\n  edition: 1\n  timestamp_max_precision: seconds\n' + def('SELECT * FROM t'), '`timestamp_max_precision` requires timestamps_iso8601', 'timestamp_max_precision');
    expect(only(issuesOf('config:\n  timestamp_max_precision: milliseconds\n' + def('SELECT * FROM t')))).toEqual([]);
  });

  it('warns about alpha Sync Streams before edition 3 and rejects edition 3 features there', () => {
    const yaml = 'streams:\n  s:\n    query: SELECT * FROM t\n';
    expectIssue(yaml, /^This is using an alpha version of Sync Streams\./, 'streams', 1, 'warning');
    expectIssue('with:\n  x: SELECT 1\n' + def('SELECT * FROM t'), /^Common table expressions require edition 3/, 'with');
    expectIssue('event_definitions: {}\n' + def('SELECT * FROM t'), '`event_definitions` are not supported yet and are ignored', 'event_definitions', 1, 'warning');
  });
});

describe('SQL errors (messages of reference §6.6, positions inside the YAML)', () => {
  it.each([
    ['SELECT id FROM t; SELECT id FROM u', 'Only a single SELECT statement is supported', 'SELECT id FROM u'],
    ['DELETE FROM t', 'Only a single SELECT statement is supported', 'DELETE'],
    ['SELECT id FROM a, b', 'Must SELECT from a single table', 'b\n'],
    ['SELECT id FROM a JOIN b ON a.x = b.y', 'Must SELECT from a single table', 'JOIN'],
    ['SELECT id FROM (SELECT 1) x', 'Must SELECT from a single table', '(SELECT'],
    ['SELECT name FROM t', 'Query must return an "id" column', 'name'],
    ['SELECT id, foo(x) AS f FROM t', "Function 'foo' is not defined", 'foo('],
    ['SELECT id, other.x AS f FROM t', 'Undefined reference: other.x', 'other.x'],
    ['SELECT id FROM t WHERE x = bucket.missing', /^Undefined reference: bucket.missing/, 'bucket.missing'],
    ['SELECT id FROM t LIMIT 5', 'LIMIT is not supported in sync rules queries', '5'],
    ['SELECT id FROM t ORDER BY id', 'ORDER BY is not supported in sync rules queries', 'id\n'],
    ['SELECT DISTINCT id FROM t', 'DISTINCT is not supported in sync rules queries', 'SELECT DISTINCT'],
    ['SELECT id FROM t GROUP BY id', 'GROUP BY is not supported in sync rules queries', 'id\n'],
    ['SELECT id FROM t WHERE x = ?', 'SQL syntax error: unexpected "?"', '?'],
    ['SELECT id, upper(x) FROM t', 'Expressions in data queries need an alias, e.g. `upper(name) AS name`', 'upper'],
    ['SELECT id, CAST(x AS bigint) AS y FROM t', "CAST to 'bigint' is not supported; use text, numeric, integer, real or blob", 'bigint'],
    ['SELECT id, request.user_id() AS u FROM t', /^request.user_id\(\) cannot be used in data queries/, 'request.user_id'],
    ['SELECT id, token_parameters.x AS u FROM t', /^token_parameters.x cannot be used in data queries/, 'token_parameters'],
    ['SELECT id, public.t.x AS y FROM t', /^Schema-qualified column references are not supported/, 'public.t.x'],
    ['SELECT id FROM t WHERE id IN (SELECT x FROM u)', 'Subqueries are not supported in sync rules', 'SELECT x'],
  ])('%s → %s', (sql, message, at) => {
    const yaml = def(sql);
    const issue = expectIssue(yaml, message, at, sql.includes(`${at}${at}`) ? 2 : 1);
    expect(issue.code).toMatch(/^SYNC_RULES_/);
    expect(compileSyncRules(yaml, { versionId: 1 }).rules).toBeNull();
  });

  it('places "unexpected end of input" at the end of the SQL', () => {
    const yaml = def('SELECT id FROM t WHERE');
    const issue = issuesOf(yaml).find((i) => i.message === 'SQL syntax error: unexpected end of input');
    expect(issue?.location?.startOffset).toBe(yaml.indexOf('WHERE') + 'WHERE'.length);
  });

  it('checks that data queries cover all bucket parameters', () => {
    const yaml = 'bucket_definitions:\n  b:\n    parameters: SELECT request.user_id() AS u, request.jwt() ->> \'org\' AS o\n    data:\n      - SELECT * FROM t WHERE owner = bucket.u\n';
    expectIssue(yaml, 'Query must cover all bucket parameters. Expected: ["bucket.u","bucket.o"] Got: ["bucket.u"]', 'owner');
  });

  it('checks bucket parameter usage in data queries', () => {
    const base = 'bucket_definitions:\n  b:\n    parameters: SELECT request.user_id() AS u\n    data:\n      - ';
    expectIssue(base + 'SELECT * FROM t WHERE upper(owner) = upper(bucket.u)\n', /^Bucket parameters can only be used as/, 'upper(owner)');
    expectIssue(base + 'SELECT * FROM t WHERE NOT owner = bucket.u\n', /^Bucket parameters can only be used as/, 'NOT');
    expectIssue(base + 'SELECT *, bucket.u AS x FROM t WHERE owner = bucket.u\n', /^Bucket parameters cannot be selected/, 'bucket.u AS');
    expectIssue(base + 'SELECT * FROM t WHERE owner = bucket.u OR archived\n', /^Both sides of OR must use the same bucket parameters/, 'owner');
  });

  it('checks parameter queries', () => {
    const p = (params: string) => `bucket_definitions:\n  b:\n    parameters:\n${params}    data:\n      - SELECT * FROM t WHERE x = bucket.x\n`;
    expectIssue(p('      - SELECT id AS x FROM lists l WHERE l.owner = request.user_id()\n'), 'Table aliases not supported in parameter queries', 'lists l');
    expectIssue(
      p('      - SELECT request.user_id() AS x\n      - SELECT request.user_id() AS y\n'),
      'Bucket parameters must match for each parameter query within a bucket. Expected: ["x"] Got: ["y"]',
      'SELECT request.user_id() AS y',
    );
    expectIssue(p('      - SELECT id AS x FROM lists WHERE a IN request.jwt() -> \'a\' AND b IN request.jwt() -> \'b\'\n'), 'Cannot have multiple array input parameters', "request.jwt() -> 'b'");
    expectIssue(p('      - SELECT request.user_id()\n'), /^Expressions in parameter queries need an alias/, 'request.user_id()');
    expectIssue(p('      - SELECT * FROM lists\n'), /^'\*' is not supported in parameter queries/, '*');
    expectIssue(p('      - SELECT id AS x FROM lists WHERE upper(owner || request.user_id()) = \'A\'\n'), /^Cannot combine table columns and request parameters/, 'upper');
    expectIssue(p('      - SELECT owner || request.user_id() AS x FROM lists\n'), 'Cannot combine table columns and request parameters in one output column', 'owner ||');
    expectIssue(p('      - SELECT x\n'), /^Undefined reference: x/, 'x\n');
    expectIssue(p('      - SELECT value AS x FROM json_each(request.jwt() -> \'a\') WHERE other = 1\n'), /^Undefined reference: other/, 'other');
    expectIssue(p('      - SELECT value AS x FROM generate_series(1, 2)\n'), /^Table-valued function 'generate_series' is not defined/, 'generate_series');
    expectIssue(p('      - SELECT id AS x FROM lists WHERE owner = bucket.y\n'), /^Undefined reference: bucket.y/, 'bucket.y');
  });

  it('reports every problem at once', () => {
    const yaml = `bucket_definitions:
  a:
    parameters: SELECT request.user_id() AS u
    data:
      - SELECT name FROM t WHERE y = bucket.z LIMIT 3
      - SELECT id FROM a, b
  b:
    priority: 9
    data:
      - SELECT id, nope(x) AS n FROM t
`;
    const messages = only(issuesOf(yaml)).map((i) => i.message);
    expect(messages).toEqual([
      'LIMIT is not supported in sync rules queries',
      'Query must return an "id" column',
      'Undefined reference: bucket.z (bucket parameters: bucket.u)',
      'Query must cover all bucket parameters. Expected: ["bucket.u"] Got: []',
      'Must SELECT from a single table',
      'Invalid priority, expected a number between 0 and 3 (inclusive).',
      "Function 'nope' is not defined",
    ]);
  });
});

describe('admin API shape', () => {
  it('converts issues to {level, message, location: {start_offset, end_offset}}', () => {
    const yaml = def('SELECT id, nope(x) AS n FROM t');
    const [issue] = issuesOf(yaml);
    const start = yaml.indexOf('nope(x)');
    expect(toApiIssue(issue as SyncRulesIssue)).toEqual({ level: 'fatal', message: "Function 'nope' is not defined", location: { start_offset: start, end_offset: start + 7 } });
    expect(toApiIssue({ level: 'warning', message: 'm', code: 'X' })).toEqual({ level: 'warning', message: 'm' });
  });
});

describe('positions inside different YAML scalar styles', () => {
  it.each([
    ['plain', '      - SELECT id, nope(x) AS n FROM t\n'],
    ['double-quoted with escapes', '      - "SELECT id, \\"n\\" AS q, nope(x) AS n FROM t"\n'],
    ['single-quoted', "      - 'SELECT id, ''n'' AS q, nope(x) AS n FROM t'\n"],
    ['literal block', '      - |\n        SELECT id,\n          nope(x) AS n\n        FROM t\n'],
    ['folded block', '      - >\n        SELECT id,\n          nope(x) AS n\n        FROM t\n'],
    ['multi-line plain', '      - SELECT id,\n        nope(x) AS n FROM t\n'],
  ])('%s', (_style, dataLine) => {
    const yaml = `bucket_definitions:\n  b:\n    data:\n${dataLine}`;
    const issue = expectIssue(yaml, "Function 'nope' is not defined", 'nope(x)');
    expect(yaml.slice(issue.location?.startOffset, issue.location?.endOffset)).toBe('nope(x)');
  });
});

describe('warnings', () => {
  it('warns about client-controlled parameters unless accepted', () => {
    const dangerous = (extra: string, params: string) => `bucket_definitions:\n  b:\n${extra}    parameters: ${params}\n    data:\n      - SELECT * FROM t WHERE x = bucket.x\n`;
    const cases = [
      "SELECT request.parameters() ->> 'x' AS x",
      "SELECT id AS x FROM lists WHERE id = request.parameters() ->> 'list'",
      'SELECT user_parameters.x AS x',
      "SELECT value AS x FROM json_each(request.parameters() -> 'ids')",
      "SELECT request.parameter('x') AS x",
    ];
    for (const params of cases) {
      const yaml = dangerous('', params);
      const issue = expectIssue(yaml, /^Potentially dangerous query based on parameters set by the client/, params, 1, 'warning');
      expect(issue.code).toBe('SYNC_RULES_DANGEROUS_QUERY');
      expect(compileSyncRules(yaml, { versionId: 1 }).rules).not.toBeNull();
      expect(issuesOf(dangerous('    accept_potentially_dangerous_queries: true\n', params))).toEqual([]);
    }
    expect(issuesOf(dangerous('', "SELECT id AS x FROM lists WHERE id = request.parameters() ->> 'list' AND owner = request.user_id()"))).toEqual([]);
    expect(issuesOf(dangerous('', "SELECT request.parameters() ->> 'x' AS x WHERE request.jwt() ->> 'role' = 'admin'"))).toEqual([]);
  });

  it('warns about unknown tables and columns when a schema is given', () => {
    const schema = {
      tables: [
        { schema: 'public', name: 'todos', columns: [{ name: 'id', pgType: 'text' }, { name: 'list_id', pgType: 'text' }] },
        { schema: 'public', name: 'lists', columns: [{ name: 'id', pgType: 'text' }, { name: 'owner_id', pgType: 'text' }] },
        { schema: 'public', name: 'notes', columns: [{ name: 'body', pgType: 'text' }] },
      ],
    };
    const yaml = `bucket_definitions:
  b:
    parameters: SELECT id AS list_id FROM lists WHERE owner = request.user_id()
    data:
      - SELECT id, titel FROM todos WHERE list_id = bucket.list_id
      - SELECT * FROM missing WHERE list_id = bucket.list_id
      - SELECT * FROM notes WHERE body = bucket.list_id
      - SELECT * FROM "todo%" WHERE list_id = bucket.list_id
`;
    const { rules, issues } = compileSyncRules(yaml, { versionId: 1, schema });
    expect(rules).not.toBeNull();
    const warnings = issues.map((i) => [i.level, i.message, i.location?.line, i.location?.column]);
    const at = (needle: string) => Object.values(positionOf(yaml, needle));
    expect(warnings).toEqual([
      ['warning', 'Column owner not found in table public.lists', ...at('owner =')],
      ['warning', 'Column titel not found in table public.todos', ...at('titel')],
      ['warning', 'Table public.missing not found', ...at('missing')],
      ['warning', 'Query must return an "id" column', ...at('* FROM notes')],
    ]);
    expect(issuesOf(yaml.replace('titel', 'list_id'))).toEqual([]);
  });
});
