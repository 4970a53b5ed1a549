/**
 * The Sync Streams converter's text output (golden files and per-construct cases) and its
 * handling of hostile input. The row-equivalence proof is migrate-to-streams.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MigrationCode, migrateSyncRulesToStreams } from '../../src/sync-rules/migrate-to-streams.ts';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

/** The migrated YAML of one definition with the given body. */
function migrateBody(body: string, name = 'd'): { yaml: string; fatal: string[]; warnings: string[] } {
  const { yaml, issues } = migrateSyncRulesToStreams(`bucket_definitions:\n  ${name}:\n${body.replace(/^/gm, '    ')}\n`);
  return { yaml, fatal: issues.filter((i) => i.level === 'fatal').map((i) => i.message), warnings: issues.filter((i) => i.level === 'warning').map((i) => i.message) };
}

/** The `queries` of the migrated stream as plain strings. */
function queriesOf(yaml: string): string[] {
  return yaml
    .split('\n')
    .filter((l) => l.startsWith('      - '))
    .map((l) => l.slice(8));
}

describe('migrate to Sync Streams: golden files', () => {
  it('the demo rules migrate to demo/sync-rules.streams.yaml', () => {
    const result = migrateSyncRulesToStreams(read('../../../../demo/sync-rules.yaml'));
    expect(result.issues.filter((i) => i.level === 'fatal')).toEqual([]);
    expect(result.yaml).toBe(read('../../../../demo/sync-rules.streams.yaml'));
    expect(result.streams).toEqual([{ name: 'user_lists', definition: 'user_lists', priority: 1, queries: 2, ctes: 1 }]);
  });

  it('the rich fixture migrates to fixtures/migrate-rich.streams.yaml', () => {
    const result = migrateSyncRulesToStreams(read('./fixtures/migrate-rich.yaml'));
    expect(result.issues.filter((i) => i.level === 'fatal')).toEqual([]);
    expect(result.yaml).toBe(read('./fixtures/migrate-rich.streams.yaml'));
    expect(result.streams.map((s) => [s.name, s.priority, s.queries, s.ctes])).toEqual([
      ['everyone', 3, 2, 0],
      ['mine', 0, 2, 0],
      ['lists', 1, 2, 2],
      ['org_admin', 3, 1, 0],
      ['tagged', 3, 1, 1],
      ['urgent', 0, 1, 1],
      ['picked', 3, 1, 0],
    ]);
  });

  it('lists the behaviour differences to check after migrating as warnings', () => {
    const { issues } = migrateSyncRulesToStreams(read('./fixtures/migrate-rich.yaml'));
    const warnings = issues.filter((i) => i.level === 'warning').map((i) => i.message).join('\n');
    expect(warnings).toMatch(/Bucket ids change/);
    expect(warnings).toMatch(/includeDefaultStreams: false/);
    expect(warnings).toMatch(/`id` column/);
    expect(warnings).toMatch(/start with `_`/);
    expect(warnings).toMatch(/connection\.parameter.*not authenticated/);
  });
});

describe('migrate to Sync Streams: request values', () => {
  it.each([
    ['request.user_id()', 'auth.user_id()'],
    ["request.jwt() ->> 'org'", "auth.parameter('org')"],
    ["request.parameters() ->> 'p'", "connection.parameter('p')"],
    ["request.parameter('p')", "connection.parameter('p')"],
    ['user_parameters.p', "connection.parameter('p')"],
    ['token_parameters.user_id', 'auth.user_id()'],
    ['token_parameters.team', "(auth.parameter('parameters') ->> 'team')"],
    ["request.jwt() -> 'a' ->> 'b'", "(auth.parameters() -> 'a' ->> 'b')"],
  ])('%s becomes %s', (from, to) => {
    const { yaml, fatal } = migrateBody(`accept_potentially_dangerous_queries: true\nparameters: SELECT ${from} AS v\ndata: [SELECT * FROM t WHERE c = bucket.v]`);
    expect(fatal).toEqual([]);
    expect(queriesOf(yaml)).toEqual([`SELECT * FROM t WHERE c = ${to}`]);
  });

  it('ANDs the WHERE of a parameter query without FROM as a request filter', () => {
    const { yaml } = migrateBody("parameters: SELECT request.user_id() AS u WHERE request.jwt() ->> 'role' = 'admin'\ndata: [SELECT * FROM t WHERE owner = bucket.u OR editor = bucket.u]");
    expect(queriesOf(yaml)).toEqual(["SELECT * FROM t WHERE (owner = auth.user_id() OR editor = auth.user_id()) AND (auth.parameter('role') = 'admin')"]);
  });

  it('keeps a global definition as it is', () => {
    const { yaml } = migrateBody('data:\n  - SELECT id, name FROM t WHERE archived = 0\n  - SELECT * FROM u');
    expect(queriesOf(yaml)).toEqual(['SELECT id, name FROM t WHERE archived = 0', 'SELECT * FROM u']);
    expect(yaml).toContain('auto_subscribe: true');
  });
});

