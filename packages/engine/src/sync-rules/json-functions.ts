/**
 * JSON operators and functions: `->`, `->>`, `json_extract`, `json_array_length`, `json_valid`,
 * `json_keys`, `json_each` and JSON-array membership for `IN` / `&&`.
 *
 * JSON is parsed losslessly: integers become INTEGER (`bigint`), other numbers REAL. Malformed JSON
 * yields NULL (SQLite raises an error; sync rules must not fail replication on one bad value).
 */
import { parseLosslessJson, stringifyLosslessJson, type ParsedJsonValue } from '@syncline/protocol';
import { castAsText } from './sqlite-cast.ts';
import { SQL_FALSE, SQL_TRUE, valuesEqual } from './sqlite-values.ts';
import type { SqliteValue } from './types.ts';

type JsonValue = ParsedJsonValue;
const MISSING = Symbol('missing');
type Lookup = JsonValue | typeof MISSING;

// One-entry cache: rules often extract several keys from the same JSON column or claim set.
let cachedText: string | null = null;
let cachedValue: Lookup = MISSING;

/** Parses JSON text (INTEGER-preserving); MISSING when the value is not valid JSON text. */
export function parseJsonValue(v: SqliteValue): Lookup {
  if (v === null) return MISSING;
  const text = typeof v === 'string' ? v : castAsText(v);
  if (text === null) return MISSING;
  if (text === cachedText) return cachedValue;
  let parsed: Lookup;
  try {
    parsed = parseLosslessJson(text, { integers: 'bigint' });
  } catch {
    parsed = MISSING;
  }
  if (text.length < 65536) {
    cachedText = text;
    cachedValue = parsed;
  }
  return parsed;
}

/** Converts a JSON value to a SQL value: true/false → 1/0, objects/arrays → JSON text. */
export function jsonToSqlite(v: JsonValue): SqliteValue {
  if (v === null) return null;
  switch (typeof v) {
    case 'boolean':
      return v ? SQL_TRUE : SQL_FALSE;
    case 'string':
    case 'number':
    case 'bigint':
      return v;
    default:
      return stringifyLosslessJson(v);
  }
}

/** JSON text of a JSON value (the `->` result). */
export function jsonToText(v: JsonValue): string {
  return stringifyLosslessJson(v);
}

function step(v: JsonValue, key: string | number): Lookup {
  if (typeof key === 'number') {
    if (!Array.isArray(v)) return MISSING;
    const i = key < 0 ? v.length + key : key;
    return i >= 0 && i < v.length ? (v[i] as JsonValue) : MISSING;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return MISSING;
  return Object.prototype.hasOwnProperty.call(v, key) ? (v[key] as JsonValue) : MISSING;
}

/**
 * Parses a SQLite JSON path (`$`, `.key`, `."quoted key"`, `[N]`, `[#-N]`) into steps. Negative
 * numbers index from the end. Returns null for a malformed path.
 */
export function parseJsonPath(path: string): Array<string | number> | null {
  if (!path.startsWith('$')) return null;
  const steps: Array<string | number> = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      if (path[i] === '"') {
        const end = path.indexOf('"', i + 1);
        if (end < 0) return null;
        steps.push(path.slice(i + 1, end));
        i = end + 1;
      } else {
        let end = i;
        while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
        if (end === i) return null;
        steps.push(path.slice(i, end));
        i = end;
      }
    } else if (c === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) return null;
      const inner = path.slice(i + 1, end);
      const m = /^(?:#-(\d+)|(\d+))$/.exec(inner);
      if (!m) return null;
      steps.push(m[1] !== undefined ? -Number(m[1]) : Number(m[2]));
      i = end + 1;
    } else {
      return null;
    }
  }
  return steps;
}

function walk(root: JsonValue, steps: ReadonlyArray<string | number>): Lookup {
  let v: Lookup = root;
  for (const s of steps) {
    if (v === MISSING) return MISSING;
    v = step(v, s);
  }
  return v;
}

/** Path steps of the right-hand side of `->`/`->>`. */
function operatorSteps(rhs: SqliteValue, fixedJsonExtract: boolean): Array<string | number> | null {
  if (typeof rhs === 'bigint') return [Number(rhs)];
  if (typeof rhs === 'number') return Number.isInteger(rhs) ? [rhs] : null;
  if (typeof rhs !== 'string') return null;
  if (fixedJsonExtract) {
    // Fixed mode: a path only when it starts with `$`, otherwise one literal key.
    return rhs.startsWith('$') ? parseJsonPath(rhs) : [rhs];
  }
  // Legacy mode: dots always split the key.
  const body = rhs.startsWith('$.') ? rhs.slice(2) : rhs === '$' ? '' : rhs;
  return body === '' ? [] : body.split('.');
}

