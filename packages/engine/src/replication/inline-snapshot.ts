/**
 * Crash-safe "drop old rows + (re-)snapshot" for tables whose mapping changes after the initial
 * snapshot: a replica-identity change, an added primary key, a rename or recreate, a table newly
 * published or newly matching the rules, a table leaving the rules.
 *
 * Every step is durable and idempotent, so a job that dies at any point finishes the work on
 * restart (resumeTableWork) before it streams again:
 * 1. the retired mappings (dropped, removal pending) and their replacement are stored in one
 *    transaction (TableRegistry.resolve);
 * 2. the retired rows are removed in chunks; every chunk deletes its rows' stored state with their
 *    REMOVE ops, the last one clears the pending flag — always before the replacement's snapshot,
 *    since a REMOVE after the replacement's PUT of the same row would hide the row;
 * 3. the replacement is snapshotted in resumable chunks; the last one marks it done and raises
 *    `no_checkpoint_before` past the snapshot.
 * No checkpoint is created while a table of the version is pending (advanceCheckpoint).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PgReplicationWriter } from '../storage/pg-replication-writer.ts';
import { finishSourceTableRemoval, listStoredRowKeys } from '../storage/pg-source-tables.ts';
import { describeTable } from './source-catalog.ts';
import type { ActiveTable, ResolveResult, TableRegistry } from './table-registry.ts';
import { snapshotTable } from './table-snapshot.ts';

const REMOVE_CHUNK_ROWS = 10_000;

export interface TableWorkContext {
  source: pg.Pool;
  writer: PgReplicationWriter;
  registry: TableRegistry;
  logger: Logger;
  signal?: AbortSignal;
}

/**
 * Removes every stored row of a source table from its buckets (REMOVE ops, parameter tombstones),
 * in chunks; idempotent. The last chunk also clears the table's pending-removal flag.
 */
export async function removeSourceTableRows(writer: PgReplicationWriter, table: ActiveTable, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  for (;;) {
    if (signal?.aborted) throw new Error('row removal aborted');
    const keys = await listStoredRowKeys(writer.pool, writer.versionId, table.info.id, REMOVE_CHUNK_ROWS);
    const last = keys.length < REMOVE_CHUNK_ROWS;
    await writer.flush(
      keys.map((key) => ({ sourceTable: table.info.id, evaluator: table.evaluator, key, row: null })),
      undefined,
      last ? (tx) => finishSourceTableRemoval(tx, table.info.id) : undefined,
    );
    removed += keys.length;
    if (last) return removed;
  }
}

/** Carries out a resolve() result: removes the retired mappings' rows, then snapshots the table. */
export async function applyResolved(ctx: TableWorkContext, r: ResolveResult): Promise<number> {
  if (r.kind === 'known') return 0;
  for (const t of r.replaced) {
    const removed = await removeSourceTableRows(ctx.writer, t, ctx.signal);
    ctx.logger.info({ table: `${t.info.schemaName}.${t.info.tableName}`, sourceTable: t.info.id, removed }, 'rows of a retired table mapping removed');
  }
  if (r.kind === 'ignored') return 0;
  const { info } = r.table;
  ctx.logger.info({ table: `${info.schemaName}.${info.tableName}`, resumeAfter: info.snapshotLastKey !== null }, 'snapshotting table');
  const { rows } = await snapshotTable(ctx.source, ctx.writer, r.table, (t, c) => ctx.registry.setColumns(t, c), ctx.logger, ctx.signal);
  ctx.logger.info({ table: `${info.schemaName}.${info.tableName}`, rows }, 'table snapshot done');
  return rows;
}

/**
 * On job start: finishes every row removal and every table snapshot a previous run left pending
 * (also a stopped or crashed inline snapshot), re-resolving each table against the current catalog.
 * Returns the rows snapshotted.
 */
export async function resumeTableWork(ctx: TableWorkContext): Promise<number> {
  for (const t of await ctx.registry.loadPendingRemovals()) await applyResolved(ctx, { kind: 'ignored', replaced: [t] });
  let rows = 0;
  for (const t of ctx.registry.all()) {
    if (t.info.snapshotDone) continue;
    const desc = await describeTable(ctx.source, t.info.relationOid);
    if (!desc) {
      ctx.logger.info({ table: `${t.info.schemaName}.${t.info.tableName}` }, 'table of an unfinished snapshot no longer exists; removing its rows');
      await ctx.registry.drop(t);
      await removeSourceTableRows(ctx.writer, t, ctx.signal);
      continue;
    }
    rows += await applyResolved(ctx, await ctx.registry.resolve(desc));
  }
  return rows;
}