describe('migrate to Sync Streams: parameter queries over tables', () => {
  it('makes a table parameter query a stream-local CTE used with IN', () => {
    const { yaml } = migrateBody('parameters: SELECT id AS l FROM lists WHERE owner_id = request.user_id()\ndata: [SELECT * FROM todos WHERE list_id = bucket.l AND done = 0]');
    expect(yaml).toContain("d_param: SELECT id AS l FROM lists WHERE owner_id = auth.user_id()");
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM todos WHERE list_id IN d_param AND done = 0']);
  });

  it('turns `bucket.p IN <array column>` into an overlap with the CTE', () => {
    const { yaml } = migrateBody('parameters: SELECT id AS tag FROM tags WHERE owner = request.user_id()\ndata: [SELECT * FROM posts WHERE bucket.tag IN tags]');
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM posts WHERE tags && (SELECT tag FROM d_param)']);
  });

  it('inlines `SELECT value FROM json_each(<claim>)` as `IN <claim>`', () => {
    const { yaml } = migrateBody("parameters: SELECT value AS p FROM json_each(request.jwt() ->> 'projects')\ndata: [SELECT * FROM docs WHERE project = bucket.p]");
    expect(queriesOf(yaml)).toEqual(["SELECT * FROM docs WHERE project IN auth.parameter('projects')"]);
  });

  it('keeps a filtered json_each as a CTE', () => {
    const { yaml } = migrateBody("parameters: SELECT value ->> 'id' AS p FROM json_each(request.jwt() ->> 'projects') WHERE request.jwt() ->> 'role' = 'admin'\ndata: [SELECT * FROM docs WHERE project = bucket.p]");
    expect(yaml).toContain("d_param: SELECT value ->> 'id' AS p FROM json_each(auth.parameter('projects')) WHERE auth.parameter('role') = 'admin'");
  });

  it('ORs several parameter queries, one CTE each, and keeps request outputs as values', () => {
    const { yaml } = migrateBody(
      [
        'parameters:',
        '  - SELECT id AS l, request.user_id() AS u FROM lists WHERE owner_id = request.user_id()',
        '  - SELECT list_id AS l, request.user_id() AS u FROM members WHERE user_id = request.user_id()',
        'data: [SELECT * FROM todos WHERE list_id = bucket.l AND assignee = bucket.u]',
      ].join('\n'),
    );
    expect(yaml).toContain('d_param0: SELECT id AS l FROM lists');
    expect(yaml).toContain('d_param1: SELECT list_id AS l FROM members');
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM todos WHERE (list_id IN d_param0 AND assignee = auth.user_id()) OR (list_id IN d_param1 AND assignee = auth.user_id())']);
  });

  it('joins a CTE with correlated outputs as `bucket`, qualifying the row columns', () => {
    const { yaml, fatal } = migrateBody(
      [
        'parameters: SELECT org_id, team_id AS t, request.user_id() AS u FROM memberships WHERE user_id = request.user_id()',
        'data:',
        '  - SELECT * FROM boards WHERE org_id = bucket.org_id AND team_id = bucket.t AND owner = bucket.u AND (archived = 0 OR pinned = 1)',
        '  - SELECT b.id, upper(name) AS n FROM "Big Boards" AS b WHERE b.org_id = bucket.org_id AND team_id = bucket.t AND bucket.u IN editors',
      ].join('\n'),
    );
    expect(fatal).toEqual([]);
    expect(yaml).toContain('d_param: SELECT org_id, team_id AS t FROM memberships WHERE user_id = auth.user_id()');
    expect(queriesOf(yaml)).toEqual([
      'SELECT boards.* FROM boards, d_param AS bucket WHERE boards.org_id = bucket.org_id AND boards.team_id = bucket.t AND boards.owner = auth.user_id() AND (boards.archived = 0 OR boards.pinned = 1)',
      'SELECT b.id, upper(b.name) AS n FROM "Big Boards" AS b, d_param AS bucket WHERE b.org_id = bucket.org_id AND b.team_id = bucket.t AND auth.user_id() IN b.editors',
    ]);
  });

  it('joins the CTE when one set-valued parameter is compared twice (both sides need the same value)', () => {
    const { yaml, fatal } = migrateBody('parameters: SELECT id AS l FROM lists WHERE owner_id = request.user_id()\ndata:\n  - SELECT * FROM links WHERE from_list = bucket.l AND -to_list <> 0 AND to_list = bucket.l\n  - SELECT * FROM lists WHERE id = bucket.l');
    expect(fatal).toEqual([]);
    expect(queriesOf(yaml)).toEqual([
      'SELECT links.* FROM links, d_param AS bucket WHERE links.from_list = bucket.l AND (0 - links.to_list) <> 0 AND links.to_list = bucket.l',
      'SELECT * FROM lists WHERE id IN d_param',
    ]);
    const several = migrateBody(
      'parameters:\n  - SELECT id AS l FROM lists WHERE owner_id = request.user_id()\n  - SELECT request.user_id() AS l\ndata:\n  - SELECT * FROM links WHERE from_list = bucket.l AND to_list = bucket.l',
      'links',
    );
    expect(several.fatal.join()).toMatch(/'links'.*bucket\.l is used more than once/);
  });

  it('turns a parameter query that only checks that a row exists into an EXISTS gate', () => {
    const { yaml, fatal } = migrateBody('parameters: SELECT request.user_id() AS u, 1 AS _priority FROM admins WHERE user_id = request.user_id() AND (active = 1 OR forever = 1) AND level > 2\ndata: [SELECT * FROM audit WHERE actor = bucket.u]');
    expect(fatal).toEqual([]);
    expect(yaml).toContain('priority: 1');
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM audit WHERE (actor = auth.user_id()) AND (auth.user_id() IN (SELECT user_id FROM admins WHERE (active = 1 OR forever = 1) AND (level > 2)))']);
    const bare = migrateBody("parameters: SELECT FROM admins WHERE request.jwt() ->> 'email' = email\ndata: [SELECT * FROM secrets]");
    expect(queriesOf(bare.yaml)).toEqual(["SELECT * FROM secrets WHERE auth.parameter('email') IN (SELECT email FROM admins)"]);
  });

  it('does not name a CTE like a table of the rules', () => {
    const { yaml } = migrateBody('parameters: SELECT id AS l FROM d_param WHERE owner_id = request.user_id()\ndata: [SELECT * FROM todos WHERE list_id = bucket.l]');
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM todos WHERE list_id IN d_param_']);
  });
});

