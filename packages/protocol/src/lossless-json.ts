/**
 * Lossless JSON for row data (reference §2, `data` field).
 *
 * Number model (SQLite's): `bigint` is an INTEGER and prints as a plain integer, exactly, at any
 * size; `number` is a REAL and whole values print with `.0` (`3` → `3.0`). Strings are escaped
 * exactly like `JSON.stringify`. Object key order is preserved. Blobs (`Uint8Array`) are dropped
 * from objects (and written as `null` inside arrays), matching how rows are synced.
 *
 * The exact bytes matter: the PUT checksum hashes them.
 *
 * @example
 * stringifySqliteRow({ id: 't1', n: 12345678901234567890n, r: 3 }); // {"id":"t1","n":12345678901234567890,"r":3.0}
 * parseLosslessJson('{"n":12345678901234567890}'); // { n: 12345678901234567890n }
 */

/** Any value the writer accepts. `number` = REAL, `bigint` = INTEGER. */
export type LosslessJsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | LosslessJsonValue[]
  | { [key: string]: LosslessJsonValue | undefined };

/** A flat row of SQLite values (structurally the engine's `SqliteRow`). */
export type SqliteJsonRow = Record<string, string | number | bigint | Uint8Array | null>;

/** Error thrown by {@link parseLosslessJson} for malformed input. */
export class LosslessJsonSyntaxError extends SyntaxError {
  readonly code = 'JSON_SYNTAX_ERROR' as const;
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'LosslessJsonSyntaxError';
  }
}

/** Writes a REAL: whole values get `.0`; non-finite values become `null` (NaN) or `±9e999`. */
export function stringifyReal(n: number): string {
  if (Number.isInteger(n)) {
    // `String(1e21)` is already exponent form, which JSON reads back as a real.
    const s = String(n);
    return s.includes('e') ? s : `${s}.0`;
  }
  if (Number.isFinite(n)) return String(n);
  if (Number.isNaN(n)) return 'null';
  return n > 0 ? '9e999' : '-9e999';
}

// Characters JSON.stringify escapes (quote, backslash, controls) and surrogates (lone ones are
// escaped; paired ones take the slow path too, which is still correct).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(s)` for a string, with a fast path for text that needs no escaping. */
export function quoteJsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

const keyCache = new Map<string, string>();

/** `"key":` for a column name, cached (column names repeat on every row). */
export function jsonKeyPrefix(key: string): string {
  let prefix = keyCache.get(key);
  if (prefix === undefined) {
    prefix = `${JSON.stringify(key)}:`;
    if (keyCache.size < 10_000) keyCache.set(key, prefix);
  }
  return prefix;
}

/** Writes a SQLite scalar; returns undefined for blobs (which are skipped). */
export function stringifySqliteValue(value: string | number | bigint | Uint8Array | null): string | undefined {
  switch (typeof value) {
    case 'string':
      return quoteJsonString(value);
    case 'bigint':
      return value.toString();
    case 'number':
      return stringifyReal(value);
    default:
      return value === null ? 'null' : undefined;
  }
}

/**
 * Serialises one flat row (the hot path of replication). Blob columns are omitted, key order is
 * the row's insertion order.
 */
export function stringifySqliteRow(row: SqliteJsonRow): string {
  let out = '';
  for (const key in row) {
    const text = stringifySqliteValue(row[key] as string | number | bigint | Uint8Array | null);
    if (text === undefined) continue;
    out += (out === '' ? '{' : ',') + jsonKeyPrefix(key) + text;
  }
  return out === '' ? '{}' : `${out}}`;
}

/** Serialises any nested value with the lossless number model described above. */
export function stringifyLosslessJson(value: LosslessJsonValue): string {
  return write(value, 0) ?? 'null';
}

function write(value: LosslessJsonValue | undefined, depth: number): string | undefined {
  if (depth > 1000) throw new RangeError('JSON value nested too deeply');
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return stringifySqliteValue(value);
  if (Array.isArray(value)) {
    return '[' + value.map((v) => write(v, depth + 1) ?? 'null').join(',') + ']';
  }
  const parts: string[] = [];
  for (const key of Object.keys(value)) {
    const text = write(value[key], depth + 1);
    if (text !== undefined) parts.push(JSON.stringify(key) + ':' + text);
  }
  return '{' + parts.join(',') + '}';
}

/** A parsed JSON value. Integers are `number` or `bigint` depending on the parse mode. */
export type ParsedJsonValue = null | boolean | number | bigint | string | ParsedJsonValue[] | { [key: string]: ParsedJsonValue };

export interface LosslessParseOptions {
  /**
   * - `'unsafe'` (default): integers beyond ±(2^53−1) become `bigint`, others `number`.
   * - `'bigint'`: every integer literal (no `.`, no exponent) becomes `bigint`; reals stay
   *   `number`. This is SQLite's INTEGER/REAL distinction and round-trips the writer exactly.
   */
  integers?: 'unsafe' | 'bigint';
}

