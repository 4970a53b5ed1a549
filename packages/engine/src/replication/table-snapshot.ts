/**
 * Resumable, chunked copy of one source table into storage. Rows are read as raw Postgres text in
 * key order (`WHERE (k…) > (last…) ORDER BY k… LIMIT n`) when the key is a primary key or replica
 * identity index, and in physical block ranges when the key is the whole row (REPLICA IDENTITY FULL
 * without such an index; see snapshot-paging.ts). Every chunk is stored in one storage transaction
 * together with the new resume position, so a crash never loses progress. The last chunk marks the
 * table done and raises the version's `no_checkpoint_before` in the same transaction. The next
 * chunk is read while the current one is written.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { withConnectionPurpose } from '../storage/application-name.ts';
import type { PgReplicationWriter, SourceChange } from '../storage/pg-replication-writer.ts';
import { saveSnapshotProgress } from '../storage/pg-source-tables.ts';
import { normalizeLsn } from './lsn.ts';
import { currentWalLsn, quoteIdent } from './source-catalog.ts';
import { encodeBlockPosition, initialBlocks, nextBlocks, resumeBlock } from './snapshot-paging.ts';
import type { ActiveTable } from './table-registry.ts';
import { sourceKeyOf } from './table-evaluator.ts';

export const SNAPSHOT_CHUNK_ROWS = 10_000;

/** pg type parsers that keep every value as the text Postgres sent. */
export const RAW_TEXT_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export interface SnapshotResult {
  rows: number;
}

/** One chunk read from the source, with the resume position after it. */
interface Page {
  result: pg.QueryArrayResult;
  /** Resume position to store once this chunk is written (null: unchanged). */
  position: string | null;
  done: boolean;
}

