/**
 * Postgres → SQLite value mapping (reference §6.5) for values in Postgres *text* format, as they
 * arrive from pgoutput and from `SELECT` with raw text parsers.
 *
 * | Postgres                                   | SQLite                                        |
 * |--------------------------------------------|-----------------------------------------------|
 * | int2, int4, int8, oid                      | INTEGER (bigint, exact)                       |
 * | float4, float8                             | REAL (`NaN` → NULL)                           |
 * | bool                                       | INTEGER 1/0                                   |
 * | numeric, money, json, jsonb, text, uuid, … | TEXT as sent                                  |
 * | arrays (any element type, nested)          | TEXT: JSON array of converted elements        |
 * | bytea                                      | BLOB (dropped from synced rows)               |
 * | date, timestamp(tz), time(tz)              | TEXT per edition (see pg-datetime.ts)         |
 * | pg_lsn                                     | TEXT `XXXXXXXX/XXXXXXXX`                      |
 * | unknown / custom types                     | TEXT; with `custom_postgres_types`, domains and arrays of custom types use their base/element type |
 *
 * @example
 * pgTextToSqlite('42', PgOid.int8, opts); // 42n
 * pgTextToSqlite('{1,NULL,3}', 1007, opts); // '[1,null,3]'
 */
import { stringifyLosslessJson, type LosslessJsonValue } from '@syncline/protocol';
import { parsePgArrayLiteral, type PgArray } from './pg-array-literal.ts';
import { pgDateToText, pgTimestampToText, pgTimeToText } from './pg-datetime.ts';
import { PG_ARRAY_ELEMENT_OIDS, PgOid } from './pg-oids.ts';
import type { PgValueOptions } from './pg-value-options.ts';
import type { SqliteRow, SqliteValue } from './types.ts';

export type { PgValueOptions } from './pg-value-options.ts';

/** Resolves domains (with `customPostgresTypes`) to their base type. */
function resolveOid(oid: number, opts: PgValueOptions): number {
  if (!opts.customPostgresTypes || !opts.customTypes) return oid;
  for (let i = 0; i < 10; i++) {
    const t = opts.customTypes.get(oid);
    if (!t || t.kind !== 'domain') return oid;
    oid = t.baseOid;
  }
  return oid;
}

function arrayElementOid(oid: number, opts: PgValueOptions): number | undefined {
  const builtin = PG_ARRAY_ELEMENT_OIDS.get(oid);
  if (builtin !== undefined) return builtin;
  if (!opts.customPostgresTypes) return undefined;
  const t = opts.customTypes?.get(oid);
  return t?.kind === 'array' ? t.elementOid : undefined;
}

/** Decodes bytea text output: hex (`\x0a0b`) or the legacy escape format. */
export function decodeBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) return new Uint8Array(Buffer.from(text.slice(2), 'hex'));
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      if (c < 128) bytes.push(c);
      else bytes.push(...Buffer.from(text[i] as string, 'utf8'));
    } else if (text[i + 1] === '\\') {
      bytes.push(92);
      i++;
    } else {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return new Uint8Array(bytes);
}

function parseFloatText(text: string): number | null {
  if (text === 'NaN') return null;
  if (text === 'Infinity') return Infinity;
  if (text === '-Infinity') return -Infinity;
  const n = Number(text);
  return Number.isNaN(n) ? null : n;
}

function normaliseLsn(text: string): string {
  const [hi = '0', lo = '0'] = text.split('/');
  return `${hi.toUpperCase().padStart(8, '0')}/${lo.toUpperCase().padStart(8, '0')}`;
}

/** Converts one scalar (non-array) value. */
function scalarToSqlite(text: string, oid: number, opts: PgValueOptions): SqliteValue {
  switch (oid) {
    case PgOid.int2:
    case PgOid.int4:
    case PgOid.int8:
    case PgOid.oid:
      return BigInt(text);
    case PgOid.float4:
    case PgOid.float8:
      return parseFloatText(text);
    case PgOid.bool:
      return text === 't' || text === 'true' ? 1n : 0n;
    case PgOid.bytea:
      return decodeBytea(text);
    case PgOid.date:
      return pgDateToText(text);
    case PgOid.timestamp:
      return pgTimestampToText(text, false, opts);
    case PgOid.timestamptz:
      return pgTimestampToText(text, true, opts);
    case PgOid.time:
    case PgOid.timetz:
      return pgTimeToText(text, opts);
    case PgOid.pg_lsn:
      return normaliseLsn(text);
    default:
      return text;
  }
}

function arrayToJson(items: PgArray, elementOid: number, opts: PgValueOptions): LosslessJsonValue[] {
  return items.map((item): LosslessJsonValue => {
    if (item === null) return null;
    if (Array.isArray(item)) return arrayToJson(item, elementOid, opts);
    return scalarToSqlite(item, elementOid, opts);
  });
}

/**
 * Converts one value in Postgres text format. `null` is SQL NULL. Throws `ValueMappingError`
 * (code `SYNC_VALUE_TOO_DEEP`) for arrays nested deeper than 10 levels or malformed literals.
 */
export function pgTextToSqlite(text: string | null, typeOid: number, opts: PgValueOptions): SqliteValue {
  if (text === null) return null;
  const oid = resolveOid(typeOid, opts);
  const elementOid = arrayElementOid(oid, opts);
  if (elementOid === undefined) return scalarToSqlite(text, oid, opts);
  // box[] uses ';' as its delimiter; every other built-in type uses ','.
  const items = parsePgArrayLiteral(text, elementOid === 603 ? ';' : ',');
  return stringifyLosslessJson(arrayToJson(items, resolveOid(elementOid, opts), opts));
}

/**
 * Converts a row of text values. Column order is kept (it becomes the `*` column order).
 * Accepts `SyncRules` directly (it has `valueOptions`).
 */
export function pgRowToSqlite(
  columns: ReadonlyArray<{ name: string; typeOid: number }>,
  values: ReadonlyArray<string | null>,
  rules: { valueOptions: PgValueOptions } | PgValueOptions,
): SqliteRow {
  const opts = 'valueOptions' in rules ? rules.valueOptions : rules;
  const row: SqliteRow = {};
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i] as { name: string; typeOid: number };
    row[col.name] = pgTextToSqlite(values[i] ?? null, col.typeOid, opts);
  }
  return row;
}
