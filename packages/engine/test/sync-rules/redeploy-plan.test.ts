import { describe, expect, it } from 'vitest';
import { planRedeploy } from '../../src/sync-rules/redeploy-plan.ts';

const BASE = `
config:
  edition: 3
streams:
  lists:
    auto_subscribe: true
    query: SELECT * FROM lists WHERE owner_id = auth.user_id()
  todos:
    query: SELECT * FROM todos WHERE list_id = subscription.parameter('list') AND list_id IN (SELECT id FROM lists WHERE owner_id = auth.user_id())
  settings:
    auto_subscribe: true
    query: SELECT * FROM settings
`;

describe('planRedeploy', () => {
  it('names the one changed stream and the tables only it reads; formatting and comments do not count', () => {
    const next = BASE.replace("SELECT * FROM settings", "SELECT id, value FROM settings").replace('  lists:\n', '  # owned lists\n  lists:\n');
    const plan = planRedeploy(BASE, next);
    expect(plan.changed).toEqual(['settings']);
    expect(plan.unchanged).toEqual(['lists', 'todos']);
    expect(plan.tables).toEqual([
      { table: 'public.lists', snapshot: 'reusable', readBy: ['lists', 'todos'] },
      { table: 'public.todos', snapshot: 'reusable', readBy: ['todos'] },
      { table: 'public.settings', snapshot: 'required', readBy: ['settings'] },
    ]);
  });

  it('requires a table read by a changed stream even when an unchanged stream reads it too (joined tables count)', () => {
    const next = BASE.replace("subscription.parameter('list')", "subscription.parameter('list_id')");
    const plan = planRedeploy(BASE, next);
    expect(plan.changed).toEqual(['todos']);
    expect(plan.tables.filter((t) => t.snapshot === 'required').map((t) => t.table)).toEqual(['public.lists', 'public.todos']);
  });

  it('treats every stream as changed when config or global CTEs change, and reports added and removed ones', () => {
    const next = BASE.replace('edition: 3', 'edition: 3\n  timestamp_max_precision: milliseconds').replace(/ {2}settings:[\s\S]*$/, '  audit:\n    query: SELECT * FROM audit_log\n');
    const plan = planRedeploy(BASE, next);
    expect(plan.changed).toEqual(['lists', 'todos']);
    expect(plan.added).toEqual(['audit']);
    expect(plan.removed).toEqual(['settings']);
    expect(plan.tables.every((t) => t.snapshot === 'required')).toBe(true);
  });

  it('works for bucket definitions and for a first deploy', () => {
    const legacy = `
bucket_definitions:
  global:
    data: [SELECT * FROM settings]
  mine:
    parameters: SELECT request.user_id() AS u
    data:
      - SELECT * FROM todos WHERE owner = bucket.u
`;
    const plan = planRedeploy(legacy, legacy.replace('SELECT * FROM todos', 'SELECT id, owner FROM todos'));
    expect(plan.changed).toEqual(['mine']);
    expect(plan.tables).toEqual([
      { table: 'public.settings', snapshot: 'reusable', readBy: ['global'] },
      { table: 'public.todos', snapshot: 'required', readBy: ['mine'] },
    ]);
    expect(planRedeploy(null, legacy).added).toEqual(['global', 'mine']);
  });
});
