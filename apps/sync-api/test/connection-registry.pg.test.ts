/**
 * The connection registry against a real storage database: a drain ends hundreds of streams at
 * once, and their rows must go in a handful of DELETE statements (not one each); a row whose
 * INSERT is still running when its stream ends, or when the process stops, is never left behind.
 * The registry's pool is wrapped to record every statement it sends and, when asked, to hold
 * INSERTs back before they reach Postgres.
 */
import type pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { migrateStorage } from '@syncline/engine';
import { createTestDatabase, type TestDatabase } from '@syncline/test-utils';
import { ConnectionRegistry, type ConnectionInfo } from '../src/connection-registry.ts';

const INFO: ConnectionInfo = { userId: 'u1', clientId: 'c1', userAgent: 'test', transport: 'http', versionId: null };

/** Records the text of every statement sent through `pool.query`; holds INSERTs while `holdInserts` is set. */
interface Recorder {
  statements: string[];
  holdInserts: { release: () => void; promise: Promise<void> } | null;
  count(verb: 'INSERT' | 'DELETE'): number;
}

function record(pool: pg.Pool): Recorder {
  const rec: Recorder = {
    statements: [],
    holdInserts: null,
    count: (verb) => rec.statements.filter((s) => s.trimStart().toUpperCase().startsWith(verb)).length,
  };
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  const recording = async (text: string, values?: unknown[]) => {
    rec.statements.push(text);
    if (rec.holdInserts && text.trimStart().toUpperCase().startsWith('INSERT')) await rec.holdInserts.promise;
    return query(text, values);
  };
  pool.query = recording as unknown as typeof pool.query;
  return rec;
}

function hold(): { release: () => void; promise: Promise<void> } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { release, promise };
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let db: TestDatabase;
let pool: pg.Pool;
let check: pg.Pool;
let rec: Recorder;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

async function rowsOf(processId: string): Promise<number> {
  const { rows } = await check.query<{ n: number }>('SELECT count(*)::int AS n FROM syncline.connections WHERE process_id = $1', [processId]);
  return rows[0]!.n;
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'), 'registry');
  await migrateStorage(db.url);
  pool = db.pool();
  check = db.pool();
  rec = record(pool);
});
afterAll(async () => {
  rec?.holdInserts?.release();
  await db?.[Symbol.asyncDispose]();
});
beforeEach(() => {
  rec.statements.length = 0;
  rec.holdInserts = null;
});

describe('connection registry', () => {
  it('removes the rows of 300 streams that end together with a few batched DELETEs', async () => {
    const registry = new ConnectionRegistry(pool, logger);
    const ids = await Promise.all(Array.from({ length: 300 }, () => registry.register(INFO, new AbortController())));
    expect(await rowsOf(registry.processId)).toBe(300);
    expect(rec.count('INSERT')).toBeLessThanOrEqual(3);

    rec.statements.length = 0;
    await Promise.all(ids.map((id) => registry.unregister(id)));
    expect(await rowsOf(registry.processId)).toBe(0);
    expect(registry.size).toBe(0);
    // One statement per stream before batching (300 here).
    expect(rec.count('DELETE')).toBeGreaterThan(0);
    expect(rec.count('DELETE')).toBeLessThanOrEqual(3);
  });

  it('deletes a row whose INSERT is still queued when its stream ends', async () => {
    const registry = new ConnectionRegistry(pool, logger);
    const queued = registry.registerBatched(INFO, new AbortController());
    await registry.unregister(queued.id);
    await queued.inserted;
    expect(rec.count('INSERT')).toBe(1);
    expect(await rowsOf(registry.processId)).toBe(0);
  });

  it('deletes a row whose INSERT is still running when its stream ends, and only then resolves', async () => {
    const registry = new ConnectionRegistry(pool, logger);
    rec.holdInserts = hold();
    const running = registry.registerBatched(INFO, new AbortController());
    await until(() => rec.count('INSERT') === 1);
    let ended = false;
    const unregistered = registry.unregister(running.id).then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toBe(false);
    expect(rec.count('DELETE')).toBe(0); // a DELETE now would run before the INSERT and miss the row

    rec.holdInserts.release();
    await Promise.all([unregistered, running.inserted]);
    expect(rec.count('DELETE')).toBe(1);
    expect(await rowsOf(registry.processId)).toBe(0);
  });

  it('leaves no row of the process after stop(), even with an INSERT still running', async () => {
    const registry = new ConnectionRegistry(pool, logger);
    await registry.register(INFO, new AbortController());
    rec.holdInserts = hold();
    const late = registry.registerBatched(INFO, new AbortController());
    await until(() => rec.count('INSERT') === 2);

    const stopped = registry.stop();
    await new Promise((r) => setTimeout(r, 100));
    rec.holdInserts.release();
    await stopped;
    await late.inserted;
    expect(await rowsOf(registry.processId)).toBe(0);
  });
});
