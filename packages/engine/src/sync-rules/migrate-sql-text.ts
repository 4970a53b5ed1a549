/**
 * Text surgery on sync-rules SQL for the Sync Streams migration: the converter keeps the
 * author's SQL as written and only replaces the parts that change (`request.*` → `auth.*` /
 * `connection.*`, `bucket.<p>` → its source), so the migrated YAML reads like the original and
 * the diff stays small. Pure.
 *
 * pgsql-ast-parser's `_location` ranges exclude parentheses around a sub-expression, so a node's
 * range can start or end inside a parenthesised group (`(a) OR (b)` → `a) OR (b`); {@link spanOf}
 * widens such ranges until the parentheses balance.
 */

export interface Range {
  start: number;
  end: number;
}

export interface TextEdit extends Range {
  text: string;
}

interface Located {
  _location?: Range;
}

/** Skips a quoted literal or identifier starting at `i`; returns the index after it. */
function skipQuoted(sql: string, i: number): number {
  const quote = sql[i];
  let j = i + 1;
  while (j < sql.length) {
    if (sql[j] === quote) {
      if (sql[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return j;
}

/** The node's source range, widened so that its parentheses balance. */
export function spanOf(sql: string, node: unknown): Range {
  const loc = (node as Located)._location;
  if (!loc) throw new Error('SQL node without a location');
  let { start, end } = loc;
  let depth = 0;
  let min = 0;
  for (let i = start; i < end; ) {
    const c = sql[i];
    if (c === "'" || c === '"') {
      i = skipQuoted(sql, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') min = Math.min(min, --depth);
    i++;
  }
  // `-min` opening parentheses are missing before the range, `depth - min` closing ones after it.
  for (let open = -min; open > 0 && start > 0; ) {
    start--;
    if (sql[start] === '(') open--;
    else if (!/\s/.test(sql[start] as string)) break;
  }
  for (let close = depth - min; close > 0 && end < sql.length; ) {
    if (sql[end] === ')') close--;
    else if (!/\s/.test(sql[end] as string)) break;
    end++;
  }
  return { start, end };
}

/** The text of `range` with `edits` (inside it, non-overlapping) applied. */
export function renderRange(sql: string, range: Range, edits: readonly TextEdit[]): string {
  // Same start: insertions first, then the longer (outer) edit, whose inner edits are skipped.
  const width = (e: TextEdit) => (e.end === e.start ? -1 : e.end - e.start);
  const inside = edits.filter((e) => e.start >= range.start && e.end <= range.end).sort((a, b) => a.start - b.start || (width(a) === -1 ? -1 : width(b) === -1 ? 1 : width(b) - width(a)));
  let out = '';
  let at = range.start;
  for (const e of inside) {
    if (e.start < at) continue; // overlapping edit: the outer one already replaced this text
    out += sql.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + sql.slice(at, range.end);
}

/** Single-quoted SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** True for nodes that never need parentheses when embedded in a larger expression. */
export function isAtomic(node: unknown): boolean {
  const type = (node as { type?: string }).type;
  return type === 'ref' || type === 'call' || type === 'string' || type === 'integer' || type === 'numeric' || type === 'boolean' || type === 'null' || type === 'parameter';
}

/**
 * True when `text` is one atom: an identifier, a literal, a call (`auth.parameter('k')`) or
 * an already parenthesised expression.
 */
export function isAtomicText(text: string): boolean {
  if (/^[A-Za-z_][\w.]*$/.test(text) || /^-?\d+(\.\d+)?$/.test(text) || /^'([^']|'')*'$/.test(text)) return true;
  const open = /^[A-Za-z_][\w.]*\(|^\(/.exec(text);
  if (!open || !text.endsWith(')')) return false;
  let depth = 0;
  for (let i = open[0].length - 1; i < text.length; ) {
    const c = text[i];
    if (c === "'" || c === '"') {
      i = skipQuoted(text, i);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i === text.length - 1;
    i++;
  }
  return false;
}

/** `text` wrapped in parentheses unless it is a single atom. */
export function parenthesize(text: string, atomic: boolean): string {
  return atomic ? text : `(${text})`;
}

/**
 * Visits every AST node below `root` (objects with a `type`, plus nested arrays); `visit` returns
 * false to skip a node's children.
 */
export function walkSql(root: unknown, visit: (node: Record<string, unknown>) => boolean): void {
  if (root === null || typeof root !== 'object') return;
  if (Array.isArray(root)) {
    for (const item of root) walkSql(item, visit);
    return;
  }
  const node = root as Record<string, unknown>;
  if (typeof node['type'] === 'string' && !visit(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key !== '_location' && typeof value === 'object') walkSql(value, visit);
  }
}
