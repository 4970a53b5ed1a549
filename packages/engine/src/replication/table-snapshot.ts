/**
 * Resumable, chunked copy of one source table into storage. Rows are read in key order
 * (`WHERE (k…) > (last…) ORDER BY k… LIMIT n`) as raw Postgres text, and every chunk is stored in
 * one storage transaction together with the new resume position, so a crash never loses or
 * duplicates progress. The last chunk marks the table done and raises the version's
 * `no_checkpoint_before` in the same transaction. The next chunk is read while the current one is written.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { PgReplicationWriter, SourceChange } from '../storage/pg-replication-writer.ts';
import { saveSnapshotProgress } from '../storage/pg-source-tables.ts';
import { normalizeLsn } from './lsn.ts';
import { currentWalLsn, quoteIdent } from './source-catalog.ts';
import type { ActiveTable } from './table-registry.ts';
import { sourceKeyOf } from './table-evaluator.ts';

export const SNAPSHOT_CHUNK_ROWS = 10_000;

/** pg type parsers that keep every value as the text Postgres sent. */
export const RAW_TEXT_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export interface SnapshotResult {
  rows: number;
}

export async function snapshotTable(
  source: pg.Pool,
  writer: PgReplicationWriter,
  table: ActiveTable,
  setColumns: (table: ActiveTable, columns: Array<{ name: string; typeOid: number }>) => void,
  logger: Logger,
  signal?: AbortSignal,
): Promise<SnapshotResult> {
  const { info, keyColumns } = table;
  const qualified = `${quoteIdent(info.schemaName)}.${quoteIdent(info.tableName)}`;
  const keyList = keyColumns.map((k) => quoteIdent(k.name)).join(', ');
  const client = new pg.Client({ connectionString: connectionStringOf(source), types: RAW_TEXT_TYPES });
  await client.connect();
  let copied = 0;
  try {
    const typeNames = await client.query<{ t: string }>(
      'SELECT format_type(oid, NULL) AS t FROM unnest($1::oid[]) WITH ORDINALITY AS u(oid, ord) ORDER BY ord',
      [keyColumns.map((k) => k.typeOid)],
    );
    const casts = typeNames.rows.map((r, i) => `$${i + 1}::${r.t}`).join(', ');
    let lastKey: (string | null)[] | null = info.snapshotLastKey ? (JSON.parse(info.snapshotLastKey) as (string | null)[]) : null;
    const read = (after: (string | null)[] | null) =>
      client.query({
        text: after
          ? `SELECT * FROM ${qualified} WHERE (${keyList}) > (${casts}) ORDER BY ${keyList} LIMIT ${SNAPSHOT_CHUNK_ROWS}`
          : `SELECT * FROM ${qualified} ORDER BY ${keyList} LIMIT ${SNAPSHOT_CHUNK_ROWS}`,
        values: after ?? [],
        rowMode: 'array',
      });
    // Pipeline: while chunk N is written to storage, chunk N+1 is read from the source and
    // evaluated, so Node and Postgres work at the same time.
    const toChunk = (result: pg.QueryArrayResult) => {
      const fields = result.fields.map((f) => f.name);
      const rows = result.rows as (string | null)[][];
      const columns = result.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID }));
      if (JSON.stringify(columns) !== JSON.stringify(table.columns)) setColumns(table, columns);
      const changes: SourceChange[] = new Array(rows.length);
      let last: (string | null)[] | null = null;
      for (let i = 0; i < rows.length; i++) {
        const values = rows[i]!;
        const row: Record<string, string | null> = {};
        for (let c = 0; c < fields.length; c++) row[fields[c]!] = values[c] ?? null;
        changes[i] = { sourceTable: info.id, evaluator: table.evaluator, key: sourceKeyOf(row, keyColumns)!, row };
        if (i === rows.length - 1) last = keyColumns.map((k) => row[k.name] ?? null);
      }
      return { changes, last, done: rows.length < SNAPSHOT_CHUNK_ROWS, prepared: writer.prepareFresh(changes) };
    };
    let chunk = toChunk(await read(lastKey));
    for (;;) {
      if (signal?.aborted) throw new Error('snapshot aborted');
      const nextRead = chunk.done ? null : read(chunk.last);
      const current = chunk;
      // The last chunk has been read: every later source change is in the WAL past this position,
      // so no checkpoint may come before it (stored atomically with the table's done flag).
      const doneAtLsn = current.done ? normalizeLsn(await currentWalLsn(source)) : null;
      // A snapshot chunk only holds rows new to storage (new source-table id, past the resume key).
      const writing = writer.flush(
        current.changes,
        undefined,
        (tx) => saveSnapshotProgress(tx, info.id, current.last ? JSON.stringify(current.last) : (lastKey ? JSON.stringify(lastKey) : null), current.changes.length, doneAtLsn),
        { fresh: true, prepared: current.prepared },
      );
      writing.catch(() => {}); // awaited below; avoid an unhandled rejection while reading ahead
      const next = nextRead ? toChunk(await nextRead) : null;
      await writing;
      copied += current.changes.length;
      if (current.last) lastKey = current.last;
      if (!next) break;
      chunk = next;
      if (copied % 100_000 < SNAPSHOT_CHUNK_ROWS) logger.info({ table: info.tableName, copied }, 'snapshot progress');
    }
  } finally {
    await client.end();
  }
  info.snapshotDone = true;
  return { rows: copied };
}

function connectionStringOf(pool: pg.Pool): string {
  const opts = (pool as unknown as { options: { connectionString?: string } }).options;
  if (!opts.connectionString) throw new Error('source pool must be created from a connection string');
  return opts.connectionString;
}

/** Reads current rows by key (raw text values), e.g. to fill TOAST values that were not sent. */
export async function readRowsByKey(source: pg.Pool, table: ActiveTable, keys: (string | null)[][]): Promise<Record<string, string | null>[]> {
  const { info, keyColumns } = table;
  const qualified = `${quoteIdent(info.schemaName)}.${quoteIdent(info.tableName)}`;
  const out: Record<string, string | null>[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const slice = keys.slice(i, i + 500);
    const params: (string | null)[] = [];
    const tuples = slice.map((k) => `(${k.map((v) => {
      params.push(v);
      return `$${params.length}`;
    }).join(', ')})`);
    const cols = keyColumns.map((k) => `${quoteIdent(k.name)}::text`).join(', ');
    const { rows } = await source.query<Record<string, string | null>>({
      text: `SELECT * FROM ${qualified} WHERE (${cols}) IN (${tuples.join(', ')})`,
      values: params,
      types: RAW_TEXT_TYPES,
    });
    out.push(...rows);
  }
  return out;
}