/** Walks a table chunk by chunk; `next()` may be called again before the previous chunk is written. */
interface Pager {
  /** Chunks hold only rows new to storage (key order past the resume key): written without loading state. */
  fresh: boolean;
  next(): Promise<Page>;
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
  const client = new pg.Client({ connectionString: withConnectionPurpose(connectionStringOf(source), 'snapshot'), types: RAW_TEXT_TYPES });
  await client.connect();
  let copied = 0;
  try {
    const pager = (await keyIsIndexed(client, table)) ? await keyOrderPager(client, table) : await blockRangePager(client, table);
    // Pipeline: while chunk N is written to storage, chunk N+1 is read from the source and
    // evaluated, so Node and Postgres work at the same time.
    const toChunk = (page: Page) => {
      const { result } = page;
      const fields = result.fields.map((f) => f.name);
      const rows = result.rows as (string | null)[][];
      const columns = result.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID }));
      if (JSON.stringify(columns) !== JSON.stringify(table.columns)) setColumns(table, columns);
      const changes: SourceChange[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const values = rows[i]!;
        const row: Record<string, string | null> = {};
        for (let c = 0; c < fields.length; c++) row[fields[c]!] = values[c] ?? null;
        changes[i] = { sourceTable: info.id, evaluator: table.evaluator, key: sourceKeyOf(row, keyColumns)!, row };
      }
      return { changes, position: page.position, done: page.done, prepared: pager.fresh ? writer.prepareFresh(changes) : undefined };
    };
    let position = info.snapshotLastKey;
    let chunk = toChunk(await pager.next());
    for (;;) {
      if (signal?.aborted) throw new Error('snapshot aborted');
      const nextRead = chunk.done ? null : pager.next();
      const current = chunk;
      if (current.position !== null) position = current.position;
      const saved = position;
      // The last chunk has been read: every later source change is in the WAL past this position,
      // so no checkpoint may come before it (stored atomically with the table's done flag).
      const doneAtLsn = current.done ? normalizeLsn(await currentWalLsn(source)) : null;
      // A key-ordered chunk only holds rows new to storage (new source-table id, past the resume key).
      const writing = writer.flush(
        current.changes,
        undefined,
        (tx) => saveSnapshotProgress(tx, info.id, saved, current.changes.length, doneAtLsn),
        pager.fresh ? { fresh: true, prepared: current.prepared } : {},
      );
      writing.catch(() => {}); // awaited below; avoid an unhandled rejection while reading ahead
      const next = nextRead ? toChunk(await nextRead) : null;
      await writing;
      copied += current.changes.length;
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

/** Whether the key columns are exactly a primary key or replica identity index of the table. */
async function keyIsIndexed(client: pg.Client, table: ActiveTable): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
          AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) = $2::text[]) AS ok`,
    [table.info.relationOid, table.keyColumns.map((k) => k.name)],
  );
  // The snapshot client keeps every value as Postgres text (RAW_TEXT_TYPES): a boolean is 't'/'f'.
  const ok: unknown = rows[0]?.ok;
  return ok === true || ok === 't';
}

function qualifiedOf(table: ActiveTable): string {
  return `${quoteIdent(table.info.schemaName)}.${quoteIdent(table.info.tableName)}`;
}

/** Key order, resuming after the stored last key (JSON array of its text values). */
async function keyOrderPager(client: pg.Client, table: ActiveTable): Promise<Pager> {
  const { info, keyColumns } = table;
  const qualified = qualifiedOf(table);
  const keyList = keyColumns.map((k) => quoteIdent(k.name)).join(', ');
  const typeNames = await client.query<{ t: string }>(
    'SELECT format_type(oid, NULL) AS t FROM unnest($1::oid[]) WITH ORDINALITY AS u(oid, ord) ORDER BY ord',
    [keyColumns.map((k) => k.typeOid)],
  );
  const casts = typeNames.rows.map((r, i) => `$${i + 1}::${r.t}`).join(', ');
  const stored = info.snapshotLastKey ? (JSON.parse(info.snapshotLastKey) as unknown) : null;
  let after: (string | null)[] | null = Array.isArray(stored) ? (stored as (string | null)[]) : null;
  return {
    fresh: true,
    async next() {
      const result = await client.query({
        text: after
          ? `SELECT * FROM ${qualified} WHERE (${keyList}) > (${casts}) ORDER BY ${keyList} LIMIT ${SNAPSHOT_CHUNK_ROWS}`
          : `SELECT * FROM ${qualified} ORDER BY ${keyList} LIMIT ${SNAPSHOT_CHUNK_ROWS}`,
        values: after ?? [],
        rowMode: 'array',
      });
      const rows = result.rows as (string | null)[][];
      const lastRow = rows[rows.length - 1];
      if (lastRow) {
        const index = new Map(result.fields.map((f, i) => [f.name, i]));
        after = keyColumns.map((k) => lastRow[index.get(k.name)!] ?? null);
      }
      return { result, position: lastRow ? JSON.stringify(after) : null, done: rows.length < SNAPSHOT_CHUNK_ROWS };
    },
  };
}

/**
 * Physical block ranges (TID range scans), resuming at the stored block. Each chunk reads its
 * range and then, under the same lock, the table's relfilenodes: if a rewrite happened since the
 * previous chunk, the walk starts over (rows already stored are merged, not duplicated).
 */
async function blockRangePager(client: pg.Client, table: ActiveTable): Promise<Pager> {
  const qualified = qualifiedOf(table);
  const oid = table.info.relationOid;
  const shape = async () => {
    const { rows } = await client.query<{ relfiles: string; blocks: string; reltuples: string; relpages: string }>(
      `SELECT coalesce(string_agg(pg_relation_filenode(t.relid)::text, ',' ORDER BY t.relid), '') AS relfiles,
              coalesce(max(pg_relation_size(t.relid)), 0) / current_setting('block_size')::bigint AS blocks,
              coalesce(sum(greatest(c.reltuples, 0)), 0) AS reltuples, coalesce(sum(c.relpages), 0) AS relpages
         FROM (SELECT $1::oid AS relid UNION SELECT p.relid FROM pg_partition_tree($1::oid::regclass) p WHERE p.isleaf) t
         JOIN pg_class c ON c.oid = t.relid AND c.relkind <> 'p'`,
      [oid],
    );
    const r = rows[0]!;
    return { relfiles: r.relfiles, blocks: Number(r.blocks), reltuples: Number(r.reltuples), relpages: Number(r.relpages) };
  };
  let at = await shape();
  let block = resumeBlock(table.info.snapshotLastKey, at.relfiles);
  let span = initialBlocks(SNAPSHOT_CHUNK_ROWS, at.reltuples, at.relpages);
  return {
    fresh: false,
    async next() {
      const from = block;
      const to = Math.min(from + span, Math.max(at.blocks, from + 1));
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let result: pg.QueryArrayResult;
      let now: Awaited<ReturnType<typeof shape>>;
      try {
        result = await client.query({
          text: `SELECT * FROM ${qualified} WHERE ctid >= $1::tid AND ctid < $2::tid`,
          values: [`(${from},0)`, `(${to},0)`],
          rowMode: 'array',
        });
        now = await shape();
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      }
      span = nextBlocks(to - from, result.rows.length, SNAPSHOT_CHUNK_ROWS);
      if (now.relfiles !== at.relfiles) {
        // Rewritten since the walk started: block numbers mean other rows now. Start over.
        at = now;
        block = 0;
      } else {
        block = to;
      }
      return { result, position: encodeBlockPosition({ block, relfiles: at.relfiles }), done: block >= at.blocks };
    },
  };
}

function connectionStringOf(pool: pg.Pool): string {
  const opts = (pool as unknown as { options: { connectionString?: string } }).options;
  if (!opts.connectionString) throw new Error('source pool must be created from a connection string');
  return opts.connectionString;
}

/**
 * Reads current rows by key (raw text values), e.g. to fill TOAST values that were not sent. Keys
 * with NULLs (whole-row keys of REPLICA IDENTITY FULL tables) match NULL columns.
 */
export async function readRowsByKey(source: pg.Pool, table: ActiveTable, keys: (string | null)[][]): Promise<Record<string, string | null>[]> {
  const { info, keyColumns } = table;
  const qualified = `${quoteIdent(info.schemaName)}.${quoteIdent(info.tableName)}`;
  const cols = keyColumns.map((k) => `${quoteIdent(k.name)}::text`);
  const out: Record<string, string | null>[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const slice = keys.slice(i, i + 500);
    const params: (string | null)[] = [];
    const param = (v: string | null) => {
      params.push(v);
      return `$${params.length}`;
    };
    const tuples = slice.filter((k) => !k.includes(null)).map((k) => `(${k.map(param).join(', ')})`);
    const conditions = slice
      .filter((k) => k.includes(null))
      .map((k) => `(${k.map((v, c) => `${cols[c]} IS NOT DISTINCT FROM ${param(v)}`).join(' AND ')})`);
    if (tuples.length > 0) conditions.unshift(`(${cols.join(', ')}) IN (${tuples.join(', ')})`);
    const { rows } = await source.query<Record<string, string | null>>({
      text: `SELECT * FROM ${qualified} WHERE ${conditions.join(' OR ')}`,
      values: params,
      types: RAW_TEXT_TYPES,
    });
    out.push(...rows);
  }
  return out;
}
