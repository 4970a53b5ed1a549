/**
 * Sync Streams on the wire against real Postgres and real replication (reference
 * powersync-sync-streams.md §4, conformance checks 8–12): subscriptions in the request, per-bucket
 * reasons and merged priorities, `checkpoint.streams` with per-subscription errors, membership
 * changes through a joined table, redeploys, and hostile `streams` fields.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE test (id text PRIMARY KEY, description text);
  CREATE TABLE projects (id text PRIMARY KEY, name text NOT NULL);
  CREATE TABLE members (id text PRIMARY KEY, project_id text NOT NULL, user_id text NOT NULL);
  CREATE TABLE issues (id text PRIMARY KEY, project_id text NOT NULL, title text NOT NULL);
`;
const RULES = `
config:
  edition: 3
streams:
  todos:
    query: SELECT * FROM test WHERE id IN subscription.parameter('test_ids')
  everything:
    auto_subscribe: true
    query: SELECT * FROM projects
  by_ids:
    auto_subscribe: true
    query: SELECT * FROM test WHERE id IN ifnull(subscription.parameter('ids'), '["b"]')
  my_issues:
    priority: 1
    query: SELECT issues.* FROM issues WHERE project_id IN (SELECT project_id FROM members WHERE user_id = auth.user_id())
  project_issues:
    query: SELECT * FROM issues WHERE project_id = subscription.parameter('project') AND project_id IN (SELECT project_id FROM members WHERE user_id = auth.user_id())
`;

let server: TestServer;
let version = 0;

beforeAll(async () => {
  server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA, env: { MAX_PARAMETER_RESULTS_PER_CONNECTION: '3' } });
  await server.source.query(`INSERT INTO test VALUES ('a', 'first'), ('b', 'second')`);
  await server.source.query(`INSERT INTO projects VALUES ('p1', 'one'), ('p2', 'two')`);
  await server.source.query(`INSERT INTO members VALUES ('m1', 'p1', 'u1'), ('m2', 'p2', 'u2')`);
  await server.source.query(`INSERT INTO members SELECT 'many' || g, 'q' || g, 'crowd' FROM generate_series(1, 5) g`);
  await server.source.query(`INSERT INTO issues VALUES ('i1', 'p1', 'bug'), ('i2', 'p2', 'feature')`);
  version = await server.deploy(RULES);
  await server.waitActive(version);
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

type Checkpoint = Extract<SyncLine, { checkpoint: unknown }>['checkpoint'];

async function firstCheckpoint(userId: string, body: Record<string, unknown>): Promise<{ checkpoint: Checkpoint; lines: SyncLine[] }> {
  await using stream = await openSyncStream(server.url, await server.token(userId), body);
  const lines = await stream.until(isComplete);
  const first = lines[0]!;
  if (!('checkpoint' in first)) throw new Error(`expected a checkpoint first, got ${JSON.stringify(first)}`);
  return { checkpoint: first.checkpoint, lines };
}

const bucketsOf = (cp: Checkpoint) => Object.fromEntries(cp.buckets.map((b) => [b.bucket, { priority: b.priority, subscriptions: b.subscriptions }]));

describe('subscriptions on the wire', () => {
  it('matches the reference exchange: merged reasons, the minimum priority, data per priority with a partial complete', async () => {
    const { checkpoint, lines } = await firstCheckpoint('u9', {
      streams: {
        include_defaults: false,
        subscriptions: [
          { stream: 'todos', parameters: { test_ids: ['a'] }, override_priority: 0 },
          { stream: 'todos', parameters: { test_ids: ['a', 'b'] }, override_priority: null },
        ],
      },
    });
    expect(bucketsOf(checkpoint)).toEqual({
      [`${version}#todos|0["a"]`]: { priority: 0, subscriptions: [{ sub: 0 }, { sub: 1 }] },
      [`${version}#todos|0["b"]`]: { priority: 3, subscriptions: [{ sub: 1 }] },
    });
    expect(checkpoint.streams).toEqual([{ name: 'todos', is_default: false, errors: [] }]);
    const kinds = lines.slice(1).map((l) => ('data' in l ? `data ${l.data.bucket}` : Object.keys(l)[0]));
    expect(kinds).toEqual([`data ${version}#todos|0["a"]`, 'partial_checkpoint_complete', `data ${version}#todos|0["b"]`, 'checkpoint_complete']);
    const partial = lines.find((l) => 'partial_checkpoint_complete' in l) as Extract<SyncLine, { partial_checkpoint_complete: unknown }>;
    expect(partial.partial_checkpoint_complete.priority).toBe(0);
  });

  it('without a streams field syncs only the default streams, with {default: k} reasons', async () => {
    const { checkpoint } = await firstCheckpoint('u1', {});
    expect(checkpoint.streams.map((s) => [s.name, s.is_default])).toEqual([
      ['everything', true],
      ['by_ids', true],
    ]);
    expect(bucketsOf(checkpoint)).toEqual({
      [`${version}#everything|0[]`]: { priority: 3, subscriptions: [{ default: 0 }] },
      [`${version}#by_ids|0["b"]`]: { priority: 3, subscriptions: [{ default: 1 }] },
    });
  });

  it('include_defaults:false with no subscriptions syncs nothing', async () => {
    const { checkpoint } = await firstCheckpoint('u1', { streams: { include_defaults: false, subscriptions: [] } });
    expect(checkpoint.buckets).toEqual([]);
    expect(checkpoint.streams).toEqual([]);
  });

  it('adds an explicit parameterless subscription to the default buckets and ignores unknown streams', async () => {
    const { checkpoint } = await firstCheckpoint('u1', {
      streams: { subscriptions: [{ stream: 'nope', parameters: null }, { stream: 'everything', parameters: null, override_priority: 1 }] },
    });
    expect(checkpoint.streams.map((s) => s.name)).toEqual(['everything', 'by_ids']);
    expect(bucketsOf(checkpoint)[`${version}#everything|0[]`]).toEqual({ priority: 1, subscriptions: [{ sub: 1 }, { default: 0 }] });
  });

  it('reports invalid subscription parameters on that subscription only; the others sync', async () => {
    const { checkpoint } = await firstCheckpoint('u1', {
      streams: {
        subscriptions: [
          { stream: 'by_ids', parameters: { ids: '["a"]' }, override_priority: 1 },
          { stream: 'by_ids', parameters: { ids: 'invalid json' } },
        ],
      },
    });
    const byIds = checkpoint.streams.find((s) => s.name === 'by_ids')!;
    expect(byIds.errors).toHaveLength(1);
    expect(byIds.errors[0]!.subscription).toBe(1);
    expect(byIds.errors[0]!.message).toMatch(/^Error evaluating bucket ids: /);
    expect(bucketsOf(checkpoint)[`${version}#by_ids|0["a"]`]).toEqual({ priority: 1, subscriptions: [{ sub: 0 }] });
    expect(bucketsOf(checkpoint)[`${version}#by_ids|0["b"]`]).toEqual({ priority: 3, subscriptions: [{ default: 1 }] });
  });

  it('reports a subscription over the parameter-result limit as its error and keeps the connection', async () => {
    const { checkpoint, lines } = await firstCheckpoint('crowd', {
      streams: { include_defaults: false, subscriptions: [{ stream: 'my_issues' }, { stream: 'todos', parameters: { test_ids: ['a'] } }] },
    });
    const mine = checkpoint.streams.find((s) => s.name === 'my_issues')!;
    expect(mine.errors).toEqual([{ subscription: 0, message: expect.stringMatching(/3/) }]);
    expect(Object.keys(bucketsOf(checkpoint))).toEqual([`${version}#todos|0["a"]`]);
    expect(lines.at(-1)).toEqual({ checkpoint_complete: { last_op_id: checkpoint.last_op_id } });
  });
});

describe('replication moves rows between stream buckets', () => {
  it('adds a bucket when a membership row appears and removes it when the row goes', async () => {
    const token = await server.token('u3');
    await using stream = await openSyncStream(server.url, token, { streams: { include_defaults: false, subscriptions: [{ stream: 'my_issues' }] } });
    const first = await stream.until(isComplete);
    expect((first[0] as { checkpoint: Checkpoint }).checkpoint.buckets).toEqual([]);

    await server.source.query(`INSERT INTO members VALUES ('m3', 'p2', 'u3')`);
    const added = await stream.until(isComplete, 20_000);
    const diff = added.find((l) => 'checkpoint_diff' in l) as Extract<SyncLine, { checkpoint_diff: unknown }>;
    expect(diff.checkpoint_diff.updated_buckets.map((b) => [b.bucket, b.priority, b.subscriptions])).toEqual([[`${version}#my_issues|0["p2"]`, 1, [{ sub: 0 }]]]);
    const rows = added.flatMap((l) => ('data' in l ? l.data.data.map((op) => op.object_id) : []));
    expect(rows).toEqual(['i2']);

    await server.source.query(`DELETE FROM members WHERE id = 'm3'`);
    const removed = await stream.until((l) => 'checkpoint_diff' in l && l.checkpoint_diff.removed_buckets.length > 0, 20_000);
    const last = removed.at(-1) as Extract<SyncLine, { checkpoint_diff: unknown }>;
    expect(last.checkpoint_diff.removed_buckets).toEqual([`${version}#my_issues|0["p2"]`]);
  });

  it('syncs a subscription gated by membership only for members', async () => {
    const member = await firstCheckpoint('u1', { streams: { include_defaults: false, subscriptions: [{ stream: 'project_issues', parameters: { project: 'p1' } }] } });
    expect(Object.keys(bucketsOf(member.checkpoint))).toEqual([`${version}#project_issues|0["p1"]`]);
    const stranger = await firstCheckpoint('u2', { streams: { include_defaults: false, subscriptions: [{ stream: 'project_issues', parameters: { project: 'p1' } }] } });
    expect(stranger.checkpoint.buckets).toEqual([]);
  });
});

describe('hostile streams fields', () => {
  const bad: Array<[string, unknown]> = [
    ['parameters that are not an object', { subscriptions: [{ stream: 'todos', parameters: 5 }] }],
    ['an out-of-range priority', { subscriptions: [{ stream: 'todos', override_priority: 9 }] }],
    ['subscriptions that are not a list', { subscriptions: 'todos' }],
    ['a subscription without a stream name', { subscriptions: [{ parameters: {} }] }],
    ['too many subscriptions', { subscriptions: Array.from({ length: 1001 }, () => ({ stream: 'todos' })) }],
    ['include_defaults that is not a boolean', { include_defaults: 'yes' }],
  ];
  for (const [what, streams] of bad) {
    it(`answers 400 for ${what}`, async () => {
      const token = await server.token('u1');
      const err = await openSyncStream(server.url, token, { streams }).then(
        () => null,
        (e: { status: number; body: string }) => e,
      );
      expect(err?.status).toBe(400);
      expect(JSON.parse(err!.body).error.code).toMatch(/^[A-Z0-9_]+$/);
    });
  }
});

describe('redeploy', () => {
  it('ends the connection and the next one sees the new version prefix', async () => {
    const token = await server.token('u1');
    await using stream = await openSyncStream(server.url, token, {});
    await stream.until(isComplete);
    const next = await server.deploy(RULES.replace('SELECT * FROM projects', 'SELECT id, name FROM projects'));
    await server.waitActive(next);
    for (;;) {
      const line = await stream.next(30_000);
      if (line === null) break;
    }
    const { checkpoint } = await firstCheckpoint('u1', {});
    expect(checkpoint.buckets.map((b) => b.bucket).sort()).toEqual([`${next}#by_ids|0["b"]`, `${next}#everything|0[]`]);
  });
});
