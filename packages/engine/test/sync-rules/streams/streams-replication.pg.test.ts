/**
 * Sync Streams through real replication and storage: an edition-3 config with a JOIN is
 * replicated, and a membership change in the joined (non-primary) table moves a user's buckets
 * (the storage diffs lookups per source row and tombstones lost keys).
 */
import { describe, expect, it, inject } from 'vitest';
import { parseLosslessJson } from '@syncline/protocol';
import { compileSyncRules, PgBucketReader, type ParameterLookupSource, type SqliteRow } from '@syncline/engine';
import { createReplicationHarness } from '../../support/replication-harness.ts';
import { checkBucketConsistency } from '../../support/bucket-consistency.ts';

const SCHEMA = `
  CREATE TABLE memberships (id text PRIMARY KEY, user_id text NOT NULL, team_id text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, team_id text, title text, _internal int);
`;
const YAML = `config: { edition: 3 }
streams:
  team_todos:
    auto_subscribe: true
    query: SELECT todos.* FROM todos JOIN memberships m ON todos.team_id = m.team_id WHERE m.user_id = auth.user_id()
`;

describe('Sync Streams replication', () => {
  it('replicates stream buckets and moves a user between buckets when a joined row changes', async () => {
    await using h = await createReplicationHarness(inject('pgAdminUrl'), SCHEMA);
    await h.source.query(`INSERT INTO memberships VALUES ('m1', 'alice', 't1'), ('m2', 'bob', 't2')`);
    await h.source.query(`INSERT INTO todos VALUES ('a', 't1', 'A', 7), ('b', 't2', 'B', NULL)`);
    const v = await h.deploy(YAML);
    h.startReplicator();
    let version = await h.waitCaughtUp(v);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);

    const { rows: data } = await h.storage.query<{ bucket: string; row_id: string; data: string }>(
      'SELECT bucket, row_id, data FROM syncline.bucket_data WHERE version_id = $1 ORDER BY op_id',
      [v],
    );
    expect(data.map((r) => [r.bucket, r.row_id])).toEqual([
      [`${v}#team_todos|0["t1"]`, 'a'],
      [`${v}#team_todos|0["t2"]`, 'b'],
    ]);
    expect(data[0]?.data).toContain('"_internal":7');

    const rules = compileSyncRules(YAML, { versionId: v }).rules!;
    const reader = new PgBucketReader(h.storage);
    const sourceAt = (checkpoint: bigint): ParameterLookupSource => async (lookups) => {
      const sets = await reader.getParameterSets(v, lookups.map((l) => l.key), checkpoint);
      return lookups.map((l) => (sets.get(l.key) ?? []).flatMap((json) => parseLosslessJson(json) as unknown as SqliteRow[]));
    };
    const bucketsOf = async (user: string, checkpoint: bigint) => {
      const q = rules.createQuerier({ userId: user, jwtClaims: { sub: user }, clientParameters: {} });
      return (await q.resolveBuckets(sourceAt(checkpoint))).map((b) => b.bucket);
    };
    expect(await bucketsOf('alice', version.lastCheckpoint!)).toEqual([`${v}#team_todos|0["t1"]`]);

    // Alice moves to team t2: her old lookup entry is tombstoned and the new one written.
    await h.source.query(`UPDATE memberships SET team_id = 't2' WHERE id = 'm1'`);
    version = await h.waitCaughtUp(v);
    expect(await bucketsOf('alice', version.lastCheckpoint!)).toEqual([`${v}#team_todos|0["t2"]`]);
    expect(await bucketsOf('bob', version.lastCheckpoint!)).toEqual([`${v}#team_todos|0["t2"]`]);

    // Deleting the membership removes her bucket.
    await h.source.query(`DELETE FROM memberships WHERE id = 'm1'`);
    version = await h.waitCaughtUp(v);
    expect(await bucketsOf('alice', version.lastCheckpoint!)).toEqual([]);
    expect((await checkBucketConsistency(h.source, h.storage, v)).problems).toEqual([]);
  });
});
