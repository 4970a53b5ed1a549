/**
 * Scalar SQL functions available in sync rules (reference §6.4). Each takes already-evaluated
 * arguments and never throws: invalid input yields NULL, as SQLite would for most of them.
 *
 * `upper`/`lower` use full Unicode case mapping (SQLite without ICU only maps ASCII).
 */
import { datetime, unixepoch } from './datetime-functions.ts';
import { stAsGeoJson, stAsText, stX, stY } from './geometry.ts';
import { jsonArrayLength, jsonExtract, jsonKeys, jsonValid } from './json-functions.ts';
import { castAsBlob, castAsText } from './sqlite-cast.ts';
import { sqliteTypeOf, textEncoder, toBoolean } from './sqlite-values.ts';
import type { SqliteValue } from './types.ts';

export interface ScalarFunction {
  minArgs: number;
  maxArgs: number;
  call(args: SqliteValue[]): SqliteValue;
}

function codePoints(s: string): string[] {
  return Array.from(s);
}

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

/** SQLite `substr(X, Y[, Z])` over characters (code points), 1-based, negative Y from the end. */
export function substring(value: SqliteValue, startValue: SqliteValue, lengthValue?: SqliteValue): SqliteValue {
  if (value === null || startValue === null || lengthValue === null) return null;
  const blob = value instanceof Uint8Array;
  const text = blob ? '' : (castAsText(value) as string);
  const chars: ArrayLike<unknown> = blob ? value : isAscii(text) ? text : codePoints(text);
  const len = chars.length;
  let start = Number(typeof startValue === 'bigint' ? startValue : Math.trunc(Number(castAsText(startValue))));
  let count = lengthValue === undefined ? Infinity : Number(typeof lengthValue === 'bigint' ? lengthValue : Math.trunc(Number(castAsText(lengthValue))));
  if (Number.isNaN(start)) start = 0;
  if (Number.isNaN(count)) count = 0;
  // Translate to a 0-based half-open range following SQLite's rules.
  let from: number;
  if (start > 0) from = start - 1;
  else if (start < 0) from = len + start;
  else {
    from = 0;
    if (count !== Infinity) count = count > 0 ? count - 1 : count;
  }
  let to: number;
  if (count < 0) {
    to = from;
    from = Math.max(0, from + count);
  } else {
    to = from + count;
  }
  if (from < 0) from = 0;
  to = Math.min(to, len);
  if (to <= from) return blob ? new Uint8Array() : '';
  if (blob) return (value as Uint8Array).slice(from, to);
  if (typeof chars === 'string') return chars.slice(from, to);
  return (chars as string[]).slice(from, to).join('');
}

function hex(v: SqliteValue): SqliteValue {
  if (v === null) return '';
  const bytes = v instanceof Uint8Array ? v : textEncoder.encode(castAsText(v) as string);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out.toUpperCase();
}

function length(v: SqliteValue): SqliteValue {
  if (v === null) return null;
  if (v instanceof Uint8Array) return BigInt(v.length);
  const text = castAsText(v) as string;
  return BigInt(isAscii(text) ? text.length : codePoints(text).length);
}

function base64(v: SqliteValue): SqliteValue {
  const bytes = castAsBlob(v);
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function uuidBlob(v: SqliteValue): SqliteValue {
  if (typeof v !== 'string') return null;
  const compact = v.replace(/[-{}]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(compact)) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(compact.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function instr(haystack: SqliteValue, needle: SqliteValue): SqliteValue {
  if (haystack === null || needle === null) return null;
  const h = castAsText(haystack) as string;
  const n = castAsText(needle) as string;
  const idx = h.indexOf(n);
  if (idx < 0) return 0n;
  return BigInt(isAscii(h) ? idx + 1 : codePoints(h.slice(0, idx)).length + 1);
}

const fn = (minArgs: number, maxArgs: number, call: (args: SqliteValue[]) => SqliteValue): ScalarFunction => ({ minArgs, maxArgs, call });
const a = (args: SqliteValue[], i: number): SqliteValue => args[i] ?? null;

/** Registry by lower-case name. */
export const SCALAR_FUNCTIONS: ReadonlyMap<string, ScalarFunction> = new Map<string, ScalarFunction>([
  ['upper', fn(1, 1, (x) => (a(x, 0) === null ? null : (castAsText(a(x, 0)) as string).toUpperCase()))],
  ['lower', fn(1, 1, (x) => (a(x, 0) === null ? null : (castAsText(a(x, 0)) as string).toLowerCase()))],
  ['substring', fn(2, 3, (x) => substring(a(x, 0), a(x, 1), x.length > 2 ? a(x, 2) : undefined))],
  ['substr', fn(2, 3, (x) => substring(a(x, 0), a(x, 1), x.length > 2 ? a(x, 2) : undefined))],
  ['hex', fn(1, 1, (x) => hex(a(x, 0)))],
  ['length', fn(1, 1, (x) => length(a(x, 0)))],
  ['base64', fn(1, 1, (x) => base64(a(x, 0)))],
  ['uuid_blob', fn(1, 1, (x) => uuidBlob(a(x, 0)))],
  ['typeof', fn(1, 1, (x) => sqliteTypeOf(a(x, 0)))],
  ['ifnull', fn(2, 2, (x) => (a(x, 0) !== null ? a(x, 0) : a(x, 1)))],
  ['iif', fn(3, 3, (x) => (toBoolean(a(x, 0)) === true ? a(x, 1) : a(x, 2)))],
  ['instr', fn(2, 2, (x) => instr(a(x, 0), a(x, 1)))],
  ['json_extract', fn(2, Infinity, (x) => jsonExtract(a(x, 0), x.slice(1)))],
  ['json_array_length', fn(1, 2, (x) => jsonArrayLength(a(x, 0), x.length > 1 ? a(x, 1) : undefined))],
  ['json_valid', fn(1, 1, (x) => jsonValid(a(x, 0)))],
  ['json_keys', fn(1, 2, (x) => jsonKeys(a(x, 0), x.length > 1 ? a(x, 1) : undefined))],
  ['unixepoch', fn(1, Infinity, (x) => unixepoch(x))],
  ['datetime', fn(1, Infinity, (x) => datetime(x))],
  ['st_asgeojson', fn(1, 1, (x) => stAsGeoJson(a(x, 0)))],
  ['st_astext', fn(1, 1, (x) => stAsText(a(x, 0)))],
  ['st_x', fn(1, 1, (x) => stX(a(x, 0)))],
  ['st_y', fn(1, 1, (x) => stY(a(x, 0)))],
]);
