/**
 * Multi-row statements: one `INSERT … VALUES (…), (…), …` or `WITH k AS (VALUES …)` lookup per
 * chunk of rows instead of one statement execution per row. In a large download the per-row
 * calls (bind, step, reset through the adapter) cost more than the B-tree work itself; a chunk of
 * {@link MULTI_ROW_CHUNK} rows keeps the parameter count (≤ 100 × columns) far below SQLite's
 * 32,766-variable limit and the statement text small enough to stay in the adapter's cache.
 */
import type { SqliteValue } from './sqlite-adapter.ts';

/** Rows per multi-row statement. */
export const MULTI_ROW_CHUNK = 100;

const placeholderCache = new Map<string, string>();

/** `(?, ?), (?, ?), …` for `rows` rows of `columns` parameters each. */
export function valuesPlaceholders(rows: number, columns: number): string {
  const cacheKey = `${rows}x${columns}`;
  let text = placeholderCache.get(cacheKey);
  if (text === undefined) {
    const row = `(${new Array<string>(columns).fill('?').join(', ')})`;
    text = new Array<string>(rows).fill(row).join(', ');
    placeholderCache.set(cacheKey, text);
  }
  return text;
}

/** Consecutive slices of at most `size` items (none for an empty list). */
export function* chunked<T>(items: readonly T[], size: number = MULTI_ROW_CHUNK): Generator<readonly T[]> {
  for (let at = 0; at < items.length; at += size) yield items.slice(at, at + size);
}

/** The parameters of a chunk of rows, flattened in row order (for {@link valuesPlaceholders}). */
export function flatParams<T>(rows: readonly T[], toParams: (row: T) => readonly SqliteValue[]): SqliteValue[] {
  const out: SqliteValue[] = [];
  for (const row of rows) for (const v of toParams(row)) out.push(v);
  return out;
}
