/**
 * Client schema: tables with TEXT/INTEGER/REAL columns (an `id TEXT` column is always implicit),
 * indexes, local-only and insert-only tables.
 *
 * @example
 * const todos = new Table(
 *   { list_id: column.text, description: column.text, done: column.integer },
 *   { indexes: { by_list: ['list_id', '-created_at'] } },
 * );
 * const schema = new Schema({ todos, drafts: new Table({ body: column.text }, { localOnly: true }) });
 * type Todo = RowType<typeof todos>; // { id: string; list_id: string | null; … }
 */
export type ColumnType = 'TEXT' | 'INTEGER' | 'REAL';

export const column = {
  text: 'TEXT',
  integer: 'INTEGER',
  real: 'REAL',
} as const satisfies Record<string, ColumnType>;

export type ColumnsDefinition = Record<string, ColumnType>;

export interface TableOptions {
  /** Indexes by name; each lists column names, a leading `-` means descending. */
  indexes?: Record<string, readonly string[]>;
  /** Kept on this device only: never uploaded, never touched by sync. */
  localOnly?: boolean;
  /** Writes are uploaded but not kept locally (the view stays empty); useful for logs/events. */
  insertOnly?: boolean;
  /** Name of the user-visible view (defaults to the table name; the synced type keeps the table name). */
  viewName?: string;
  /** Updates that change nothing are not queued for upload. */
  ignoreEmptyUpdates?: boolean;
  /** UPDATE/DELETE entries carry the previous values as `old` (CrudEntry.previousValues). */
  trackPrevious?: boolean;
}

export class Table<C extends ColumnsDefinition = ColumnsDefinition> {
  constructor(
    readonly columns: C,
    readonly options: TableOptions = {},
  ) {}

  static localOnly<C extends ColumnsDefinition>(columns: C, options: Omit<TableOptions, 'localOnly' | 'insertOnly'> = {}): Table<C> {
    return new Table(columns, { ...options, localOnly: true });
  }

  static insertOnly<C extends ColumnsDefinition>(columns: C, options: Omit<TableOptions, 'localOnly' | 'insertOnly'> = {}): Table<C> {
    return new Table(columns, { ...options, insertOnly: true });
  }
}

type ColumnValue<T extends ColumnType> = T extends 'TEXT' ? string : number | bigint;

/** The row type of a table's view: `id` plus every column (nullable). */
export type RowType<T extends Table> = { id: string } & { [K in keyof T['columns']]: ColumnValue<T['columns'][K]> | null };