describe('migrate to Sync Streams: priorities, SQL details, comments, config', () => {
  it('folds `_priority` into the stream priority, warning when parameter queries disagree', () => {
    const same = migrateBody('parameters: SELECT request.user_id() AS u, 1 AS _priority\ndata: [SELECT * FROM t WHERE o = bucket.u]');
    expect(same.yaml).toContain('priority: 1');
    expect(same.warnings.join()).not.toMatch(/different priorities/);
    const mixed = migrateBody('priority: 2\nparameters:\n  - SELECT request.user_id() AS u, 0 AS _priority\n  - SELECT request.jwt() ->> \'x\' AS u\ndata: [SELECT * FROM t WHERE o = bucket.u]');
    expect(mixed.yaml).toContain('priority: 0');
    expect(mixed.warnings.join()).toMatch(/different priorities \(0, 2\)/);
  });

  it('keeps parentheses balanced around rewritten sub-expressions', () => {
    const { yaml } = migrateBody('parameters: SELECT request.user_id() AS u\ndata: [SELECT * FROM t WHERE (a = bucket.u) OR (b = bucket.u AND (c = 1))]');
    expect(queriesOf(yaml)).toEqual(['SELECT * FROM t WHERE (a = auth.user_id()) OR (b = auth.user_id() AND (c = 1))']);
  });

  it('rewrites substr and unary minus, which streams do not accept', () => {
    const { yaml, fatal } = migrateBody('data:\n  - SELECT id, substr(name, 1, 2) AS s FROM t WHERE -n < 0 AND -(a + b) > 1');
    expect(fatal).toEqual([]);
    expect(queriesOf(yaml)).toEqual(['SELECT id, substring(name, 1, 2) AS s FROM t WHERE (0 - n) < 0 AND (0 - (a + b)) > 1']);
  });

  it('preserves comments: the file header, the definition, its data items', () => {
    const { yaml } = migrateSyncRulesToStreams(
      ['# Header', 'bucket_definitions:', '  # About d', '  d:', '    data:', '      # first', '      - SELECT * FROM a # inline', '      # second', '      - SELECT * FROM b', ''].join('\n'),
    );
    expect(yaml).toBe(
      ['# Header', 'config:', '  edition: 3', 'streams:', '  # About d', '  d:', '    auto_subscribe: true', '    queries:', '      # first', '      - SELECT * FROM a # inline', '      # second', '      - SELECT * FROM b', ''].join('\n'),
    );
  });

  it('sets edition 3, keeps the config flags, and keeps an edition-1 row format explicitly', () => {
    const modern = migrateSyncRulesToStreams('config:\n  edition: 2\n  timestamp_max_precision: milliseconds\nbucket_definitions:\n  d:\n    data: [SELECT * FROM a]\n');
    expect(modern.yaml).toMatch(/^config:\n {2}edition: 3\n {2}timestamp_max_precision: milliseconds\n/);
    const legacy = migrateSyncRulesToStreams('config:\n  edition: 1\n  fixed_json_extract: true\nbucket_definitions:\n  d:\n    data: [SELECT * FROM a]\n');
    expect(legacy.yaml).toMatch(/^config:\n {2}edition: 3\n {2}fixed_json_extract: true\n {2}timestamps_iso8601: false\n {2}custom_postgres_types: false\n/);
    expect(legacy.issues.some((i) => i.level === 'warning' && /edition 1/.test(i.message))).toBe(true);
  });
});

