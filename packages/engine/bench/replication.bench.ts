/**
 * Replication benchmarks on one Postgres: raw pgoutput decode (the ceiling, with
 * pg-logical-replication's own decoder and with Syncline's), snapshot rows/s, streaming row-ops/s
 * for one large transaction and for many 1-row transactions (with checkpoint lag).
 */
import pg from 'pg';
import pino from 'pino';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { createTestDatabase } from '@syncline/test-utils';
import { deployVersion, getVersion, migrateStorage, normalizeLsn, Replicator } from '../src/index.ts';
import { PgoutputDecoder } from '../src/replication/pgoutput-decoder.ts';

import type { BenchResult } from '@syncline/test-utils';
export type { BenchResult };

export const SCHEMA = `
  CREATE TABLE items (id bigint PRIMARY KEY, owner_id text NOT NULL, title text NOT NULL, body text, done boolean NOT NULL, score double precision, created_at timestamptz NOT NULL DEFAULT now());
`;
// ~150 bytes of row JSON per item, one bucket per owner.
const RULES = `
bucket_definitions:
  by_owner:
    parameters: SELECT request.user_id() AS owner_id
    data:
      - SELECT * FROM items WHERE owner_id = bucket.owner_id
`;
export const insertSql = (from: number, to: number) =>
  `INSERT INTO items (id, owner_id, title, body, done, score)
   SELECT i, 'user-' || (i % 1000), 'Item number ' || i, repeat('lorem ipsum ', 4), i % 2 = 0, i * 0.5
     FROM generate_series(${from}, ${to}) i`;

export async function waitForLsn(storage: pg.Pool, version: number, target: string, timeoutMs = 600_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    const v = await getVersion(storage, version);
    if (v?.state === 'ACTIVE' && v.lastCheckpointLsn && v.lastCheckpointLsn >= target) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timeout waiting for ${target}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function insertLsn(db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return normalizeLsn(rows[0]!.lsn);
}

/** Decodes `rows` inserted rows from a fresh slot with a given decoder; returns rows/s. */
async function decodeRate(url: string, db: pg.Pool, slot: string, publication: string, rows: number, own: boolean): Promise<number> {
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.query(insertSql(10_000_000, 10_000_000 + rows - 1));
  await db.query(`DELETE FROM items WHERE id >= 10000000`);
  const decoder = new PgoutputDecoder();
  const service = new LogicalReplicationService({ connectionString: url }, { acknowledge: { auto: false, timeoutSeconds: 0 } });
  let seen = 0;
  let start = 0;
  const done = new Promise<number>((resolve) => {
    service.on('data', (_lsn: string, msg: { tag: string }) => {
      if (msg.tag === 'insert') {
        if (seen === 0) start = performance.now();
        seen++;
        if (seen === rows) resolve(performance.now() - start);
      }
    });
  });
  const plugin = own
    ? ({
        name: 'pgoutput',
        options: {},
        parse: (b: Buffer) => decoder.decode(b),
        start: (c: pg.Client, s: string, l: string) => c.query(`START_REPLICATION SLOT "${s}" LOGICAL ${l} (proto_version '1', publication_names '${publication}')`),
      } as unknown as PgoutputPlugin)
    : new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
  void service.subscribe(plugin, slot).catch(() => {});
  const ms = await done;
  await service.stop();
  await db.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => {});
  return (rows / ms) * 1000;
}

