/**
 * A client that moves to another API process (failover, drain, balancer) resumes from positions it
 * got from the first process. The second process's view of the checkpoint can be a little behind
 * (its NOTIFY not handled yet): it must not announce a checkpoint below a position the client
 * already holds — the client's sums include ops past that checkpoint, so every bucket with such
 * ops fails its checksum and is downloaded again (issue 13: 20 checksum failures in a 100-client
 * cluster run). A position past everything storage holds (a bogus or stale client) must not hold
 * the stream: the checkpoint is announced and the client's checksum check sorts it out.
 */
import { describe, expect, it, inject } from 'vitest';
import pino from 'pino';
import pg from 'pg';
import { CheckpointWatcher, streamSyncLines } from '@syncline/engine';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer, type TestServer } from './support/test-server.ts';
import { isComplete, openSyncStream } from './support/sync-client.ts';

const SCHEMA = `CREATE TABLE todos (id text PRIMARY KEY, owner_id text NOT NULL, description text);`;
const RULES = `
bucket_definitions:
  mine:
    parameters: SELECT request.user_id() AS owner
    data:
      - SELECT * FROM todos WHERE owner_id = bucket.owner
`;

type Local = Map<string, { after: string; sum: number }>;

/** Applies data lines to per-bucket positions and additive sums, as a client does. */
function applyLines(local: Local, lines: SyncLine[]): void {
  for (const l of lines) {
    if (!('data' in l)) continue;
    const b = local.get(l.data.bucket) ?? { after: '0', sum: 0 };
    for (const op of l.data.data) b.sum = (b.sum + op.checksum) >>> 0;
    b.after = l.data.next_after;
    local.set(l.data.bucket, b);
  }
}

/** A second API process's watcher that has not seen the newest checkpoints (no LISTEN, no poll). */
async function laggingWatcher(server: TestServer): Promise<{ watcher: CheckpointWatcher; pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: server.config.STORAGE_DATABASE_URL, max: 4 });
  const watcher = new CheckpointWatcher(server.config.STORAGE_DATABASE_URL, pool, pino({ level: 'silent' }), 3_600_000);
  await watcher.refresh();
  return { watcher, pool };
}

async function linesUntilComplete(gen: AsyncGenerator<SyncLine, string>, timeoutMs: number): Promise<SyncLine[]> {
  const out: SyncLine[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await Promise.race([gen.next(), new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), Math.max(1, deadline - Date.now())))]);
    if (r === 'timeout' || r.done) break;
    out.push(r.value);
    if (isComplete(r.value)) return out;
  }
  throw new Error(`no checkpoint_complete within ${timeoutMs} ms; got ${JSON.stringify(out).slice(0, 1000)}`);
}

describe('a client resuming on an API process that lags behind', () => {
  it('gets no checkpoint below the positions it holds, and its checksums match', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    await server.source.query(`INSERT INTO todos SELECT 't' || i, 'u1', 'first' FROM generate_series(1, 20) i`);
    await server.waitActive(await server.deploy(RULES));
    const { watcher, pool } = await laggingWatcher(server);
    const abort = new AbortController();
    try {
      // On the first process: a complete first sync, then newer ops the lagging process has not seen.
      const local: Local = new Map();
      await using a = await openSyncStream(server.url, await server.token('u1'));
      applyLines(local, await a.until(isComplete));
      await server.source.query(`UPDATE todos SET description = 'second' WHERE id <= 't5'`);
      await server.source.query(`INSERT INTO todos VALUES ('t99', 'u1', 'new')`);
      const diff = await a.until(isComplete);
      applyLines(local, diff);
      const held = BigInt([...local.values()][0]!.after);
      expect(held).toBeGreaterThan(watcher.current()!.opId);

      // The client moves to the lagging process with its positions.
      const gen = streamSyncLines({
        watcher,
        rulesFor: server.services.rulesFor,
        request: { buckets: [...local].map(([name, b]) => ({ name, after: b.after })), raw_data: true },
        userId: 'u1',
        claims: { sub: 'u1' },
        tokenExpiresAt: Date.now() / 1000 + 600,
        signal: abort.signal,
        logger: pino({ level: 'silent' }),
        keepalives: false,
      });
      const lines = await linesUntilComplete(gen, 15_000);
      const first = lines[0] as Extract<SyncLine, { checkpoint: unknown }>;
      expect(BigInt(first.checkpoint.last_op_id)).toBeGreaterThanOrEqual(held);
      applyLines(local, lines);
      for (const b of first.checkpoint.buckets) expect({ bucket: b.bucket, sum: (local.get(b.bucket)?.sum ?? 0) | 0 }).toEqual({ bucket: b.bucket, sum: b.checksum | 0 });
      await gen.return('aborted');
    } finally {
      abort.abort();
      await watcher.stop();
      await pool.end();
    }
  });

  it('is not held by a position past everything storage holds', async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    await server.source.query(`INSERT INTO todos VALUES ('t1', 'u1', 'first')`);
    await server.waitActive(await server.deploy(RULES));
    const cp = server.services.watcher!.current()!.opId;
    const bucket = `${server.services.watcher!.current()!.version.id}#mine["u1"]`;
    await using s = await openSyncStream(server.url, await server.token('u1'), { buckets: [{ name: bucket, after: String(cp + 1_000_000n) }] });
    const lines = await s.until(isComplete, 10_000);
    expect('checkpoint' in lines[0]! && lines[0].checkpoint.last_op_id).toBe(String(cp));
  });
});
