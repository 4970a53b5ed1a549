/**
 * SQL generated for one schema table: a JSON-backed storage table, a user-visible view and
 * INSTEAD OF triggers that write the storage table and queue the change for upload in the same
 * statement (hence the same transaction), plus expression indexes matching the view's columns.
 *
 * Storage: `sl_data__<table>` (synced) or `sl_local__<table>` (local-only), `(id TEXT PK, data TEXT)`.
 * Queue entries (`sl_crud.data`): `{"op":"PUT"|"PATCH"|"DELETE","type","id","data"?,"old"?}` —
 * PUT carries the non-NULL columns, PATCH only the changed ones (NULL when cleared).
 */
import { SQL_FUNCTIONS } from '../db/sqlite-adapter.ts';
import { KV, MAX_OP_ID } from './internal-schema.ts';
import type { ResolvedIndex, ResolvedTable } from './schema.ts';

/** Marker that identifies views Syncline owns. */
export const VIEW_MARKER = '-- syncline-generated';
export const DATA_PREFIX = 'sl_data__';
export const LOCAL_PREFIX = 'sl_local__';
export const TRIGGER_PREFIX = 'sl_view_';

export interface TableDdl {
  storageTable: string;
  createStorage: string;
  view: { name: string; sql: string };
  triggers: { name: string; sql: string }[];
  indexes: { name: string; sql: string }[];
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function storageTableName(table: Pick<ResolvedTable, 'name' | 'localOnly'>): string {
  return (table.localOnly ? LOCAL_PREFIX : DATA_PREFIX) + table.name;
}

function extract(column: { name: string; type: string }): string {
  return `CAST(json_extract(data, ${quoteString('$.' + column.name)}) AS ${column.type})`;
}

/** `json_object('a', NEW."a", …)` over all columns of the table. */
function rowObject(table: ResolvedTable, ref: 'NEW' | 'OLD'): string {
  const args = table.columns.map((c) => `${quoteString(c.name)}, ${ref}.${quoteIdent(c.name)}`);
  return `json_object(${args.join(', ')})`;
}

/** The new row without NULL members (RFC 7396 merge patch drops nulls). */
function putData(table: ResolvedTable): string {
  return `json_patch('{}', ${rowObject(table, 'NEW')})`;
}

/** The new row restricted to changed columns (NULL stays when a value was cleared). */
function patchData(table: ResolvedTable): string {
  if (table.columns.length === 0) return `json_object()`;
  const paths = table.columns.map(
    (c) => `CASE WHEN NEW.${quoteIdent(c.name)} IS OLD.${quoteIdent(c.name)} THEN ${quoteString('$.' + c.name)} ELSE '$."sl unchanged"' END`,
  );
  return `json_remove(${rowObject(table, 'NEW')}, ${paths.join(', ')})`;
}

const NEXT_TX = `UPDATE sl_tx SET current_tx = next_tx, next_tx = next_tx + 1 WHERE id = 1 AND current_tx IS NULL;`;
const CLOSE_GATE =
  `INSERT OR REPLACE INTO sl_kv (key, value) SELECT ${quoteString(KV.target)}, ${MAX_OP_ID} ` +
  `WHERE NOT EXISTS (SELECT 1 FROM sl_kv WHERE key = ${quoteString(KV.target)} AND value = ${MAX_OP_ID});\n` +
  `  DELETE FROM sl_kv WHERE key IN (${quoteString(KV.lastSeen)}, ${quoteString(KV.lastApplied)});`;

function notify(...names: string[]): string {
  return names.map((n) => `SELECT ${SQL_FUNCTIONS.tableChanged}(${quoteString(n)});`).join('\n  ');
}

function queue(table: ResolvedTable, op: 'PUT' | 'PATCH' | 'DELETE', idRef: string, data: string | null, old: string | null): string {
  const parts = [`'op', '${op}'`, `'type', ${quoteString(table.name)}`, `'id', ${idRef}`];
  if (data !== null) parts.push(`'data', json(p.data)`);
  if (old !== null) parts.push(`'old', json(p.old)`);
  const projection = [data !== null ? `${data} AS data` : `NULL AS data`, old !== null ? `${old} AS old` : `NULL AS old`];
  const skipEmpty = op === 'PATCH' && table.ignoreEmptyUpdates ? ` AND p.data != '{}'` : '';
  return (
    `INSERT INTO sl_crud (tx_id, data) SELECT t.current_tx, json_object(${parts.join(', ')}) ` +
    `FROM sl_tx t, (SELECT ${projection.join(', ')}) p WHERE t.id = 1${skipEmpty};`
  );
}

function markUpdated(table: ResolvedTable, idRef: string): string {
  return `INSERT OR IGNORE INTO sl_updated_rows (row_type, row_id) VALUES (${quoteString(table.name)}, ${idRef});`;
}

const CHECK_ID =
  `SELECT CASE WHEN NEW.id IS NULL THEN RAISE(ABORT, 'id is required') ` +
  `WHEN typeof(NEW.id) != 'text' THEN RAISE(ABORT, 'id should be text') END;`;

export function tableDdl(table: ResolvedTable): TableDdl {
  const storage = storageTableName(table);
  const s = quoteIdent(storage);
  const v = quoteIdent(table.viewName);
  const viewColumns = ['id', ...table.columns.map((c) => c.name)].map(quoteIdent).join(', ');
  const selects = ['id', ...table.columns.map(extract)].join(', ');
  const viewSql = `CREATE VIEW ${v} (${viewColumns}) AS SELECT ${selects} FROM ${s} ${VIEW_MARKER}`;
  const synced = !table.localOnly;
  const triggers: { name: string; sql: string }[] = [];
  const trigger = (kind: string, event: string, body: string[]): void => {
    const name = `${TRIGGER_PREFIX}${kind}__${table.viewName}`;
    triggers.push({ name, sql: `CREATE TRIGGER ${quoteIdent(name)} INSTEAD OF ${event} ON ${v} FOR EACH ROW BEGIN\n  ${body.join('\n  ')}\nEND` });
  };
  const old = table.trackPrevious ? rowObject(table, 'OLD') : null;

  if (table.insertOnly) {
    trigger('insert', 'INSERT', [CHECK_ID, NEXT_TX, queue(table, 'PUT', 'NEW.id', putData(table), null), notify('sl_crud')]);
  } else {
    trigger('insert', 'INSERT', [
      ...(synced ? [CHECK_ID] : []),
      `INSERT INTO ${s} (id, data) VALUES (NEW.id, ${rowObject(table, 'NEW')});`,
      ...(synced ? [NEXT_TX, queue(table, 'PUT', 'NEW.id', putData(table), null), markUpdated(table, 'NEW.id'), CLOSE_GATE] : []),
      notify(table.name, ...(synced ? ['sl_crud'] : [])),
    ]);
    trigger('update', 'UPDATE', [
      `SELECT CASE WHEN OLD.id IS NOT NEW.id THEN RAISE(ABORT, 'Cannot update id') END;`,
      `UPDATE ${s} SET data = ${rowObject(table, 'NEW')} WHERE id = NEW.id;`,
      ...(synced ? [NEXT_TX, queue(table, 'PATCH', 'NEW.id', patchData(table), old), markUpdated(table, 'NEW.id'), CLOSE_GATE] : []),
      notify(table.name, ...(synced ? ['sl_crud'] : [])),
    ]);
    trigger('delete', 'DELETE', [
      `DELETE FROM ${s} WHERE id = OLD.id;`,
      ...(synced ? [NEXT_TX, queue(table, 'DELETE', 'OLD.id', null, old), markUpdated(table, 'OLD.id'), CLOSE_GATE] : []),
      notify(table.name, ...(synced ? ['sl_crud'] : [])),
    ]);
  }

  return {
    storageTable: storage,
    createStorage: `CREATE TABLE IF NOT EXISTS ${s} (id TEXT PRIMARY KEY NOT NULL, data TEXT) WITHOUT ROWID`,
    view: { name: table.viewName, sql: viewSql },
    triggers,
    indexes: table.indexes.map((i) => indexDdl(storage, i)),
  };
}

function indexDdl(storage: string, index: ResolvedIndex): { name: string; sql: string } {
  const name = `${storage}__${index.name}`;
  const columns = index.columns.map((c) => `${c.name === 'id' ? 'id' : extract(c)}${c.ascending ? '' : ' DESC'}`);
  return { name, sql: `CREATE INDEX ${quoteIdent(name)} ON ${quoteIdent(storage)} (${columns.join(', ')})` };
}
