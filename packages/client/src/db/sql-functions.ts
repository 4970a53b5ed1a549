/**
 * The SQL functions every adapter registers on its connection. Kept free of any SQLite binding so
 * the Node adapter and the browser worker share one implementation.
 *
 * - `syncline_table_changed(name)`: called by the generated view triggers; collects table names
 *   so watched queries re-run after the transaction. Returns NULL.
 * - `uuid()`: a random v4 UUID, handy for `INSERT INTO todos(id, …) VALUES (uuid(), …)`.
 */
import { SQL_FUNCTIONS, type SqliteValue } from './sqlite-adapter.ts';

export interface SqlFunction {
  name: string;
  arity: number;
  deterministic: boolean;
  fn: (...args: SqliteValue[]) => SqliteValue;
}

export interface SqlFunctionSet {
  functions: SqlFunction[];
  /** Returns and clears the collected table names. */
  takeChangedTables(): string[];
}

export function createSqlFunctions(randomUuid: () => string = () => globalThis.crypto.randomUUID()): SqlFunctionSet {
  let changed = new Set<string>();
  return {
    functions: [
      {
        name: SQL_FUNCTIONS.tableChanged,
        arity: 1,
        deterministic: false,
        fn: (name) => {
          if (typeof name === 'string') changed.add(name);
          return null;
        },
      },
      { name: SQL_FUNCTIONS.uuid, arity: 0, deterministic: false, fn: () => randomUuid() },
    ],
    takeChangedTables() {
      if (changed.size === 0) return [];
      const out = [...changed];
      changed = new Set();
      return out;
    },
  };
}
