/**
 * Parser for Postgres array literals in text format: `{1,2}`, `{"a b","c\"d",NULL}`,
 * `{{1,2},{3,4}}`, with an optional dimension prefix (`[0:1]={…}`).
 */
import { ValueMappingError } from './errors.ts';

export type PgArray = Array<string | null | PgArray>;

/** Maximum nesting depth of arrays (reference §6.5: deeper values are an error). */
export const MAX_ARRAY_DEPTH = 10;

export function parsePgArrayLiteral(text: string, delimiter = ','): PgArray {
  let pos = 0;
  if (text[0] === '[') {
    const eq = text.indexOf('=');
    if (eq < 0) throw new ValueMappingError(`Malformed array literal: ${text.slice(0, 40)}`);
    pos = eq + 1;
  }
  const fail = (): never => {
    throw new ValueMappingError(`Malformed array literal at offset ${pos}: ${text.slice(0, 40)}`);
  };

  const skipWs = () => {
    while (pos < text.length && /\s/.test(text[pos] as string)) pos++;
  };

  const parseArray = (depth: number): PgArray => {
    if (depth > MAX_ARRAY_DEPTH) throw new ValueMappingError(`Array nested deeper than ${MAX_ARRAY_DEPTH} levels`);
    if (text[pos] !== '{') fail();
    pos++;
    const out: PgArray = [];
    skipWs();
    if (text[pos] === '}') {
      pos++;
      return out;
    }
    for (;;) {
      skipWs();
      const c = text[pos];
      if (c === '{') out.push(parseArray(depth + 1));
      else if (c === '"') out.push(parseQuoted());
      else out.push(parseUnquoted());
      skipWs();
      const next = text[pos++];
      if (next === '}') return out;
      if (next !== delimiter) fail();
    }
  };

  const parseQuoted = (): string => {
    pos++;
    let out = '';
    for (;;) {
      const c = text[pos++];
      if (c === undefined) fail();
      if (c === '"') return out;
      if (c === '\\') {
        const escaped = text[pos++];
        if (escaped === undefined) fail();
        out += escaped;
      } else {
        out += c;
      }
    }
  };

  const parseUnquoted = (): string | null => {
    let out = '';
    while (pos < text.length) {
      const c = text[pos] as string;
      if (c === delimiter || c === '}') break;
      if (c === '\\') {
        out += text[pos + 1] ?? '';
        pos += 2;
        continue;
      }
      out += c;
      pos++;
    }
    const trimmed = out.trim();
    if (trimmed === '') fail();
    return trimmed.toUpperCase() === 'NULL' ? null : trimmed;
  };

  skipWs();
  const result = parseArray(1);
  skipWs();
  if (pos !== text.length) fail();
  return result;
}
