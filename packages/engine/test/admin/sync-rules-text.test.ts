import { describe, expect, it } from 'vitest';
import { definitionQueries, rulesOutline, streamChanges, streamOfBucket, streamOutline } from '../../src/admin/sync-rules-text.ts';

const STREAMS = `config:
  edition: 3
with:
  user_orgs: SELECT org_id FROM org_members WHERE user_id = auth.user_id()
  mine: SELECT id FROM lists WHERE owner_id = auth.user_id()
streams:
  list_todos:
    priority: 1
    with:
      mine: SELECT id FROM lists WHERE owner_id = auth.user_id() AND NOT archived
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list_id') AND list_id IN mine
  org_data:
    auto_subscribe: true
    queries:
      - SELECT * FROM projects WHERE org_id IN user_orgs
      - SELECT * FROM members WHERE org_id IN user_orgs
`;

describe('sync-rules text of streams', () => {
  it('reads query / queries, auto_subscribe, priority and CTEs (stream-local shadows global)', () => {
    const o = rulesOutline(STREAMS);
    expect(o.edition).toBe(3);
    expect(o.definitions).toHaveLength(2);
    const [todos, org] = o.definitions;
    expect(todos).toMatchObject({ name: 'list_todos', kind: 'stream', autoSubscribe: false, priority: 1, parameters: [] });
    expect(todos!.data).toEqual([expect.stringContaining("subscription.parameter('list_id')")]);
    expect(todos!.with.map((c) => [c.name, c.scope])).toEqual([['mine', 'stream'], ['user_orgs', 'global']]);
    expect(todos!.with[0]!.sql).toContain('NOT archived');
    expect(org).toMatchObject({ name: 'org_data', kind: 'stream', autoSubscribe: true, priority: null });
    expect(org!.data).toHaveLength(2);
  });

  it('keeps bucket definitions as default streams next to streams', () => {
    const defs = definitionQueries(`bucket_definitions:\n  by_user:\n    priority: 0\n    parameters: SELECT request.user_id() AS u\n    data:\n      - SELECT * FROM todos WHERE owner = bucket.u\n`);
    expect(defs).toEqual([{ name: 'by_user', kind: 'definition', parameters: ['SELECT request.user_id() AS u'], data: ['SELECT * FROM todos WHERE owner = bucket.u'], with: [], autoSubscribe: true, priority: 0 }]);
  });

  it('survives invalid YAML and odd shapes', () => {
    expect(rulesOutline('streams: [: nope')).toEqual({ edition: 1, definitions: [] });
    expect(rulesOutline('streams:\n  a: 3\n  b:\n    query: 5\n').definitions.map((d) => [d.name, d.data])).toEqual([['a', []], ['b', []]]);
    expect(rulesOutline('- a\n- b')).toEqual({ edition: 1, definitions: [] });
  });

  it('names the stream of a bucket id', () => {
    expect(streamOfBucket('3#todos|0["a"]')).toBe('todos');
    expect(streamOfBucket('3#todos|12[1,"x"]')).toBe('todos');
    expect(streamOfBucket('3#by_user["u1"]')).toBe('by_user');
    expect(streamOfBucket('by_user["u1"]')).toBe('by_user');
    expect(streamOfBucket('global[]')).toBe('global');
    expect(streamOfBucket('3#global|0[]')).toBe('global');
  });

  it('outlines versions and lists per-stream changes', () => {
    expect(streamOutline(STREAMS).streams).toEqual([
      { name: 'list_todos', kind: 'stream', autoSubscribe: false, priority: 1, queries: 1 },
      { name: 'org_data', kind: 'stream', autoSubscribe: true, priority: null, queries: 2 },
    ]);
    const next = STREAMS.replace('priority: 1', 'priority: 2').replace('auto_subscribe: true', 'auto_subscribe: false').replace('NOT archived', 'archived = false') + '  extra:\n    query: SELECT * FROM tags\n';
    expect(streamChanges(STREAMS, next)).toEqual([
      { name: 'list_todos', kind: 'stream', status: 'changed', changes: ['priority 1 → 2', 'with (CTEs) changed'] },
      { name: 'org_data', kind: 'stream', status: 'changed', changes: ['auto_subscribe true → false'] },
      { name: 'extra', kind: 'stream', status: 'added', changes: [] },
    ]);
    expect(streamChanges('bucket_definitions:\n  a:\n    data: [SELECT * FROM t]\n', STREAMS).map((c) => [c.name, c.status])).toEqual([
      ['list_todos', 'added'],
      ['org_data', 'added'],
      ['a', 'removed'],
    ]);
  });
});
