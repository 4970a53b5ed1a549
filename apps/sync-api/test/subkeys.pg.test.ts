/**
 * `subkey` on the wire is an opaque, stable id of the source row: it never carries the row's key
 * (an email, a whole REPLICA IDENTITY FULL row), stays the same for the same row across updates and
 * restarts, differs between rows, and REMOVE checksums hash exactly the subkey that is sent.
 */
import { describe, expect, it, inject } from 'vitest';
import { opChecksumRemove, type OplogEntryLine, type SyncLine } from '@syncline/protocol';
import { PgBucketReader } from '@syncline/engine';
import { startTestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `
  CREATE TABLE people (email text PRIMARY KEY, team text NOT NULL, name text NOT NULL);
  CREATE TABLE tags (team text NOT NULL, label text NOT NULL, secret_note text);
  ALTER TABLE tags REPLICA IDENTITY FULL;
`;
const RULES = `
bucket_definitions:
  teams:
    parameters: SELECT request.jwt() ->> 'team' AS team
    data:
      - SELECT email AS id, team, name FROM people WHERE team = bucket.team
      - SELECT label AS id, team FROM tags WHERE team = bucket.team
`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const opsOf = (lines: SyncLine[]): OplogEntryLine[] => lines.flatMap((l) => ('data' in l ? l.data.data : []));

describe('wire subkeys', () => {
  it('are opaque, stable per row, distinct between rows, and hashed into REMOVE checksums', async () => {
    await using s = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    await s.source.query(`INSERT INTO people VALUES ('alice@example.com', 'red', 'Alice'), ('bob@example.com', 'red', 'Bob')`);
    await s.source.query(`INSERT INTO tags VALUES ('red', 'urgent', 'do not leak this note')`);
    const v = await s.deploy(RULES);
    await s.waitActive(v);
    const token = await s.token('u1', { claims: { team: 'red' } });

    await using stream = await openSyncStream(s.url, token);
    const first = opsOf(await stream.until(isComplete));
    expect(first.map((o) => o.object_id).sort()).toEqual(['alice@example.com', 'bob@example.com', 'urgent']);
    for (const op of first) {
      expect(op.subkey).toMatch(UUID);
      for (const leaked of ['alice', 'bob', 'example.com', 'urgent', 'do not leak', 'red', '[']) expect(op.subkey).not.toContain(leaked);
    }
    expect(new Set(first.map((o) => o.subkey)).size).toBe(3);
    const subkeyOf = new Map(first.map((o) => [o.object_id, o.subkey]));

    // Same row, new version of it: same subkey. A removed row's REMOVE hashes the subkey it sends.
    await s.source.query(`UPDATE people SET name = 'Alice B' WHERE email = 'alice@example.com'`);
    await s.source.query(`DELETE FROM people WHERE email = 'bob@example.com'`);
    const later: OplogEntryLine[] = [];
    while (!later.some((o) => o.op === 'REMOVE')) later.push(...opsOf(await stream.until(isComplete)));
    const put = later.find((o) => o.op === 'PUT' && o.object_id === 'alice@example.com')!;
    expect(put.subkey).toBe(subkeyOf.get('alice@example.com'));
    const remove = later.find((o) => o.op === 'REMOVE')!;
    expect(remove).toMatchObject({ object_id: 'bob@example.com', subkey: subkeyOf.get('bob@example.com') });
    expect(remove.checksum).toBe(opChecksumRemove(remove.subkey!));

    // Another process (or this one after a restart) reads the same subkeys from storage.
    const fresh = new PgBucketReader(s.services.storage);
    const cp = (await fresh.getCheckpoint(v))!;
    const bucket = `${v}#teams["red"]`;
    const { results } = await fresh.getOps(v, [{ bucket, after: 0n }], cp.opId, 100);
    const stored = results[0]!.ops.filter((o) => o.op === 'PUT' || o.op === 'REMOVE');
    for (const o of stored) expect(o.subkey).toBe(subkeyOf.get(o.rowId!));
  });
});
