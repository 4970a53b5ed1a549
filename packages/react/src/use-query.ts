/**
 * `useQuery`: a live SQL query. Runs the query, then re-runs it (throttled) whenever a table it
 * reads changes — local writes and synced checkpoints alike — through the client's watch API.
 *
 * No flicker: when the SQL or the parameter values change, the previous rows stay in `data`
 * (with `isFetching: true`) until the new result arrives; `isLoading` is true only before the
 * first result. Parameters are compared by value, so an inline `[listId]` is fine.
 *
 * @example
 * const { data: todos, isLoading, error } = useQuery<Todo>('SELECT * FROM todos WHERE list_id = ?', [listId]);
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SqliteValue, SynclineDatabase } from '@syncline/client';
import { useSyncline } from './syncline-context.ts';
import { queryKey } from './query-key.ts';

export interface UseQueryOptions<T> {
  /** When false the query does not run (data stays as it was). Default true. */
  enabled?: boolean;
  /**
   * Delay before a re-run after a change (default 0 here, 30 ms in the client's `watch`). Re-runs
   * never overlap: changes during a run are coalesced into one re-run after it, so bursts of
   * checkpoints cost at most one query at a time. Raise it for expensive queries.
   */
  throttleMs?: number;
  /** Tables to watch instead of the ones SQLite's query plan reads. */
  tables?: readonly string[];
  /** Return true when two results are equal: an equal result does not re-render. */
  comparator?: (previous: T[], next: T[]) => boolean;
}

export interface UseQueryResult<T> {
  /** The latest rows (the previous query's rows while a changed query runs; `[]` before the first). */
  data: T[];
  /** No result yet for any query of this hook. */
  isLoading: boolean;
  /** A query is running whose result is not in `data` yet. */
  isFetching: boolean;
  /** The last run's error (cleared by the next successful run). */
  error: Error | undefined;
  /** Runs the query now (e.g. after a change the watch cannot see). */
  refresh: () => Promise<void>;
}

interface State<T> {
  data: T[];
  isLoading: boolean;
  isFetching: boolean;
  error: Error | undefined;
  /** Which query `data` belongs to. */
  key: string | undefined;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Internal: the live query shared by `useQuery` and `useSuspenseQuery`. */
export function useLiveQuery<T>(db: SynclineDatabase, sql: string, params: readonly SqliteValue[], options: UseQueryOptions<T>, initial?: { key: string; data: T[] }): UseQueryResult<T> {
  const key = queryKey(sql, params);
  const enabled = options.enabled ?? true;
  const [state, setState] = useState<State<T>>(() =>
    initial && initial.key === key
      ? { data: initial.data, isLoading: false, isFetching: false, error: undefined, key }
      : { data: [], isLoading: enabled, isFetching: enabled, error: undefined, key: undefined },
  );
  // The latest arguments, read by effects and refresh without becoming dependencies.
  const latest = useRef({ sql, params, options });
  latest.current = { sql, params, options };

  useEffect(() => {
    if (!enabled) return;
    const { sql: s, params: p, options: o } = latest.current;
    setState((prev) => (prev.key === key && !prev.isFetching ? prev : { ...prev, isFetching: prev.key !== key }));
    const stop = db.watch<T>(
      s,
      p,
      {
        onResult: (rows) => setState({ data: rows, isLoading: false, isFetching: false, error: undefined, key }),
        onError: (e) => setState((prev) => ({ ...prev, isLoading: false, isFetching: false, error: toError(e) })),
      },
      { throttleMs: o.throttleMs ?? 0, ...(o.tables ? { tables: o.tables } : {}), ...(o.comparator ? { comparator: o.comparator } : {}) },
    );
    return stop;
  }, [db, key, enabled]);

  const refresh = useCallback(async (): Promise<void> => {
    const { sql: s, params: p } = latest.current;
    const k = queryKey(s, p);
    try {
      const rows = await db.getAll<T>(s, p);
      setState({ data: rows, isLoading: false, isFetching: false, error: undefined, key: k });
    } catch (e) {
      setState((prev) => ({ ...prev, isLoading: false, isFetching: false, error: toError(e) }));
    }
  }, [db]);

  return { data: state.data, isLoading: state.isLoading, isFetching: state.isFetching || (enabled && state.key !== key), error: state.error, refresh };
}

/** A live query over the database of the nearest `SynclineProvider`. */
export function useQuery<T = Record<string, unknown>>(sql: string, params: readonly SqliteValue[] = [], options: UseQueryOptions<T> = {}): UseQueryResult<T> {
  return useLiveQuery(useSyncline(), sql, params, options);
}