export async function benchReplication(adminUrl: string, opts: { snapshotRows?: number; streamRows?: number; txSeconds?: number } = {}): Promise<BenchResult[]> {
  const snapshotRows = opts.snapshotRows ?? 200_000;
  const streamRows = opts.streamRows ?? 100_000;
  const results: BenchResult[] = [];
  await using db = await createTestDatabase(adminUrl, 'bench_repl');
  const storageUrl = await db.createSibling('storage');
  await migrateStorage(storageUrl);
  const source = db.pool();
  await source.query(SCHEMA);
  const publication = `pub_${db.name}`;
  await source.query(`CREATE PUBLICATION ${publication} FOR ALL TABLES`);

  const libRate = await decodeRate(db.url, source, `${db.name}_lib`, publication, streamRows, false);
  const ownRate = await decodeRate(db.url, source, `${db.name}_own`, publication, streamRows, true);
  const ceiling = Math.max(libRate, ownRate);
  results.push({ name: 'pgoutput decode, pg-logical-replication decoder', value: Math.round(libRate), unit: 'rows/s' });
  results.push({ name: 'pgoutput decode, Syncline decoder (ceiling)', value: Math.round(ownRate), unit: 'rows/s' });

  await source.query(insertSql(1, snapshotRows));
  await source.query('ANALYZE items');
  const storage = new pg.Pool({ connectionString: storageUrl, max: 4 });
  const version = (await deployVersion(storage, RULES, 'bench')).id;
  const replicator = new Replicator({ sourceUrl: db.url, storageUrl, publication, logger: pino({ level: 'warn' }), pollMs: 50, heartbeatMs: 200 });
  try {
    const t0 = performance.now();
    replicator.start();
    await waitForLsn(storage, version, await insertLsn(source));
    const snapMs = performance.now() - t0;
    const snapRate = (snapshotRows / snapMs) * 1000;
    results.push({ name: `initial snapshot (${snapshotRows.toLocaleString('en')} rows)`, value: Math.round(snapRate), unit: 'rows/s', note: `${(snapRate / ceiling).toFixed(2)}× ceiling` });

    // One large transaction.
    const t1 = performance.now();
    await source.query(insertSql(snapshotRows + 1, snapshotRows + streamRows));
    await waitForLsn(storage, version, await insertLsn(source));
    const bigRate = (streamRows / (performance.now() - t1)) * 1000;
    results.push({ name: `streaming, one ${streamRows.toLocaleString('en')}-row transaction (commit → checkpoint)`, value: Math.round(bigRate), unit: 'row-ops/s', note: `${(bigRate / ceiling).toFixed(2)}× ceiling` });

    // Many 1-row transactions from 4 connections.
    const seconds = opts.txSeconds ?? 10;
    const clients = await Promise.all([0, 1, 2, 3].map(async () => {
      const c = new pg.Client({ connectionString: db.url });
      c.on('error', () => {});
      await c.connect();
      return c;
    }));
    let committed = 0;
    let id = 50_000_000;
    const lags: number[] = [];
    const sampleStop = false;
    const until = performance.now() + seconds * 1000;
    const sampler = (async () => {
      while (performance.now() < until && !sampleStop) {
        const lsn = await insertLsn(source);
        const t = performance.now();
        await waitForLsn(storage, version, lsn, 30_000);
        lags.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 100));
      }
    })().catch(() => {});
    const t2 = performance.now();
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < until) {
        const n = id++;
        await c.query(`INSERT INTO items (id, owner_id, title, body, done, score) VALUES ($1, $2, 'tx item', 'small', false, 1.5)`, [n, `user-${n % 1000}`]);
        committed++;
      }
    }));
    const sourceMs = performance.now() - t2;
    await waitForLsn(storage, version, await insertLsn(source));
    const drainMs = performance.now() - t2;
    await sampler;
    await Promise.all(clients.map((c) => c.end()));
    lags.sort((a, b) => a - b);
    results.push({ name: '1-row transactions committed by the source (4 connections)', value: Math.round((committed / sourceMs) * 1000), unit: 'tx/s' });
    results.push({ name: '1-row transactions replicated (commit → checkpoint, incl. drain)', value: Math.round((committed / drainMs) * 1000), unit: 'tx/s', note: `${(((committed / drainMs) * 1000) / ceiling).toFixed(2)}× ceiling` });
    results.push({ name: 'checkpoint lag behind source insert position under that load, p50', value: Math.round(lags[Math.floor(lags.length / 2)] ?? 0), unit: 'ms' });
    results.push({ name: 'checkpoint lag, max', value: Math.round(lags[lags.length - 1] ?? 0), unit: 'ms' });
  } catch (e) {
    process.stderr.write(`replication bench failed: ${(e as Error).stack}\n`);
    throw e;
  } finally {
    await replicator.stop();
    await storage.end();
  }
  return results;
}
