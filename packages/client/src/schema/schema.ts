/**
 * A set of named tables. Names become the synced `object_type` and (unless `viewName` is set) the
 * name of the view the app queries. Validated on construction: an invalid schema throws
 * `INVALID_SCHEMA` instead of being applied half-way.
 */
import { SynclineError, ClientErrorCodes } from '../errors.ts';
import type { ColumnType, RowType, Table } from './table.ts';

export interface ResolvedIndex {
  name: string;
  columns: { name: string; ascending: boolean; type: ColumnType }[];
}

export interface ResolvedTable {
  name: string;
  viewName: string;
  columns: { name: string; type: ColumnType }[];
  indexes: ResolvedIndex[];
  localOnly: boolean;
  insertOnly: boolean;
  ignoreEmptyUpdates: boolean;
  trackPrevious: boolean;
}

/** At most this many columns per table (SQLite's function-argument limit bounds json_object). */
export const MAX_COLUMNS = 400;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_PREFIXES = ['sl_', 'sqlite_'];

export class Schema<T extends Record<string, Table> = Record<string, Table>> {
  readonly tables: readonly ResolvedTable[];
  /** Only for typing: `typeof schema.types.todos` is the row type of `todos`. */
  declare readonly types: { [K in keyof T]: RowType<T[K]> };

  constructor(tables: T) {
    this.tables = Object.entries(tables).map(([name, table]) => resolveTable(name, table));
    validateSchema(this.tables);
  }

  table(name: string): ResolvedTable | undefined {
    return this.tables.find((t) => t.name === name);
  }
}

function resolveTable(name: string, table: Table): ResolvedTable {
  const columns = Object.entries(table.columns).map(([columnName, type]) => ({ name: columnName, type }));
  const types = new Map(columns.map((c) => [c.name, c.type] as const));
  const indexes = Object.entries(table.options.indexes ?? {}).map(([indexName, cols]) => ({
    name: indexName,
    columns: cols.map((spec) => {
      const descending = spec.startsWith('-');
      const columnName = descending ? spec.slice(1) : spec;
      const type = types.get(columnName);
      if (type === undefined && columnName !== 'id') {
        throw invalid(`index "${indexName}" of table "${name}" refers to unknown column "${columnName}"`);
      }
      return { name: columnName, ascending: !descending, type: type ?? 'TEXT' };
    }),
  }));
  const localOnly = table.options.localOnly === true;
  return {
    name,
    viewName: table.options.viewName ?? name,
    columns,
    indexes,
    localOnly,
    insertOnly: !localOnly && table.options.insertOnly === true,
    ignoreEmptyUpdates: table.options.ignoreEmptyUpdates === true,
    trackPrevious: table.options.trackPrevious === true,
  };
}

function invalid(message: string): SynclineError {
  return new SynclineError(ClientErrorCodes.INVALID_SCHEMA, `Invalid schema: ${message}`);
}

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw invalid(`${kind} name "${name}" must match ${NAME.source}`);
  if (RESERVED_PREFIXES.some((p) => name.toLowerCase().startsWith(p))) {
    throw invalid(`${kind} name "${name}" uses a reserved prefix (${RESERVED_PREFIXES.join(', ')})`);
  }
}

export function validateSchema(tables: readonly ResolvedTable[]): void {
  const names = new Set<string>();
  for (const t of tables) {
    checkName('table', t.name);
    checkName('view', t.viewName);
    for (const n of new Set([t.name.toLowerCase(), t.viewName.toLowerCase()])) {
      if (names.has(n)) throw invalid(`duplicate table or view name "${n}"`);
      names.add(n);
    }
    if (t.columns.length > MAX_COLUMNS) throw invalid(`table "${t.name}" has more than ${MAX_COLUMNS} columns`);
    const columns = new Set<string>();
    for (const c of t.columns) {
      checkName('column', c.name);
      const lower = c.name.toLowerCase();
      if (lower === 'id') throw invalid(`table "${t.name}" declares "id"; it is implicit (TEXT primary key)`);
      if (columns.has(lower)) throw invalid(`table "${t.name}" has duplicate column "${c.name}"`);
      if (!['TEXT', 'INTEGER', 'REAL'].includes(c.type)) throw invalid(`column "${t.name}.${c.name}" has unknown type "${String(c.type)}"`);
      columns.add(lower);
    }
    const indexes = new Set<string>();
    for (const i of t.indexes) {
      checkName('index', i.name);
      if (indexes.has(i.name)) throw invalid(`table "${t.name}" has duplicate index "${i.name}"`);
      if (i.columns.length === 0) throw invalid(`index "${i.name}" of table "${t.name}" has no columns`);
      indexes.add(i.name);
    }
  }
}
