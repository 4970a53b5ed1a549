/**
 * Runs the official `@powersync/node` SDK against a Syncline test server: a connector whose
 * fetchCredentials returns the server URL and a fresh dev token, and whose uploadData applies the
 * CRUD transaction to the source Postgres in one transaction and then completes it.
 * Every SDK log record and status change is kept so tests can assert on them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PowerSyncDatabase,
  Schema,
  Table,
  column,
  type AbstractPowerSyncDatabase,
  type CrudEntry,
  type LogRecord,
  type PowerSyncBackendConnector,
  type SyncStatus,
  type SyncStreamConnectionMethod,
} from '@powersync/node';
import type pg from 'pg';
import type { TestServer } from '../support/test-server.ts';

/** The source tables behind AppSchema (the interop tests' rules select from them). */
export const INTEROP_TABLES_SQL = `
  CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text NOT NULL);
  CREATE TABLE todos (id text PRIMARY KEY, list_id text NOT NULL, description text, done boolean NOT NULL DEFAULT false,
                      big bigint, server_seen integer NOT NULL DEFAULT 0);
`;

export const AppSchema = new Schema({
  lists: new Table({ owner_id: column.text, name: column.text }),
  todos: new Table({ list_id: column.text, description: column.text, done: column.integer, big: column.integer, server_seen: column.integer }),
});

/** Columns the connector may write, per table (everything else in a CRUD entry is rejected). */
const WRITABLE: Record<string, string[]> = {
  lists: ['owner_id', 'name'],
  todos: ['list_id', 'description', 'done', 'big'],
};

const CHECKSUM_PROBLEM = /checksums? (didn't|did not) match|checksum mismatch|failed for:/i;
const PROTOCOL_PROBLEM = /Unknown sync line|without previous checkpoint|even after completed upload|Conversion error/i;
let clientCount = 0;
const describe = (r: LogRecord) => `${r.message} ${r.error === undefined ? '' : String(r.error)}`;

export interface InteropClient extends AsyncDisposable {
  db: PowerSyncDatabase;
  logs: LogRecord[];
  statuses: SyncStatus[];
  uploadedTransactions: number;
  credentialFetches: number;
  /** Log records or status errors reporting a checksum mismatch (core: "Checksums didn't match, failed for: …"). */
  checksumProblems(): string[];
  /** Log records where the SDK core rejected a line or could not apply a checkpoint it should have. */
  protocolProblems(): string[];
}

export async function openInteropClient(
  server: TestServer,
  userId: string,
  connectionMethod: SyncStreamConnectionMethod,
  opts: {
    tokenTtlSeconds?: number;
    checkpointMode?: 'legacy' | 'requests';
    /** false: return once the sync loop started, not when the first connection attempt settled. */
    waitForConnect?: boolean;
    /** The token of the n-th credentials fetch (1-based); default a fresh dev token each time. */
    tokenFor?: (fetch: number) => Promise<string>;
  } = {},
): Promise<InteropClient> {
  const dir = await mkdtemp(join(tmpdir(), 'syncline-interop-'));
  // The SDK keys its sync and CRUD mutexes by dbFilename across the process: clients sharing a
  // name (even in different directories) would sync one at a time.
  const dbFilename = `client-${++clientCount}-${userId.replace(/[^\w-]/g, '_')}.db`;
  const logs: LogRecord[] = [];
  const statuses: SyncStatus[] = [];
  const db = new PowerSyncDatabase({
    schema: AppSchema,
    database: { dbFilename, dbLocation: dir, implementation: { type: 'better-sqlite3' } },
    logger: { log: (r) => void logs.push(r) },
  });
  const client: InteropClient = {
    db,
    logs,
    statuses,
    uploadedTransactions: 0,
    credentialFetches: 0,
    checksumProblems() {
      const fromLogs = logs.map(describe).filter((m) => CHECKSUM_PROBLEM.test(m));
      const fromStatus = statuses.flatMap((s) => [s.dataFlowStatus.downloadError, s.dataFlowStatus.uploadError]).filter((e) => e && CHECKSUM_PROBLEM.test(String(e))).map(String);
      return [...fromLogs, ...fromStatus];
    },
    protocolProblems() {
      return logs.map(describe).filter((m) => PROTOCOL_PROBLEM.test(m));
    },
    async [Symbol.asyncDispose]() {
      await db.disconnect().catch(() => {});
      await db.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  db.registerListener({ statusChanged: (s) => void statuses.push(s) });
  const connector: PowerSyncBackendConnector = {
    async fetchCredentials() {
      const n = ++client.credentialFetches;
      const token = opts.tokenFor ? await opts.tokenFor(n) : await server.token(userId, opts.tokenTtlSeconds ? { ttlSeconds: opts.tokenTtlSeconds } : {});
      return { endpoint: server.url, token };
    },
    async uploadData(database: AbstractPowerSyncDatabase) {
      const tx = await database.getNextCrudTransaction();
      if (!tx) return;
      const conn = await server.source.connect();
      try {
        await conn.query('BEGIN');
        for (const op of tx.crud) await applyCrud(conn, op);
        await conn.query('COMMIT');
      } catch (e) {
        await conn.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        conn.release();
      }
      await tx.complete();
      client.uploadedTransactions++;
    },
  };
  await db.init();
  const connected = db.connect(connector, { connectionMethod, retryDelayMs: 300, crudUploadThrottleMs: 50, checkpointMode: opts.checkpointMode ?? 'legacy' });
  if (opts.waitForConnect === false) connected.catch(() => {});
  else await connected;
  return client;
}

async function applyCrud(conn: pg.PoolClient, op: CrudEntry): Promise<void> {
  const allowed = WRITABLE[op.table];
  if (!allowed) throw new Error(`upload for unknown table ${op.table}`);
  const data = Object.entries(op.opData ?? {}).filter(([k]) => allowed.includes(k));
  const value = (k: string, v: unknown) => (k === 'done' && v !== null && v !== undefined ? Boolean(v) : v);
  const ident = (k: string) => `"${k}"`;
  switch (op.op) {
    case 'PUT': {
      const cols = ['id', ...data.map(([k]) => k)];
      const params = [op.id, ...data.map(([k, v]) => value(k, v))];
      const updates = data.map(([k]) => `${ident(k)} = EXCLUDED.${ident(k)}`);
      await conn.query(
        `INSERT INTO ${ident(op.table)} (${cols.map(ident).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
         ON CONFLICT (id) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
        params,
      );
      return;
    }
    case 'PATCH': {
      if (data.length === 0) return;
      await conn.query(
        `UPDATE ${ident(op.table)} SET ${data.map(([k], i) => `${ident(k)} = $${i + 2}`).join(', ')} WHERE id = $1`,
        [op.id, ...data.map(([k, v]) => value(k, v))],
      );
      return;
    }
    case 'DELETE':
      await conn.query(`DELETE FROM ${ident(op.table)} WHERE id = $1`, [op.id]);
      return;
  }
}
