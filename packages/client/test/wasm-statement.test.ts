/**
 * The browser worker's raw SQLite binding (wasm-statement.ts) against the `oo1` path it replaced
 * (`stmt.bind(array)` / `stmt.get({})`), on the same SQLite WASM build (in Node, in memory): every
 * value must be stored and read back identically, by type as well as by value.
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { WasmStatements, type Sqlite3 } from '../src/adapters/browser/wasm-statement.ts';
import type { SqliteRow, SqliteValue } from '../src/db/sqlite-adapter.ts';

type Db = InstanceType<Sqlite3['oo1']['DB']>;

let sqlite3: Sqlite3;
beforeAll(async () => {
  sqlite3 = await sqlite3InitModule();
});

/** The previous worker path: oo1 prepare, bind an array, step, get each row as an object. */
function oo1Run(db: Db, sql: string, params: readonly SqliteValue[]): SqliteRow[] {
  const stmt = db.prepare(sql);
  try {
    if (params.length > 0) stmt.bind(params as never);
    const rows: SqliteRow[] = [];
    while (stmt.step()) rows.push(stmt.get({}) as SqliteRow);
    return rows;
  } finally {
    stmt.finalize();
  }
}

function open(): { db: Db; raw: WasmStatements } {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v ANY) STRICT');
  return { db, raw: new WasmStatements(sqlite3, db.pointer as number) };
}

const values: [string, SqliteValue][] = [
  ['null', null],
  ['empty string', ''],
  ['ascii', 'hello'],
  ['unicode (BMP, astral, combining)', 'ünïcödé ☃ 𝄞 👩‍👩‍👧 e\u0301'],
  ['long string (grows the scratch buffer)', 'x'.repeat(100_000) + '€'],
  ['zero', 0],
  ['negative int32', -2147483648],
  ['int32 max', 2147483647],
  ['int32 max + 1', 2147483648],
  ['max safe integer', Number.MAX_SAFE_INTEGER],
  ['min safe integer', Number.MIN_SAFE_INTEGER],
  ['double', 3.25],
  ['negative double', -1e-300],
  ['negative zero', -0],
  ['bigint in safe range', 42n],
  ['bigint above safe range', 2n ** 62n + 7n],
  ['bigint int64 min', -(2n ** 63n)],
  ['bigint int64 max', 2n ** 63n - 1n],
  ['empty blob', new Uint8Array(0)],
  ['blob', new Uint8Array([0, 1, 2, 255, 0])],
  ['large blob', new Uint8Array(70_000).map((_, i) => i % 251)],
];

describe('raw SQLite WASM statements (browser worker)', () => {
  it.each(values)('stores and reads back %s exactly as the oo1 path does', (_name, value) => {
    const { db, raw } = open();
    try {
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [1, value], false);
      oo1Run(db, 'INSERT INTO t (id, v) VALUES (?, ?)', [2, value]);
      const viaRaw = raw.run('SELECT v, typeof(v) AS type, length(v) AS len FROM t ORDER BY id', [], true).rows;
      const viaOo1 = oo1Run(db, 'SELECT v, typeof(v) AS type, length(v) AS len FROM t ORDER BY id', []);
      expect(viaRaw).toEqual(viaOo1);
      expect(viaRaw[0]).toEqual(viaRaw[1]);
      for (const row of viaRaw) expect(typeof row['v']).toBe(typeof viaOo1[0]!['v']);
    } finally {
      raw.close();
      db.close();
    }
  });

  // Where oo1 loses data, the raw path keeps the value: oo1 binds an integral double beyond int64
  // through BigInt (1.5e300 was stored as the integer 0) and reads text as a C string (cut at NUL).
  it.each([
    ['an integral double beyond int64', 1.5e300, 'real'],
    ['text with an embedded NUL', 'a\u0000b', 'text'],
  ] as const)('keeps %s that the oo1 path corrupted', (_name, value, type) => {
    const { db, raw } = open();
    try {
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [1, value], false);
      expect(raw.run('SELECT v, typeof(v) AS type FROM t', [], true).rows).toEqual([{ v: value, type }]);
      oo1Run(db, 'INSERT INTO t (id, v) VALUES (?, ?)', [2, value]);
      expect(oo1Run(db, 'SELECT v FROM t WHERE id = 2', [])).not.toEqual([{ v: value }]);
    } finally {
      raw.close();
      db.close();
    }
  });

  it('binds a string that outgrows the scratch buffer after smaller ones (the buffer moves)', () => {
    const { db, raw } = open();
    try {
      for (const n of [10, 100, 1_000, 5_000]) {
        const text = JSON.stringify(Array.from({ length: n }, (_, i) => ['todos', `row-${i}`]));
        expect(raw.run('SELECT ? AS a, ? AS b', [1, text], true).rows).toEqual([{ a: 1, b: text }]);
      }
    } finally {
      raw.close();
      db.close();
    }
  });

  it('binds an empty string as text, never as NULL', () => {
    const { db, raw } = open();
    try {
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [1, ''], false);
      expect(raw.run('SELECT typeof(v) AS type, v FROM t', [], true).rows).toEqual([{ type: 'text', v: '' }]);
    } finally {
      raw.close();
      db.close();
    }
  });

  it('reports rows affected and the last insert id, and reuses statements with fresh bindings', () => {
    const { db, raw } = open();
    try {
      const first = raw.run('INSERT INTO t (v) VALUES (?)', ['a'], false);
      expect(first).toEqual({ rows: [], rowsAffected: 1, insertId: 1 });
      // Fewer parameters than the statement has: the rest are NULL (bindings were cleared).
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [5], false);
      expect(raw.run('UPDATE t SET v = ? WHERE id < ?', ['b', 10], false).rowsAffected).toBe(2);
      expect(raw.run('SELECT id, v FROM t ORDER BY id', [], true).rows).toEqual([
        { id: 1, v: 'b' },
        { id: 5, v: 'b' },
      ]);
    } finally {
      raw.close();
      db.close();
    }
  });

  it('throws SQLite errors with their code and message, and the statement stays usable', () => {
    const { db, raw } = open();
    try {
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'x'], false);
      expect(() => raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'y'], false)).toThrow(/SQLITE_CONSTRAINT_PRIMARYKEY: .*UNIQUE constraint failed: t\.id/);
      expect(() => raw.run('SELECT * FROM missing', [], true)).toThrow(/SQLITE_ERROR: .*no such table: missing/);
      expect(() => raw.run('SELECT 1', [1], true)).toThrow(/no bindable parameters/);
      expect(() => raw.run('SELECT ?', [1, 2], true)).toThrow(/out of range/);
      raw.run('INSERT INTO t (id, v) VALUES (?, ?)', [2, 'y'], false);
      expect(raw.run('SELECT count(*) AS n FROM t', [], true).rows).toEqual([{ n: 2 }]);
    } finally {
      raw.close();
      db.close();
    }
  });

  it('evicts the oldest statements beyond its cache size and still runs them again', () => {
    const db = new sqlite3.oo1.DB(':memory:', 'c');
    const raw = new WasmStatements(sqlite3, db.pointer as number, 3);
    try {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 5; i++) expect(raw.run(`SELECT ? + ${i} AS n`, [10], true).rows).toEqual([{ n: 10 + i }]);
      }
    } finally {
      raw.close();
      db.close();
    }
  });
});
