/**
 * A deploy replaces the serving version while streams are still downloading it. The replaced
 * version's op-log is deleted by the replicator's cleanup; a stream that goes on reading it gets
 * empty pages and used to send `checkpoint_complete` with checksums of data it never sent — the
 * client fails the check, discards and downloads again (issue 13: the cluster's checksum failures
 * ~14 s after the deploy, `expected 639846245, got 0`). Now a stream stops reading a version its
 * process no longer serves (ends with `new_sync_rules`, no complete), and the cleanup waits until
 * no process reports a stream on the version. A process frozen past the cleanup's staleness bound
 * is not counted as a reader; when it wakes it must not complete from pages the cleanup emptied.
 */
import { describe, expect, it, inject } from 'vitest';
import pino from 'pino';
import pg from 'pg';
import { CheckpointWatcher, streamSyncLines } from '@syncline/engine';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';

const SCHEMA = `CREATE TABLE todos (id text PRIMARY KEY, owner_id text NOT NULL, description text);
CREATE TABLE lists (id text PRIMARY KEY, name text);`;
// A small priority-1 bucket is delivered (and checked) first; the large one after it.
const RULES = `
bucket_definitions:
  lists:
    priority: 1
    data:
      - SELECT * FROM lists
  mine:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT * FROM todos WHERE owner_id = bucket.owner
`;

async function versionState(server: TestServer, id: number): Promise<string> {
  const { rows } = await server.services.storage.query<{ state: string }>('SELECT state FROM syncline.sync_rules_versions WHERE id = $1', [id]);
  return rows[0]?.state ?? 'gone';
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A server with v1 active over 3,000 rows of u1 (priority 3) and 10 lists (priority 1). */
async function serverWithV1(): Promise<{ server: TestServer; v1: number }> {
  const server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
  await server.source.query(`INSERT INTO todos SELECT 't' || i, 'u1', repeat('x', 50) FROM generate_series(1, 3000) i`);
  await server.source.query(`INSERT INTO lists SELECT 'l' || i, 'list ' || i FROM generate_series(1, 10) i`);
  const v1 = await server.deploy(RULES);
  await server.waitActive(v1);
  return { server, v1 };
}

/** u1's sync stream served by `watcher`, read up to its priority-1 partial complete (the download is under way). */
async function streamPastPriority1(server: TestServer, watcher: CheckpointWatcher, signal: AbortSignal) {
  const gen = streamSyncLines({
    watcher,
    rulesFor: server.services.rulesFor,
    request: { buckets: [], raw_data: true },
    userId: 'u1',
    claims: { sub: 'u1' },
    tokenExpiresAt: Date.now() / 1000 + 600,
    signal,
    logger: pino({ level: 'silent' }),
    keepalives: false,
    batchOps: 100,
  });
  const lines: SyncLine[] = [];
  while (!lines.some((l) => 'partial_checkpoint_complete' in l)) lines.push((await gen.next()).value as SyncLine);
  return { gen, lines };
}

/** Reads on until the stream's checkpoint_complete or its end; returns how it ended. */
async function readToCompleteOrEnd(gen: AsyncGenerator<SyncLine, string>, lines: SyncLine[]): Promise<string | undefined> {
  for (;;) {
    const r = await gen.next();
    if (r.done) return r.value;
    lines.push(r.value);
    if ('checkpoint_complete' in r.value) return undefined;
  }
}

describe('a version replaced while streams download it', () => {
  it('is never completed from a half-deleted op-log, and is deleted once its streams ended', async () => {
    const { server, v1 } = await serverWithV1();
    await using _server = server;
    const abort = new AbortController();
    const { gen, lines } = await streamPastPriority1(server, server.services.watcher!, abort.signal);
    try {
      expect('checkpoint' in lines[0]!).toBe(true);

      const v2 = await server.deploy(RULES.replace('mine:', 'mine2:'));
      await server.waitActive(v2);
      // Give the cleanup of v1 every chance to run under the paused stream (it used to: ~1 s).
      const terminatedEarly = await until('v1 terminated', async () => (await versionState(server, v1)) === 'TERMINATED', 8_000);

      const end = await readToCompleteOrEnd(gen, lines);
      const sums = new Map<string, number>();
      for (const l of lines) if ('data' in l) for (const op of l.data.data) sums.set(l.data.bucket, ((sums.get(l.data.bucket) ?? 0) + op.checksum) >>> 0);
      const announced = (lines[0] as Extract<SyncLine, { checkpoint: unknown }>).checkpoint.buckets;
      const completed = lines.some((l) => 'checkpoint_complete' in l);
      if (completed) {
        // A complete is only correct if what was sent sums to what was announced.
        for (const b of announced) expect({ bucket: b.bucket, sum: (sums.get(b.bucket) ?? 0) | 0 }).toEqual({ bucket: b.bucket, sum: b.checksum | 0 });
      } else {
        expect(end).toBe('new_sync_rules');
      }
      expect(terminatedEarly).toBe(false);
      // The stream ended: nothing reads v1 any more, so its cleanup goes ahead.
      expect(await until('v1 terminated', async () => (await versionState(server, v1)) === 'TERMINATED', 30_000)).toBe(true);

      // The process heartbeat keeps the report of what it reads fresh, so completes read nothing more.
      const watcher = server.services.watcher!;
      watcher.readersReported(performance.now() - 60_000);
      expect(watcher.confirmServes(v2)).toBeInstanceOf(Promise);
      expect(await until('a heartbeat reported', async () => watcher.confirmServes(v2) === true, 15_000)).toBe(true);
    } finally {
      abort.abort();
      await gen.return('aborted');
    }
  });

  it('a process whose reader report went stale confirms the version in storage before it completes', async () => {
    const { server, v1 } = await serverWithV1();
    await using _server = server;
    // Another API process that froze: it never heard of the deploy (no LISTEN, no poll) and has no
    // live heartbeat, so the cleanup does not wait for it.
    const pool = new pg.Pool({ connectionString: server.config.STORAGE_DATABASE_URL, max: 4 });
    const frozen = new CheckpointWatcher(server.config.STORAGE_DATABASE_URL, pool, pino({ level: 'silent' }), 3_600_000);
    await frozen.refresh();
    const abort = new AbortController();
    const { gen, lines } = await streamPastPriority1(server, frozen, abort.signal);
    try {
      const v2 = await server.deploy(RULES.replace('mine:', 'mine2:'));
      await server.waitActive(v2);
      expect(await until('v1 terminated', async () => (await versionState(server, v1)) === 'TERMINATED', 30_000)).toBe(true);
      // It wakes: its last report of what it reads is a minute old.
      frozen.readersReported(performance.now() - 60_000);
      expect(frozen.serves(v1)).toBe(true);

      const end = await readToCompleteOrEnd(gen, lines);
      // Before: the pages of the deleted op log came back empty and the stream completed anyway.
      expect(lines.filter((l) => 'checkpoint_complete' in l)).toEqual([]);
      expect(end).toBe('new_sync_rules');
    } finally {
      abort.abort();
      await gen.return('aborted');
      await frozen.stop();
      await pool.end();
    }
  });
});
