/**
 * `CAST(x AS text|numeric|integer|real|blob)` with SQLite semantics, and the text form of values
 * (used by `||`, text functions and output ids).
 */
import { INT64_MAX, INT64_MIN, parseNumericPrefix, realToInteger, textDecoder, textEncoder } from './sqlite-values.ts';
import type { SqliteValue } from './types.ts';

/** The CAST target types legacy sync rules allow. */
export const CAST_TYPES = ['text', 'numeric', 'integer', 'real', 'blob'] as const;
export type CastType = (typeof CAST_TYPES)[number];

/**
 * Text form of a REAL like SQLite's `%!.15g`: 15 significant digits, always a decimal point
 * (`3.0`, `0.1`, `1.0e+20`, `1.5e-07`).
 */
export function realToText(n: number): string {
  if (Number.isNaN(n)) return '';
  if (n === Infinity) return 'Inf';
  if (n === -Infinity) return '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa = '', expText = '0'] = n.toExponential(14).split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 15) {
    const frac = digits.slice(1) || '0';
    const e = Math.abs(exp);
    return `${sign}${digits[0]}.${frac}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fracPart = digits.slice(exp + 1) || '0';
  return `${sign}${intPart}.${fracPart}`;
}

/** CAST(v AS TEXT). */
export function castAsText(v: SqliteValue): string | null {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return realToText(v);
    default:
      return v === null ? null : textDecoder.decode(v);
  }
}

const INTEGER_PREFIX = /^[ \t\n\r\f\v]*([+-]?\d+)/;

/** CAST(v AS INTEGER): longest integer prefix of text, reals truncated, clamped to int64. */
export function castAsInteger(v: SqliteValue): bigint | null {
  switch (typeof v) {
    case 'bigint':
      return v;
    case 'number':
      return realToInteger(v);
    case 'string': {
      const m = INTEGER_PREFIX.exec(v);
      if (!m) return 0n;
      const big = BigInt(m[1] as string);
      return big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big;
    }
    default:
      return v === null ? null : castAsInteger(textDecoder.decode(v));
  }
}

/** CAST(v AS REAL). */
export function castAsReal(v: SqliteValue): number | null {
  switch (typeof v) {
    case 'bigint':
      return Number(v);
    case 'number':
      return v;
    case 'string':
      return Number(parseNumericPrefix(v));
    default:
      return v === null ? null : castAsReal(textDecoder.decode(v));
  }
}

/**
 * CAST(v AS NUMERIC): text becomes INTEGER when it reads as an integer (or a whole real that fits
 * in int64), otherwise REAL. INTEGER and REAL inputs are unchanged.
 */
export function castAsNumeric(v: SqliteValue): bigint | number | null {
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return v;
    case 'string': {
      const n = parseNumericPrefix(v);
      if (typeof n === 'number' && Number.isInteger(n) && n <= 9.223372036854775e18 && n >= -9.223372036854775e18) {
        return BigInt(n);
      }
      return n;
    }
    default:
      return v === null ? null : castAsNumeric(textDecoder.decode(v));
  }
}

/** CAST(v AS BLOB): the UTF-8 bytes of the text form. */
export function castAsBlob(v: SqliteValue): Uint8Array | null {
  if (v === null) return null;
  if (v instanceof Uint8Array) return v;
  return textEncoder.encode(castAsText(v) as string);
}

export function castValue(v: SqliteValue, type: CastType): SqliteValue {
  switch (type) {
    case 'text':
      return castAsText(v);
    case 'integer':
      return castAsInteger(v);
    case 'real':
      return castAsReal(v);
    case 'numeric':
      return castAsNumeric(v);
    case 'blob':
      return castAsBlob(v);
  }
}

/** Normalises a type name from SQL (`TEXT`, `int`…) to a supported CAST type, or null. */
export function castTypeFromName(name: string): CastType | null {
  const lower = name.toLowerCase();
  return (CAST_TYPES as readonly string[]).includes(lower) ? (lower as CastType) : null;
}