/**
 * Parses JSON without losing integer precision. Throws {@link LosslessJsonSyntaxError}.
 * Duplicate keys: the last one wins (like `JSON.parse`); `__proto__` is stored as a normal key.
 */
export function parseLosslessJson(text: string, options?: LosslessParseOptions): ParsedJsonValue {
  const parser = new Parser(text, options?.integers === 'bigint');
  parser.skipWs();
  const value = parser.value(0);
  parser.skipWs();
  if (parser.pos < text.length) throw new LosslessJsonSyntaxError('Unexpected trailing characters', parser.pos);
  return value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

class Parser {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly allBigint: boolean,
  ) {}

  skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): ParsedJsonValue {
    if (depth > 1000) throw new LosslessJsonSyntaxError('JSON nested too deeply', this.pos);
    const c = this.text.charCodeAt(this.pos);
    if (c === 34 /* " */) return this.string();
    if (c === 123 /* { */) return this.object(depth);
    if (c === 91 /* [ */) return this.array(depth);
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) return this.number();
    if (this.text.startsWith('true', this.pos)) return this.literal(4, true);
    if (this.text.startsWith('false', this.pos)) return this.literal(5, false);
    if (this.text.startsWith('null', this.pos)) return this.literal(4, null);
    throw new LosslessJsonSyntaxError(Number.isNaN(c) ? 'Unexpected end of JSON' : 'Unexpected character', this.pos);
  }

  private literal<T>(length: number, value: T): T {
    this.pos += length;
    return value;
  }

  private object(depth: number): { [key: string]: ParsedJsonValue } {
    const result: { [key: string]: ParsedJsonValue } = {};
    this.pos++;
    this.skipWs();
    if (this.text.charCodeAt(this.pos) === 125) {
      this.pos++;
      return result;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 34) throw new LosslessJsonSyntaxError('Expected a string key', this.pos);
      const key = this.string();
      this.skipWs();
      if (this.text.charCodeAt(this.pos) !== 58) throw new LosslessJsonSyntaxError("Expected ':'", this.pos);
      this.pos++;
      this.skipWs();
      const item = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(result, key, { value: item, enumerable: true, writable: true, configurable: true });
      else result[key] = item;
      this.skipWs();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 125) return result;
      if (c !== 44) throw new LosslessJsonSyntaxError("Expected ',' or '}'", this.pos - 1);
      this.skipWs();
    }
  }

  private array(depth: number): ParsedJsonValue[] {
    const result: ParsedJsonValue[] = [];
    this.pos++;
    this.skipWs();
    if (this.text.charCodeAt(this.pos) === 93) {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value(depth + 1));
      this.skipWs();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 93) return result;
      if (c !== 44) throw new LosslessJsonSyntaxError("Expected ',' or ']'", this.pos - 1);
      this.skipWs();
    }
  }

  private string(): string {
    const t = this.text;
    const start = ++this.pos;
    let p = start;
    // Fast path: no escapes.
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 34) {
        this.pos = p + 1;
        return t.slice(start, p);
      }
      if (c === 92 || c < 32 || Number.isNaN(c)) break;
      p++;
    }
    let end = p;
    for (;;) {
      const c = t.charCodeAt(end);
      if (Number.isNaN(c)) throw new LosslessJsonSyntaxError('Unterminated string', end);
      if (c < 32) throw new LosslessJsonSyntaxError('Control character in string', end);
      if (c === 92) end += 2;
      else if (c === 34) break;
      else end++;
    }
    this.pos = end + 1;
    try {
      return JSON.parse(t.slice(start - 1, end + 1)) as string;
    } catch {
      throw new LosslessJsonSyntaxError('Invalid escape in string', start);
    }
  }

  private number(): number | bigint {
    const t = this.text;
    const start = this.pos;
    let p = start;
    if (t.charCodeAt(p) === 45) p++;
    const intStart = p;
    while (isDigit(t.charCodeAt(p))) p++;
    if (p === intStart) throw new LosslessJsonSyntaxError('Invalid number', start);
    if (p - intStart > 1 && t.charCodeAt(intStart) === 48) throw new LosslessJsonSyntaxError('Leading zero in number', start);
    let isInteger = true;
    if (t.charCodeAt(p) === 46) {
      isInteger = false;
      p++;
      const fracStart = p;
      while (isDigit(t.charCodeAt(p))) p++;
      if (p === fracStart) throw new LosslessJsonSyntaxError('Invalid number', start);
    }
    const e = t.charCodeAt(p);
    if (e === 101 || e === 69) {
      isInteger = false;
      p++;
      const s = t.charCodeAt(p);
      if (s === 43 || s === 45) p++;
      const expStart = p;
      while (isDigit(t.charCodeAt(p))) p++;
      if (p === expStart) throw new LosslessJsonSyntaxError('Invalid number', start);
    }
    this.pos = p;
    const literal = t.slice(start, p);
    if (!isInteger) return Number(literal);
    if (this.allBigint) return BigInt(literal);
    if (p - intStart < 16) return Number(literal);
    const big = BigInt(literal);
    return big > MAX_SAFE || big < -MAX_SAFE ? big : Number(big);
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
