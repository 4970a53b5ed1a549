/**
 * Value identity for query parameters: `useQuery(sql, [a, b])` re-runs only when the SQL or the
 * parameter values change, not when a new array with the same values is passed on every render.
 */
import type { SqliteValue } from '@syncline/client';

/** A string equal for equal (sql, params): bigint, Uint8Array and null keep their own encodings. */
export function queryKey(sql: string, params: readonly SqliteValue[]): string {
  return JSON.stringify([sql, params.map(encodeValue)]);
}

function encodeValue(v: SqliteValue): unknown {
  if (typeof v === 'bigint') return { n: v.toString() };
  if (v instanceof Uint8Array) return { b: Array.from(v) };
  return v;
}
