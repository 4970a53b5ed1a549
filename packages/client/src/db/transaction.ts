/**
 * Query helpers shared by `SynclineDatabase` and the `Transaction` objects handed to
 * `readTransaction`/`writeTransaction` callbacks.
 */
import { ClientErrorCodes, SynclineError } from '../errors.ts';
import type { QueryResult, SqliteAdapter, SqliteRow, SqliteValue } from './sqlite-adapter.ts';

export interface QueryRunner {
  execute(sql: string, params?: readonly SqliteValue[]): Promise<QueryResult>;
  getAll<T = SqliteRow>(sql: string, params?: readonly SqliteValue[]): Promise<T[]>;
  getOptional<T = SqliteRow>(sql: string, params?: readonly SqliteValue[]): Promise<T | null>;
  /** Like `getOptional` but throws `RESULT_EMPTY` when there is no row. */
  get<T = SqliteRow>(sql: string, params?: readonly SqliteValue[]): Promise<T>;
}

export interface Transaction extends QueryRunner {
  /** Commits now (write transactions commit automatically when the callback resolves). */
  commit(): Promise<void>;
  /** Rolls back now (also happens automatically when the callback throws). */
  rollback(): Promise<void>;
}

export function queryRunner(execute: (sql: string, params?: readonly SqliteValue[]) => Promise<QueryResult>): QueryRunner {
  return {
    execute,
    async getAll<T>(sql: string, params?: readonly SqliteValue[]) {
      return (await execute(sql, params)).rows as T[];
    },
    async getOptional<T>(sql: string, params?: readonly SqliteValue[]) {
      return ((await execute(sql, params)).rows[0] as T | undefined) ?? null;
    },
    async get<T>(sql: string, params?: readonly SqliteValue[]) {
      const row = (await execute(sql, params)).rows[0] as T | undefined;
      if (row === undefined) throw new SynclineError(ClientErrorCodes.RESULT_EMPTY, 'Result set is empty');
      return row;
    },
  };
}

/**
 * Runs `fn` inside BEGIN … COMMIT on `db` (the caller holds the connection lock). Before COMMIT it
 * closes the upload-queue transaction id (`sl_tx.current_tx`) so the next transaction gets a new
 * one. Rolls back when `fn` throws or calls `rollback()`.
 */
export async function runTransaction<T>(
  db: SqliteAdapter,
  mode: 'read' | 'write',
  fn: (tx: Transaction) => Promise<T>,
): Promise<{ result: T; committed: boolean }> {
  await db.execute(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN DEFERRED');
  let finished = false;
  let committed = false;
  const ensureOpen = (): void => {
    if (finished) throw new SynclineError(ClientErrorCodes.INVALID_STATE, 'Transaction already finished');
  };
  const commit = async (): Promise<void> => {
    ensureOpen();
    finished = true;
    if (mode === 'write') await db.execute('UPDATE sl_tx SET current_tx = NULL WHERE current_tx IS NOT NULL');
    await db.execute('COMMIT');
    committed = true;
  };
  const rollback = async (): Promise<void> => {
    ensureOpen();
    finished = true;
    await db.execute('ROLLBACK');
  };
  const tx: Transaction = {
    ...queryRunner((sql, params) => {
      ensureOpen();
      return db.execute(sql, params);
    }),
    commit,
    rollback,
  };
  try {
    const result = await fn(tx);
    if (!finished) {
      if (mode === 'write') await commit();
      else await rollback();
    }
    return { result, committed };
  } catch (e) {
    if (!finished) {
      finished = true;
      await db.execute('ROLLBACK').catch(() => undefined);
    }
    throw e;
  }
}