describe('migrate to Sync Streams: what cannot be translated is reported, never dropped', () => {
  it('json_valid: a fatal issue naming the definition, and the definition kept as a comment', () => {
    const { yaml, issues } = migrateSyncRulesToStreams('bucket_definitions:\n  ok:\n    data: [SELECT * FROM a]\n  checks:\n    data: [SELECT * FROM b WHERE json_valid(payload)]\n');
    const fatal = issues.filter((i) => i.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: MigrationCode.UNTRANSLATABLE, definition: 'checks' });
    expect(fatal[0]?.message).toMatch(/json_valid/);
    expect(yaml).toContain('  ok:\n');
    expect(yaml).toContain("# NOT MIGRATED: bucket definition 'checks'");
    expect(yaml).toContain('  #     data: [SELECT * FROM b WHERE json_valid(payload)]');
  });

  it('an existence check without an equality, or correlated outputs next to other parameter queries, is reported', () => {
    const gate = migrateBody("parameters: SELECT request.user_id() AS u FROM admins WHERE request.user_id() IN member_ids\ndata: [SELECT * FROM b WHERE o = bucket.u]", 'gate');
    expect(gate.fatal.join()).toMatch(/'gate'.*only checks that a row exists .* has no `<column> = <request value>` condition/);
    const mixed = migrateBody(
      'parameters:\n  - SELECT org_id, team_id FROM m WHERE user_id = request.user_id()\n  - SELECT org_id, team_id FROM n WHERE user_id = request.user_id()\ndata:\n  - SELECT * FROM b WHERE org_id = bucket.org_id AND team_id = bucket.team_id',
      'pairs',
    );
    expect(mixed.fatal.join()).toMatch(/'pairs'.*several correlated outputs is combined with other parameter queries/);
  });
});

describe('migrate to Sync Streams: hostile input', () => {
  it.each([
    ['a number', 42],
    ['null', null],
    ['an object', { bucket_definitions: {} }],
  ])('rejects %s with a clear fatal issue', (_what, input) => {
    const result = migrateSyncRulesToStreams(input);
    expect(result).toEqual({ yaml: '', streams: [], issues: [{ level: 'fatal', code: MigrationCode.INVALID_INPUT, message: 'The sync rules must be YAML text (a string).' }] });
  });

  it('rejects input above the size limit without parsing it', () => {
    const result = migrateSyncRulesToStreams(`# ${'x'.repeat(2000)}`, { maxLength: 1000 });
    expect(result.yaml).toBe('');
    expect(result.issues[0]?.message).toMatch(/too large \(2002 characters, at most 1000\)/);
  });

  it('reports invalid YAML and invalid sync rules with their position', () => {
    const yaml = migrateSyncRulesToStreams('bucket_definitions:\n  d: [unclosed\n');
    expect(yaml.yaml).toBe('');
    expect(yaml.issues[0]).toMatchObject({ level: 'fatal', code: MigrationCode.INVALID_INPUT });
    expect(yaml.issues[0]?.location?.line).toBeGreaterThan(0);
    const rules = migrateSyncRulesToStreams('bucket_definitions:\n  d:\n    data: [SELECT * FROM a WHERE x = bucket.nope]\n');
    expect(rules.issues[0]?.message).toMatch(/^The sync rules are not valid, fix them first: .*bucket\.nope/);
    expect(rules.issues[0]?.location).toEqual({ line: 3, column: expect.any(Number) });
    expect(migrateSyncRulesToStreams('').issues[0]?.code).toBe(MigrationCode.INVALID_INPUT);
  });

  it('refuses input that already uses streams', () => {
    for (const input of ['streams:\n  s:\n    query: SELECT * FROM a\n', 'config:\n  edition: 3\nbucket_definitions:\n  d:\n    data: [SELECT * FROM a]\n']) {
      expect(migrateSyncRulesToStreams(input).issues).toEqual([expect.objectContaining({ level: 'fatal', code: MigrationCode.ALREADY_STREAMS })]);
    }
  });
});
