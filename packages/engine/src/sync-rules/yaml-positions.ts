/**
 * Maps offsets inside a YAML scalar's *value* (e.g. a SQL query) back to offsets in the YAML
 * text, for any scalar style (plain, quoted with escapes, literal `|` or folded `>` blocks).
 *
 * The value and the source differ by indentation, quotes, escapes and line folding, so the
 * mapping aligns them greedily: each value character is matched to the next equal source
 * character (any whitespace matches any whitespace). That is exact for the common cases and
 * within a few characters for exotic escapes.
 */
import type { OffsetMapper } from './sql-issues.ts';

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r';
}

const SEARCH_WINDOW = 64;

export function scalarOffsetMapper(yamlText: string, rangeStart: number, rangeEnd: number, value: string): OffsetMapper {
  const src = yamlText.slice(rangeStart, rangeEnd);
  const map = new Int32Array(value.length + 1);
  let j = 0;
  const head = src[0];
  if (head === '|' || head === '>') {
    const nl = src.indexOf('\n');
    j = nl < 0 ? src.length : nl + 1;
  } else if (head === '"' || head === "'") {
    j = 1;
  }
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    const ws = isWs(c);
    let found = -1;
    for (let k = j; k < src.length && k - j < SEARCH_WINDOW; k++) {
      const s = src[k];
      if (s === c || (ws && isWs(s))) {
        found = k;
        break;
      }
    }
    if (found >= 0) {
      map[i] = found;
      j = found + 1;
    } else {
      map[i] = Math.min(j, Math.max(src.length - 1, 0));
    }
  }
  map[value.length] = Math.min(j, src.length);
  const at = (i: number) => map[Math.max(0, Math.min(i, value.length))] as number;
  return (start, end) => {
    const s = at(start);
    const e = end > start ? at(end - 1) + 1 : s;
    return { start: rangeStart + s, end: rangeStart + Math.max(e, s) };
  };
}
