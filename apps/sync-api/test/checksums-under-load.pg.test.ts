/**
 * Issue 11 §1.4: while a large source transaction is replicated (flushed to storage in parts,
 * the checkpoint not moving until its end), clients that connect every 100 ms must be announced
 * exact checksums and get their checkpoint_complete. Every announced checksum is compared with the
 * sum of the ops that client received.
 *
 * The race (a flush committing while a checksum is read) is made certain rather than left to
 * chance: the API's storage pool holds back the result of checksum reads of bucket_state until
 * the next flush has committed (the first HOLD_BACK of them, which bounds the added load).
 * CHECKSUM_LOAD_ROWS sizes the transaction (default 20,000; the figure is 1,000,000).
 */
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { SyncLine } from '@syncline/protocol';
import { startTestServer } from './support/test-server.ts';
import { openSyncStream, type OpenStream } from './support/sync-client.ts';

const ROWS = Number(process.env.CHECKSUM_LOAD_ROWS ?? 20_000);
const HOLD_BACK = 50;
const SCHEMA = `CREATE TABLE items (id bigint PRIMARY KEY, body text NOT NULL);`;
const RULES = `
bucket_definitions:
  everything:
    data:
      - SELECT id, body FROM items
`;

interface ClientLog {
  checkpoints: number;
  completes: number;
  /** Completions whose announced checksum or count differs from what the client received. */
  failures: string[];
  /** A checkpoint line arrived before the previous one was completed (a stalled checkpoint). */
  stalled: number;
  lastCompleteOp: string | null;
  ops: number;
}

/** Reads one stream, tracking per-bucket sums of received op checksums against what was announced. */
async function follow(stream: OpenStream, log: ClientLog, completeTimes: number[], stopAfterFirst: boolean, done: () => boolean): Promise<void> {
  const received = new Map<string, { checksum: number; count: number }>();
  let announced = new Map<string, { checksum: number; count: number }>();
  let open = false;
  for (;;) {
    let line: SyncLine | null;
    try {
      line = await stream.next(60_000);
    } catch {
      if (done()) return;
      throw new Error('no sync line within 60 s');
    }
    if (line === null) return;
    if ('checkpoint' in line || 'checkpoint_diff' in line) {
      if (open) log.stalled++;
      open = true;
      log.checkpoints++;
      if ('checkpoint' in line) announced = new Map(line.checkpoint.buckets.map((b) => [b.bucket, { checksum: b.checksum | 0, count: b.count }]));
      else for (const b of line.checkpoint_diff.updated_buckets) announced.set(b.bucket, { checksum: b.checksum | 0, count: b.count });
    } else if ('data' in line) {
      const r = received.get(line.data.bucket) ?? { checksum: 0, count: 0 };
      for (const op of line.data.data) {
        r.checksum = (r.checksum + Number(op.checksum)) | 0;
        r.count++;
        log.ops++;
      }
      received.set(line.data.bucket, r);
    } else if ('checkpoint_complete' in line) {
      open = false;
      log.completes++;
      log.lastCompleteOp = line.checkpoint_complete.last_op_id;
      completeTimes.push(performance.now());
      for (const [bucket, a] of announced) {
        const r = received.get(bucket) ?? { checksum: 0, count: 0 };
        if (r.checksum !== a.checksum || r.count !== a.count) {
          log.failures.push(`${bucket} at ${line.checkpoint_complete.last_op_id}: announced ${a.checksum}/${a.count}, received ${r.checksum}/${r.count}`);
        }
      }
      if (stopAfterFirst) return;
    }
  }
}

