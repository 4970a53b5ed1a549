/**
 * SQLite value semantics used by sync-rule expressions: type names, truthiness, numeric
 * conversion, comparison and equality. `bigint` is INTEGER, `number` is REAL.
 */
import type { SqliteValue } from './types.ts';

export type SqliteType = 'null' | 'integer' | 'real' | 'text' | 'blob';

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;
export const SQL_TRUE = 1n;
export const SQL_FALSE = 0n;

export function sqliteTypeOf(v: SqliteValue): SqliteType {
  switch (typeof v) {
    case 'string':
      return 'text';
    case 'bigint':
      return 'integer';
    case 'number':
      return 'real';
    default:
      return v === null ? 'null' : 'blob';
  }
}

export function fromBoolean(b: boolean): bigint {
  return b ? SQL_TRUE : SQL_FALSE;
}

/** Three-valued truthiness: NULL → null; otherwise the numeric value ≠ 0 (text is parsed). */
export function toBoolean(v: SqliteValue): boolean | null {
  switch (typeof v) {
    case 'bigint':
      return v !== 0n;
    case 'number':
      return v !== 0;
    case 'string': {
      const n = parseNumericPrefix(v);
      return n !== 0 && n !== 0n;
    }
    default:
      if (v === null) return null;
      return toBoolean(textDecoder.decode(v));
  }
}

export const textEncoder = new TextEncoder();
export const textDecoder = new TextDecoder();

/** Clamps a bigint to the int64 range. */
export function clampInt64(n: bigint): bigint {
  return n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
}

const NUMERIC_PREFIX = /^[ \t\n\r\f\v]*([+-]?)(\d*)(\.\d*)?([eE][+-]?\d+)?/;

/**
 * Parses the longest numeric prefix of `text`, as SQLite does when text is used in arithmetic
 * (`'12abc' + 1` = 13, `'abc' + 1` = 1). Integer-looking prefixes that fit in int64 give INTEGER.
 */
export function parseNumericPrefix(text: string): bigint | number {
  const m = NUMERIC_PREFIX.exec(text);
  if (!m) return 0n;
  const [, sign = '', digits = '', frac, exp] = m;
  const fracDigits = frac !== undefined ? frac.slice(1) : '';
  if (digits === '' && fracDigits === '') return 0n;
  if (frac === undefined && exp === undefined) {
    const big = BigInt(sign + digits);
    if (big <= INT64_MAX && big >= INT64_MIN) return big;
    return Number(sign + digits);
  }
  return Number(`${sign}${digits || '0'}.${fracDigits || '0'}${exp ?? ''}`);
}

/**
 * Converts a value for arithmetic: NULL stays NULL, numbers stay, text and blobs are parsed with
 * {@link parseNumericPrefix}.
 */
export function toNumeric(v: SqliteValue): bigint | number | null {
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return v;
    case 'string':
      return parseNumericPrefix(v);
    default:
      return v === null ? null : parseNumericPrefix(textDecoder.decode(v));
  }
}

/** REAL → INTEGER conversion as SQLite does it (truncate toward zero, clamp to int64). */
export function realToInteger(n: number): bigint {
  if (Number.isNaN(n)) return 0n;
  if (n >= 2 ** 63) return INT64_MAX;
  if (n <= -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(n));
}

/** Wraps a bigint arithmetic result: in range → INTEGER, overflow → REAL (SQLite behaviour). */
export function integerResult(n: bigint): bigint | number {
  return n > INT64_MAX || n < INT64_MIN ? Number(n) : n;
}

function typeRank(v: SqliteValue): number {
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return 1;
    case 'string':
      return 2;
    default:
      return v === null ? 0 : 3;
  }
}

/** Compares an INTEGER with a REAL exactly. */
function compareIntReal(a: bigint, b: number): number {
  if (Number.isNaN(b)) return 1;
  if (b === Infinity) return -1;
  if (b === -Infinity) return 1;
  const bi = BigInt(Math.trunc(b));
  if (a !== bi) return a < bi ? -1 : 1;
  const frac = b - Math.trunc(b);
  return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/** BINARY collation: compares by Unicode code point, like memcmp over UTF-8. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8 byte order.
    if (ca >= 0xd800) ca = ca <= 0xdfff ? ca + 0x2000 : ca - 0x800;
    if (cb >= 0xd800) cb = cb <= 0xdfff ? cb + 0x2000 : cb - 0x800;
    return ca < cb ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Total order of SQLite values (NULL < numbers < text < blob), used by comparison operators
 * after NULL checks. Numbers compare by value across INTEGER and REAL.
 */
export function compareValues(a: SqliteValue, b: SqliteValue): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      if (typeof a === 'bigint') {
        if (typeof b === 'bigint') return a === b ? 0 : a < b ? -1 : 1;
        return compareIntReal(a, b as number);
      }
      if (typeof b === 'bigint') return -compareIntReal(b, a as number);
      return (a as number) === (b as number) ? 0 : (a as number) < (b as number) ? -1 : 1;
    case 2:
      return compareText(a as string, b as string);
    default:
      return compareBytes(a as Uint8Array, b as Uint8Array);
  }
}

/** SQL equality without NULL handling (callers check NULL first). `1 = 1.0` is true. */
export function valuesEqual(a: SqliteValue, b: SqliteValue): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === typeof b && ta !== 'object') return false;
  return compareValues(a, b) === 0;
}