/** `json -> path`: the JSON text of the selected value, NULL when absent. */
export function jsonArrow(json: SqliteValue, rhs: SqliteValue, fixedJsonExtract: boolean): SqliteValue {
  const root = parseJsonValue(json);
  if (root === MISSING) return null;
  const steps = operatorSteps(rhs, fixedJsonExtract);
  if (!steps) return null;
  const v = walk(root, steps);
  return v === MISSING ? null : jsonToText(v);
}

/**
 * `json ->> path`: the selected value as a SQL value. Legacy mode (without `fixed_json_extract`)
 * returns a JSON `null` as the text `'null'`; fixed mode returns SQL NULL.
 */
export function jsonArrow2(json: SqliteValue, rhs: SqliteValue, fixedJsonExtract: boolean): SqliteValue {
  const root = parseJsonValue(json);
  if (root === MISSING) return null;
  const steps = operatorSteps(rhs, fixedJsonExtract);
  if (!steps) return null;
  const v = walk(root, steps);
  if (v === MISSING) return null;
  if (v === null && !fixedJsonExtract) return 'null';
  return jsonToSqlite(v);
}

/** `json_extract(json, path, ...)`: one path → SQL value; several → JSON array text. */
export function jsonExtract(json: SqliteValue, paths: SqliteValue[]): SqliteValue {
  const root = parseJsonValue(json);
  if (root === MISSING) return null;
  const results: JsonValue[] = [];
  for (const p of paths) {
    if (typeof p !== 'string') return null;
    const steps = parseJsonPath(p);
    if (!steps) return null;
    const v = walk(root, steps);
    if (paths.length === 1) return v === MISSING ? null : jsonToSqlite(v);
    results.push(v === MISSING ? null : v);
  }
  return jsonToText(results);
}

function atPath(json: SqliteValue, path: SqliteValue | undefined): Lookup {
  const root = parseJsonValue(json);
  if (root === MISSING || path === undefined) return root;
  if (typeof path !== 'string') return MISSING;
  const steps = parseJsonPath(path);
  return steps ? walk(root, steps) : MISSING;
}

/** `json_array_length(json [, path])`: element count, 0 for non-arrays, NULL when absent. */
export function jsonArrayLength(json: SqliteValue, path?: SqliteValue): SqliteValue {
  const v = atPath(json, path);
  if (v === MISSING) return null;
  return Array.isArray(v) ? BigInt(v.length) : 0n;
}

/** `json_valid(x)`: 1 when x is well-formed JSON text. */
export function jsonValid(x: SqliteValue): SqliteValue {
  if (x === null) return null;
  return typeof x === 'string' && parseJsonValue(x) !== MISSING ? SQL_TRUE : SQL_FALSE;
}

/** `json_keys(json [, path])`: JSON array of an object's keys; NULL for non-objects. */
export function jsonKeys(json: SqliteValue, path?: SqliteValue): SqliteValue {
  const v = atPath(json, path);
  if (v === MISSING || v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  return jsonToText(Object.keys(v));
}

/** Rows of `json_each(json)`: `{key, value}` per array element or object member. */
export function jsonEach(json: SqliteValue): Array<{ key: SqliteValue; value: SqliteValue }> {
  const v = parseJsonValue(json);
  if (v === MISSING || v === null || typeof v !== 'object') return [];
  if (Array.isArray(v)) return v.map((item, i) => ({ key: BigInt(i), value: jsonToSqlite(item) }));
  return Object.keys(v).map((k) => ({ key: k, value: jsonToSqlite(v[k] as JsonValue) }));
}

/**
 * Elements of a JSON array as SQL values, or null when `v` is not a JSON array text. Used by
 * `x IN <json array>` and `&&`.
 */
export function jsonArrayElements(v: SqliteValue): SqliteValue[] | null {
  const parsed = parseJsonValue(v);
  if (parsed === MISSING || !Array.isArray(parsed)) return null;
  return parsed.map(jsonToSqlite);
}

/** `x IN <json array text>`: NULL if x is NULL, 1 if any element equals x, else 0. */
export function jsonArrayContains(array: SqliteValue, x: SqliteValue): SqliteValue {
  if (x === null || array === null) return null;
  const items = jsonArrayElements(array);
  if (!items) return SQL_FALSE;
  for (const item of items) if (item !== null && valuesEqual(item, x)) return SQL_TRUE;
  return SQL_FALSE;
}

/** `a && b` for JSON arrays: 1 when they share an element. */
export function jsonArrayOverlap(a: SqliteValue, b: SqliteValue): SqliteValue {
  if (a === null || b === null) return null;
  const left = jsonArrayElements(a);
  const right = jsonArrayElements(b);
  if (!left || !right) return SQL_FALSE;
  for (const x of left) {
    if (x === null) continue;
    for (const y of right) if (y !== null && valuesEqual(x, y)) return SQL_TRUE;
  }
  return SQL_FALSE;
}