describe('checksums while a large transaction is replicated', () => {
  it(`announces exact checksums to clients connecting every 100 ms during a ${ROWS}-row transaction`, async () => {
    await using server = await startTestServer(inject('pgAdminUrl'), { schemaSql: SCHEMA });
    await server.source.query(`INSERT INTO items SELECT i, 'seed ' || i FROM generate_series(1, 100) i`);
    const version = await server.deploy(RULES);
    await server.waitActive(version);
    const bucket = `${version}#everything[]`;

    // Hold back checksum reads until the next flush commits (see the file comment).
    const probe = new pg.Pool({ connectionString: server.config.STORAGE_DATABASE_URL, max: 1 });
    const lastOp = async () =>
      (await probe.query<{ last_op: string }>('SELECT last_op::text FROM syncline.bucket_state WHERE version_id = $1 AND bucket = $2', [version, bucket])).rows[0]
        ?.last_op;
    let loading = false;
    let paused = 0;
    const storage = server.services.storage;
    const query = storage.query.bind(storage) as (...args: unknown[]) => Promise<unknown>;
    (storage as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : '';
      if (!loading || paused >= HOLD_BACK || !text.includes('syncline.bucket_state') || !text.includes('ANY($2)')) return query(...args);
      paused++;
      const before = await lastOp();
      const result = await query(...args);
      const until = Date.now() + 3_000;
      while (loading && Date.now() < until && (await lastOp()) === before) await new Promise((r) => setTimeout(r, 10));
      return result;
    };

    const logs: ClientLog[] = [];
    const completeTimes: number[] = [];
    const followers: Array<Promise<void>> = [];
    const streams: OpenStream[] = [];
    let finished = false;
    // Connecting does not wait for the response: its first line waits for checksums.
    const connect = (i: number, stay: boolean) => {
      const log: ClientLog = { checkpoints: 0, completes: 0, failures: [], stalled: 0, lastCompleteOp: null, ops: 0 };
      logs.push(log);
      const follower = (async () => {
        const stream = await openSyncStream(server.url, await server.token(`u${i}`), { client_id: `c${i}` });
        streams.push(stream);
        try {
          await follow(stream, log, completeTimes, !stay, () => finished);
        } finally {
          if (!stay) stream.close();
        }
      })();
      followers.push(follower);
      return follower;
    };
    // Two clients stay connected through the whole transaction and receive it as a diff.
    connect(0, true);
    connect(1, true);
    while (logs[0]!.completes === 0 || logs[1]!.completes === 0) await new Promise((r) => setTimeout(r, 20));

    const started = performance.now();
    loading = true;
    const insert = server.source.query(`INSERT INTO items SELECT i, repeat('x', 100) || i FROM generate_series(1001, ${1000 + ROWS}) i`);
    const { rows } = await (async () => {
      await insert;
      return server.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    })();
    const committedAt = performance.now();
    const { normalizeLsn } = await import('@syncline/engine');
    const target = normalizeLsn(rows[0]!.lsn);
    let i = 2;
    let lastReport = performance.now();
    for (;;) {
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        process.stderr.write(`[checksums under load] ${Math.round((lastReport - committedAt) / 1000)} s after commit: op_count ${(await probe.query('SELECT op_count::text AS c FROM syncline.bucket_state WHERE version_id = $1', [version])).rows[0]?.c}, ${logs.length} clients, ${completeTimes.length} completes, ${logs.reduce((n, l) => n + l.failures.length, 0)} checksum failures, ${logs.reduce((n, l) => n + l.stalled, 0)} stalled checkpoints\n`);
      }
      const cur = server.services.watcher!.current();
      if (cur && cur.lsn >= target) break;
      connect(i++, false);
      await new Promise((r) => setTimeout(r, 100));
    }
    loading = false;
    const replicatedAt = performance.now();
    const final = server.services.watcher!.current()!.opId.toString();
    // Every client finishes its checkpoint; the two that stayed also complete the final one. (Waiting
    // only for the stayers closed clients that connected last while they were still downloading.)
    const deadline = Date.now() + 300_000;
    const pending = () => logs.slice(0, 2).some((l) => l.lastCompleteOp === null || BigInt(l.lastCompleteOp) < BigInt(final)) || logs.some((l) => l.completes === 0);
    while (pending() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    finished = true;
    for (const s of streams) s.close();
    await Promise.allSettled(followers);
    await probe.end();

    const gaps = completeTimes
      .sort((a, b) => a - b)
      .filter((t) => t >= committedAt && t <= replicatedAt)
      .map((t, k, all) => (k === 0 ? t - committedAt : t - all[k - 1]!));
    process.stderr.write(
      `[checksums under load] ${ROWS} rows: commit ${Math.round(committedAt - started)} ms, replicated ${Math.round(replicatedAt - committedAt)} ms after commit; ` +
        `${logs.length} clients, ${paused} checksum reads held back, ${completeTimes.length} checkpoint_complete lines, ` +
        `max gap between them while replicating ${Math.round(Math.max(0, ...gaps))} ms; final complete on stayers ${logs[0]!.lastCompleteOp}/${logs[1]!.lastCompleteOp} (target ${final})\n`,
    );
    expect(paused).toBeGreaterThan(0);
    expect(logs.flatMap((l) => l.failures)).toEqual([]);
    expect(logs.map((l) => l.stalled)).toEqual(logs.map(() => 0));
    // Each short-lived client completed the checkpoint it was sent; the stayers completed the final one.
    expect(logs.filter((l) => l.completes === 0)).toEqual([]);
    expect(logs.slice(0, 2).map((l) => l.lastCompleteOp)).toEqual([final, final]);
    expect(logs[0]!.ops).toBe(100 + ROWS);
  }, 120_000 + ROWS * 1.5);
});
